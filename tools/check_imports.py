"""Fail when the runtime imports anything but the standard library and its own modules.

    python3 tools/check_imports.py      # the runtime modules pyproject.toml lists

beacon runs on a bare runner's Python, so a third-party import would break it there. The one
exception is an upload backend the user asks for by name (--upload s3|gcs): its SDK may be
imported inside a function, which runs only when asked, never at module level.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator

from runtime_sources import ROOT, runtime_sources, top_level_names

OPTIONAL_IN_FUNCTIONS = ("boto3", "botocore", "google.cloud.storage", "google.api_core", "google.auth")


def imported_modules(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Each dotted name the statement imports; `from a import b` yields a.b (b may be a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif node.level == 0 and node.module:  # relative imports stay inside the project's own package
        yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_optional(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in OPTIONAL_IN_FUNCTIONS)


class ImportChecker(ast.NodeVisitor):
    """Collects the imports that are neither standard library, nor our own, nor an optional
    backend imported inside a function."""

    def __init__(self, allowed_top_level: set[str]) -> None:
        self.allowed_top_level = allowed_top_level
        self.function_depth = 0
        self.violations: list[tuple[int, str]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for module in imported_modules(node):
            if module.split(".")[0] in self.allowed_top_level:
                continue
            if self.function_depth and is_optional(module):
                continue
            self.violations.append((node.lineno, module))

    visit_ImportFrom = visit_Import


def violations(path: Path, allowed_top_level: set[str]) -> list[tuple[int, str]]:
    checker = ImportChecker(allowed_top_level)
    checker.visit(ast.parse(path.read_bytes(), filename=str(path)))
    return checker.violations


def main() -> int:
    allowed = set(sys.stdlib_module_names) | top_level_names()
    found = [
        (name, line, module)
        for name in runtime_sources()
        for line, module in violations(ROOT / name, allowed)
    ]
    for name, line, module in found:
        print(f"{name}:{line}: imports {module}, which is not in the standard library", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
