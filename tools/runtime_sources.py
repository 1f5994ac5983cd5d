"""The runtime's Python files, as pyproject.toml's [tool.setuptools] table lists them.

The wheel, the zipapp (tools/build_pyz.py) and the quality gates (tools/check.sh) all take
this one list, so a module added to pyproject.toml is shipped and checked everywhere at once.

    python3 tools/runtime_sources.py    # their paths relative to the repository, one a line

A development tool: it needs Python 3.11 or newer (tomllib); the runtime itself needs 3.8.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:
    sys.exit("tools/runtime_sources.py needs Python 3.11 or newer (for tomllib)")

ROOT = Path(__file__).resolve().parent.parent


def setuptools_table(root: Path = ROOT) -> dict[str, Any]:
    with open(root / "pyproject.toml", "rb") as pyproject:
        table: dict[str, Any] = tomllib.load(pyproject)["tool"]["setuptools"]
    return table


def top_level_names(root: Path = ROOT) -> set[str]:
    """The names the runtime's own modules and packages are imported by."""
    table = setuptools_table(root)
    return set(table.get("py-modules", [])) | {package.split(".")[0] for package in table.get("packages", [])}


def runtime_sources(root: Path = ROOT) -> list[str]:
    """Sorted POSIX paths relative to root: each py-module, and the modules of each listed package.

    As for setuptools, a subpackage ships only when it is listed itself.
    """
    table = setuptools_table(root)
    sources = [f"{module}.py" for module in table.get("py-modules", [])]
    for package in table.get("packages", []):
        folder = package.replace(".", "/")
        sources += [f"{folder}/{path.name}" for path in (root / folder).glob("*.py")]
    return sorted(sources)


if __name__ == "__main__":
    print("\n".join(runtime_sources()))
