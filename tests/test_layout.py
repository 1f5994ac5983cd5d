"""The house keeps its layers: tools/check_imports.py passes on the tree and fails on each kind
of import the layout forbids, planted in a copy of the runtime."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
try:
    from check_imports import layer_problems, runtime_files
finally:
    sys.path.remove(str(ROOT / "tools"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the runtime: beacon.py and the beacon_* packages."""
    shutil.copy2(ROOT / "beacon.py", tmp_path / "beacon.py")
    for package in sorted(p.parent for p in ROOT.glob("beacon_*/__init__.py")):
        shutil.copytree(package, tmp_path / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def plant(tree: Path, module: str, code: str) -> List[str]:
    """Append `code` to a module of the copy; the problems the check then finds."""
    with open(tree / module, "a", encoding="utf-8") as handle:
        handle.write("\n" + code + "\n")
    return layer_problems(tree)


def test_the_tree_keeps_its_layers() -> None:
    assert layer_problems(ROOT) == []


def test_the_copy_is_the_whole_runtime(tree: Path) -> None:
    assert [p.relative_to(tree) for p in runtime_files(tree)] == [
        p.relative_to(ROOT) for p in runtime_files()
    ]
    assert layer_problems(tree) == []


@pytest.mark.parametrize(
    "module, code, why",
    [
        (
            "beacon_ci/context.py",
            "from beacon_ci.capture import Capture",
            "imports beacon_ci.capture: an upward import (beacon_ci.context is below beacon_ci.capture)",
        ),
        (
            "beacon_ci/agents/fields.py",
            "from ..verdict import Outcome",
            "imports beacon_ci.verdict: an upward import (beacon_ci.agents is below beacon_ci.verdict)",
        ),
        (
            "beacon_ci/report/text.py",
            "from beacon_ci import github",
            "imports beacon_ci.github: an upward import (beacon_ci.report is below beacon_ci.github)",
        ),
        (
            "beacon_ci/findings/judge.py",
            "from beacon_ci.verdict import Outcome",
            "imports beacon_ci.verdict: an upward import (beacon_ci.findings is below beacon_ci.verdict)",
        ),
        ("beacon_protect/text.py", "import beacon_ci.errors", "a library never imports beacon_ci"),
        ("beacon_otlp/shape.py", "from beacon_ci import __version__", "a library never imports beacon_ci"),
        (
            "beacon_ci/agents/fields.py",
            "from beacon_protect import REDACTED",
            "the agents never import beacon_protect (capture combines them)",
        ),
        ("beacon_ci/exec.py", "import argparse", "only beacon_ci.cli imports argparse"),
        (
            "beacon_ci/verdict.py",
            "from beacon_ci.export.upload import upload",
            "an export backend is imported inside a function, when an export is asked for",
        ),
        (
            "beacon_ci/cli.py",
            "from beacon_ci.exec import run_exec",
            "the CLI imports a command's modules inside its _cmd_ function",
        ),
    ],
)
def test_a_planted_import_is_refused(tree: Path, module: str, code: str, why: str) -> None:
    problems = plant(tree, module, code)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{module}:") and problems[0].endswith(why)


@pytest.mark.parametrize(
    "module, code",
    [
        ("beacon_ci/verdict.py", "def _later():\n    from beacon_ci.export.upload import upload"),
        ("beacon_ci/cli.py", "def _later():\n    from beacon_ci.exec import run_exec"),
        ("beacon_ci/context.py", "if TYPE_CHECKING:\n    from beacon_ci.capture import Capture"),
        ("beacon_ci/export/forward.py", "from beacon_ci.export.upload import upload"),
        ("beacon_ci/capture.py", "from beacon_protect import REDACTED"),
    ],
)
def test_what_the_layout_allows_passes(tree: Path, module: str, code: str) -> None:
    assert plant(tree, module, code) == []
