"""Static checks of the GitHub Action and the README's workflows, run by tools/test.sh:

- zizmor (the GitHub Actions security linter) on action.yml, with its auditor persona;
- action.yml against the schema of action metadata, and every workflow in the README against
  the workflow schema (and the GitLab CI one against GitLab's), via check-jsonschema's
  vendored schemas (no network);
- shellcheck on every `run:` script of action.yml.

    python tools/check_action.py        # exits non-zero on the first finding, after printing it
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the tools are installed beside this interpreter


def run(*argv: str) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True)


def readme_yaml_blocks() -> List[str]:
    return re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def main() -> int:
    action = ROOT / "action.yml"
    run(str(BIN / "zizmor"), "--offline", "--persona=auditor", str(action))
    run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(action))
    with tempfile.TemporaryDirectory() as tmp:
        workflows, gitlab = [], []
        for number, block in enumerate(readme_yaml_blocks()):
            path = Path(tmp) / f"readme-{number}.yml"
            path.write_text(block)
            (workflows if "jobs" in yaml.safe_load(block) else gitlab).append(str(path))
        run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows)
        run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *gitlab)
        for step in yaml.safe_load(action.read_text())["runs"]["steps"]:
            if "run" in step:
                script = Path(tmp) / re.sub(r"\W+", "-", step["name"])
                script.write_text("#!/usr/bin/env bash\n" + step["run"])
                run(str(BIN / "shellcheck"), "--severity=style", str(script))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        sys.exit(f"tools/check_action.py: {exc.cmd[0]} found problems (above)")
