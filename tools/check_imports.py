"""Keep the house as drawn: fail when the runtime imports what its layers forbid.

    python3 tools/check_imports.py      # beacon.py and every module of the beacon_* packages

Two kinds of rule:
- Only the standard library (Python 3.10+ to check: sys.stdlib_module_names). beacon runs on a
  bare runner's Python, so a third-party import would break it there. The one exception is an
  upload backend the user asks for by name (--upload s3|gcs): its SDK may be imported inside a
  function, which runs only when asked, never at module level.
- The layers (LAYERS below, bottom up; the README's "Layout"): no module imports one of a
  higher layer; the libraries beacon_otlp and beacon_protect never import beacon_ci; the agents
  never import beacon_protect (capture combines them); only the CLI imports argparse; the
  export backends are imported inside functions only, and the CLI imports at module level
  nothing above its bottom layers, so that a command loads only what it needs.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent

# beacon_ci's rooms, bottom up: a module may import its own layer and those below.
LAYERS = (
    ("beacon_otlp", "beacon_protect"),
    ("beacon_ci", "beacon_ci.errors", "beacon_ci.environment", "beacon_ci.report", "beacon_ci.findings"),
    ("beacon_ci.context", "beacon_ci.process", "beacon_ci.github", "beacon_ci.export"),
    ("beacon_ci.agents", "beacon_ci.eventlog"),
    ("beacon_ci.sink", "beacon_ci.writer_process"),
    ("beacon_ci.capture", "beacon_ci.verdict"),
    ("beacon_ci.exec", "beacon_ci.session", "beacon_ci.selftest", "beacon_ci.review"),
    ("beacon_ci.cli",),
    ("beacon",),
)
LIBRARIES = ("beacon_otlp", "beacon_protect")
LAZY_BACKENDS = ("beacon_ci.export.upload", "beacon_ci.export.forward")
OPTIONAL_IN_FUNCTIONS = ("boto3", "botocore", "google.cloud.storage", "google.api_core", "google.auth")
CLI_EAGER_LAYER = 2  # the highest layer the CLI imports at module level (context's)


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def room(module: str) -> Tuple[int, str]:
    """(layer index, room) of one of our modules: the longest room name it is within."""
    best: Tuple[int, str] = (-1, "")
    for index, rooms in enumerate(LAYERS):
        for name in rooms:
            if within(module, name) and len(name) > len(best[1]):
                best = (index, name)
    return best


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_files(root: Path = ROOT) -> List[Path]:
    """beacon.py and every module of the beacon_* packages."""
    packages = sorted(p.parent for p in root.glob("beacon_*/__init__.py"))
    return [root / "beacon.py", *(f for p in packages for f in sorted(p.rglob("*.py")))]


def imports(tree: ast.Module, package: str, known: set) -> Iterator[Tuple[int, str, bool]]:
    """(line, module, whether inside a function) for each import. `from pkg import name` is
    pkg.name, except from one of our packages where name is not a module (then pkg). What
    `if TYPE_CHECKING:` imports is skipped: it never runs."""

    def walk(nodes: List[ast.stmt], in_function: bool) -> Iterator[Tuple[int, str, bool]]:
        for node in nodes:
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                yield from walk(node.orelse, in_function)
                continue
            if isinstance(node, ast.Import):
                yield from ((node.lineno, alias.name, in_function) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importing package
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                ours = base.split(".")[0].startswith("beacon")
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    yield node.lineno, base if ours and full not in known else full, in_function
            inner = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from walk([c for c in children if isinstance(c, ast.AST)], in_function or inner)

    yield from walk(tree.body, False)


def layer_problem(importer: str, imported: str, in_function: bool) -> Optional[str]:
    """Why `importer` may not import `imported` (both ours or not), or None."""
    if within(imported, "argparse") and importer != "beacon_ci.cli":
        return "only beacon_ci.cli imports argparse"
    source, target = room(importer), room(imported)
    if target[0] < 0:
        return None  # not one of ours
    if importer.startswith(LIBRARIES) and within(imported, "beacon_ci"):
        return "a library never imports beacon_ci"
    if within(importer, "beacon_ci.agents") and within(imported, "beacon_protect"):
        return "the agents never import beacon_protect (capture combines them)"
    if any(within(imported, lazy) for lazy in LAZY_BACKENDS) and not in_function:
        if source[1] != "beacon_ci.export":
            return "an export backend is imported inside a function, when an export is asked for"
    if importer == "beacon_ci.cli" and not in_function and target[0] > CLI_EAGER_LAYER:
        return "the CLI imports a command's modules inside its _cmd_ function"
    if target[0] > source[0]:
        return f"an upward import ({source[1]} is below {target[1]})"
    return None


def all_imports(root: Path) -> Iterator[Tuple[str, str, int, str, bool]]:
    """(file, importing module, line, imported module, inside a function) across the runtime."""
    files = runtime_files(root)
    known = {module_name(root, path) for path in files}
    for path in files:
        importer = module_name(root, path)
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for line, imported, in_function in imports(tree, package, known):
            yield str(path.relative_to(root)), importer, line, imported, in_function


def layer_problems(root: Path = ROOT) -> List[str]:
    return [
        f"{file}:{line}: imports {imported}: {why}"
        for file, importer, line, imported, in_function in all_imports(root)
        for why in [layer_problem(importer, imported, in_function)]
        if why
    ]


def stdlib_problems(root: Path = ROOT) -> List[str]:
    """Imports that are neither standard library, nor our own, nor an optional backend imported
    inside a function (Python 3.10+: sys.stdlib_module_names)."""
    ours = {"beacon"} | {path.parent.name for path in root.glob("beacon_*/__init__.py")}
    allowed = set(sys.stdlib_module_names) | ours
    return [
        f"{file}:{line}: imports {imported}, which is not in the standard library"
        for file, _, line, imported, in_function in all_imports(root)
        if imported.split(".")[0] not in allowed
        and not (in_function and any(within(imported, name) for name in OPTIONAL_IN_FUNCTIONS))
    ]


def main() -> int:
    problems = layer_problems() + stdlib_problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
