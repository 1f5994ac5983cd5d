"""Install the real agent CLIs the end-to-end tests drive (npm registry, cached in .cache/agents).

tools/test.sh runs this before the suite, because the suite itself runs in a network
namespace with only loopback, where the registry cannot be reached.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def main() -> int:
    sys.path.insert(0, str(TESTS))
    for module_path in sorted((TESTS / "agents").glob("*.py")):
        if module_path.name.startswith("_"):  # the package and its shared helpers, not agents
            continue
        module = importlib.import_module(f"agents.{module_path.stem}")
        start = time.monotonic()
        executable = module.install()
        print(f"{module_path.stem} {module.VERSION}: {executable} ({time.monotonic() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
