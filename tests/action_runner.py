"""Run the composite action in action.yml the way the GitHub Actions runner does, without GitHub.

What the runner does and this reproduces: `${{ }}` expressions over the `inputs`, `steps`,
`github`, `strategy` and `runner` contexts (GitHub's rules: `==` ignores case, a missing
property is ''), `if:` with `success()` / `always()` / `failure()`, each `run:` step as
`bash --noprofile --norc -eo pipefail <script file>`, a fresh `$GITHUB_OUTPUT` and
`$GITHUB_STEP_SUMMARY` per step, `$GITHUB_ENV` lines applied to the steps after the one that
wrote them (`NAME=value` and the `NAME<<DELIMITER` heredoc), `$GITHUB_ACTION_PATH`, and
workflow commands read from stdout. An expression this runner does not know is an error, never
a silent empty string, so the action cannot come to rely on something untested.

`uses:` steps cannot run here (they are JavaScript actions talking to GitHub's services). The
one the action uses, actions/upload-artifact, is replaced by a strict stand-in for the artifact
service: it copies the file and refuses a second artifact of the same name in a run unless
`overwrite` is true, as the real service answers 409.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import yaml
from agents import run_in_group

TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\))|"
    r"(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))"
)
WORKFLOW_COMMAND = re.compile(r"^::([a-z-]+)(?: ([^:]*))?::(.*)$")
UPLOAD_ARTIFACT = "actions/upload-artifact@"


class ExpressionError(Exception):
    """An expression the runner (and so the test) does not understand."""


@dataclass
class Artifacts:
    """The artifact service of one workflow run: name -> each uploaded file's name -> its bytes.
    `path` is one path a line, blank lines skipped, as upload-artifact reads it; files are kept
    by name, as upload-artifact keeps files of one folder."""

    folder: Path
    stored: Dict[str, Dict[str, bytes]] = field(default_factory=dict)

    def upload(self, inputs: Mapping[str, str]) -> str:
        unknown = set(inputs) - {"name", "path", "if-no-files-found", "overwrite", "retention-days"}
        if unknown:
            raise AssertionError(f"upload-artifact got inputs it does not have: {sorted(unknown)}")
        name, paths = (
            inputs["name"],
            [Path(line.strip()) for line in inputs["path"].splitlines() if line.strip()],
        )
        if not name or not paths:
            raise AssertionError("upload-artifact needs a name and a path")
        if name in self.stored and inputs.get("overwrite", "false").lower() != "true":
            raise AssertionError(f"409 Conflict: an artifact named {name!r} already exists in this run")
        files = {path.name: path.read_bytes() for path in paths if path.is_file()}
        if not files:
            if inputs.get("if-no-files-found", "warn") == "error":
                raise AssertionError(f"no file at {inputs['path']}")
            return f"::warning::No files were found with the provided path: {inputs['path']}"
        self.stored[name] = files
        return ""


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure or skipped
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: Dict[str, str] = field(default_factory=dict)


@dataclass
class ActionResult:
    outcome: str
    outputs: Dict[str, str]
    steps: List[StepResult]

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(step.stderr for step in self.steps)

    def commands(self, name: str) -> List[str]:
        """The messages of the workflow commands `::name ...::message` the steps printed."""
        found = []
        for line in self.stdout.splitlines():
            match = WORKFLOW_COMMAND.match(line)
            if match and match.group(1) == name:
                found.append(match.group(3))
        return found


class Job:
    """One job on one runner: its environment, $GITHUB_ENV, job summary and working folder."""

    def __init__(
        self,
        root: Path,
        environ: Mapping[str, str],
        artifacts: Artifacts,
        job_id: str = "agent",
        job_index: int = 0,
        job_total: int = 1,
        workspace: Optional[Path] = None,
        timeout: float = 300,
    ) -> None:
        self.root, self.artifacts, self.timeout = root, artifacts, timeout
        self.temp = root / "runner-temp"
        self.workspace = workspace or root / "workspace"
        for folder in (self.temp, self.workspace):
            folder.mkdir(parents=True, exist_ok=True)
        self.github_env = self.temp / "github-env"
        self.github_env.touch()
        self.summary = ""
        self.strategy = {"job-index": str(job_index), "job-total": str(job_total)}
        self.env = {
            **environ,
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_JOB": job_id,
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ENV": str(self.github_env),
        }
        self.github = {"job": job_id, "workspace": str(self.workspace)}
        self._steps = 0

    def run(
        self, script: str, step_env: Optional[Mapping[str, str]] = None, action_path: Optional[Path] = None
    ) -> StepResult:
        """One `run:` step, as the runner starts it: a script file under bash -eo pipefail."""
        self._steps += 1
        step_dir = self.temp / f"_step{self._steps}"
        step_dir.mkdir()
        script_file, output_file, summary_file = (
            step_dir / "script.sh",
            step_dir / "output",
            step_dir / "summary",
        )
        script_file.write_text(script)
        output_file.touch()
        summary_file.touch()
        env = {
            **self.env,
            **(step_env or {}),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
        }
        if action_path is not None:
            env["GITHUB_ACTION_PATH"] = str(action_path)
        code, stdout, stderr = run_in_group(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            self.workspace,
            env,
            self.timeout,
        )
        self.summary += summary_file.read_text()
        self.env.update(read_command_file(self.github_env))
        return StepResult(
            "run", "success" if code == 0 else "failure", code, stdout, stderr, read_command_file(output_file)
        )

    def use(self, action_dir: Path, inputs: Optional[Mapping[str, str]] = None) -> ActionResult:
        """A `uses:` step of the composite action in action_dir, with these `with:` inputs."""
        action = yaml.safe_load((action_dir / "action.yml").read_text())
        assert action["runs"]["using"] == "composite"
        declared = action.get("inputs", {})
        unknown = set(inputs or {}) - set(declared)
        if unknown:
            raise AssertionError(f"inputs the action does not declare: {sorted(unknown)}")
        values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        values.update(inputs or {})
        steps: Dict[str, Dict[str, Any]] = {}
        results: List[StepResult] = []
        failed = False
        for spec in action["runs"]["steps"]:
            context = self._context(values, steps, action_dir)
            result = self._step(spec, context, action_dir, failed)
            results.append(result)
            failed = failed or result.outcome == "failure"
            if "id" in spec:
                steps[spec["id"]] = {
                    "outputs": result.outputs,
                    "outcome": result.outcome,
                    "conclusion": result.outcome,
                }
        context = self._context(values, steps, action_dir)
        outputs = {name: render(spec["value"], context) for name, spec in action.get("outputs", {}).items()}
        return ActionResult("failure" if failed else "success", outputs, results)

    def _context(
        self, inputs: Mapping[str, str], steps: Mapping[str, Any], action_dir: Path
    ) -> Dict[str, Any]:
        return {
            "inputs": dict(inputs),
            "steps": dict(steps),
            "strategy": self.strategy,
            "github": {**self.github, "action_path": str(action_dir)},
            "runner": {"temp": str(self.temp)},
        }

    def _step(
        self, spec: Mapping[str, Any], context: Dict[str, Any], action_dir: Path, failed: bool
    ) -> StepResult:
        name = str(spec.get("name", spec.get("id", "step")))
        condition = str(spec.get("if", "success()"))
        if not truthy(evaluate(strip_template(condition), context, failed)):
            return StepResult(name, "skipped")
        step_env = {key: render(str(value), context) for key, value in spec.get("env", {}).items()}
        if "uses" in spec:
            return self._uses(name, spec, context)
        assert spec.get("shell") == "bash", f"step {name!r}: run steps of a composite action need shell: bash"
        result = self.run(render(spec["run"], context), step_env, action_dir)
        result.name = name
        return result

    def _uses(self, name: str, spec: Mapping[str, Any], context: Dict[str, Any]) -> StepResult:
        if not spec["uses"].startswith(UPLOAD_ARTIFACT):
            raise AssertionError(f"no stand-in for {spec['uses']}")
        inputs = {
            key: render(str(value).lower() if isinstance(value, bool) else str(value), context)
            for key, value in spec.get("with", {}).items()
        }
        return StepResult(name, "success", stdout=self.artifacts.upload(inputs))


def read_command_file(path: Path) -> Dict[str, str]:
    """$GITHUB_OUTPUT / $GITHUB_ENV: `NAME=value` lines and `NAME<<DELIMITER` heredocs."""
    values: Dict[str, str] = {}
    lines = path.read_text().split("\n")
    while lines:
        line = lines.pop(0)
        if not line:
            continue
        heredoc = re.match(r"^([^=]+)<<(.+)$", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            body = []
            while lines[0] != delimiter:  # IndexError: an unterminated heredoc, which fails the runner too
                body.append(lines.pop(0))
            lines.pop(0)
            values[name] = "\n".join(body)
        else:
            name, sep, value = line.partition("=")
            if not sep:
                raise AssertionError(f"{path.name}: invalid line {line!r}")
            values[name] = value
    return values


def strip_template(condition: str) -> str:
    """`if:` is an expression with or without the ${{ }} around it."""
    match = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", condition, re.S)
    return match.group(1) if match else condition


def render(text: str, context: Mapping[str, Any]) -> str:
    return TEMPLATE.sub(lambda m: as_string(evaluate(m.group(1), context, False)), text)


def as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def truthy(value: Any) -> bool:
    return value not in (None, False, "", 0)


def evaluate(expression: str, context: Mapping[str, Any], failed: bool) -> Any:
    tokens = tokenize(expression)
    value, rest = _or(tokens, context, failed)
    if rest:
        raise ExpressionError(f"unexpected {rest[0][1]!r} in {expression!r}")
    return value


Tokens = List[Tuple[str, str]]
Parse = Tuple[Any, Tokens]


def tokenize(expression: str) -> Tokens:
    tokens, position = [], 0
    while expression[position:].strip():
        match = TOKEN.match(expression, position)
        if not match:
            raise ExpressionError(f"cannot read {expression[position:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _binary(
    operators: Tuple[str, ...],
    operand: Callable[[Tokens, Mapping[str, Any], bool], Parse],
    combine: Callable[[str, Any, Any], Any],
) -> Callable[[Tokens, Mapping[str, Any], bool], Parse]:
    def parse(tokens: Tokens, context: Mapping[str, Any], failed: bool) -> Parse:
        value, tokens = operand(tokens, context, failed)
        while tokens and tokens[0][0] == "op" and tokens[0][1] in operators:
            operator = tokens[0][1]
            right, tokens = operand(tokens[1:], context, failed)
            value = combine(operator, value, right)
        return value, tokens

    return parse


def _compare(operator: str, left: Any, right: Any) -> bool:
    """Strings compare ignoring case, null as ''; other mixes are coerced by rules not modelled here."""
    left, right = ("" if left is None else left), ("" if right is None else right)
    if type(left) is not type(right):
        raise ExpressionError(f"comparing {left!r} with {right!r}")
    equal = left.lower() == right.lower() if isinstance(left, str) else left == right
    return equal if operator == "==" else not equal


def _unary(tokens: Tokens, context: Mapping[str, Any], failed: bool) -> Parse:
    if not tokens:
        raise ExpressionError("expression ends too soon")
    kind, text = tokens[0]
    if (kind, text) == ("op", "!"):
        value, rest = _unary(tokens[1:], context, failed)
        return not truthy(value), rest
    if (kind, text) == ("op", "("):
        value, rest = _or(tokens[1:], context, failed)
        if not rest or rest[0] != ("op", ")"):
            raise ExpressionError("missing )")
        return value, rest[1:]
    if kind == "str":
        return text[1:-1].replace("''", "'"), tokens[1:]
    if kind == "num":
        return float(text), tokens[1:]
    if kind == "name":
        if tokens[1:3] == [("op", "("), ("op", ")")]:
            return status_function(text, failed), tokens[3:]
        return lookup(text, context), tokens[1:]
    raise ExpressionError(f"unexpected {text!r}")


def status_function(name: str, failed: bool) -> bool:
    functions = {"always": True, "success": not failed, "failure": failed, "cancelled": False}
    if name not in functions:
        raise ExpressionError(f"unknown function {name}()")
    return functions[name]


def lookup(path: str, context: Mapping[str, Any]) -> Any:
    if path in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[path]
    head, *rest = path.split(".")
    if head not in context:
        raise ExpressionError(f"unknown context {head!r}")
    value: Any = context[head]
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None  # a missing property is null
    return value


_and = _binary(("&&",), _binary(("==", "!="), _unary, _compare), lambda _op, a, b: b if truthy(a) else a)
_or = _binary(("||",), _and, lambda _op, a, b: a if truthy(a) else b)


def action_copy(source: Path, target: Path, files: Tuple[str, ...]) -> Path:
    """The action as `uses: owner/beacon@v1` checks it out: action.yml beside beacon.py."""
    target.mkdir(parents=True)
    for name in files:
        source_path = source / name
        if source_path.is_dir():
            shutil.copytree(source_path, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source_path, target / name)
    return target


def without_python_path(environ: Mapping[str, str]) -> Dict[str, str]:
    """A runner's environment: nothing that would let beacon import from the test checkout."""
    return {k: v for k, v in environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


__all__ = [
    "ActionResult",
    "Artifacts",
    "ExpressionError",
    "Job",
    "StepResult",
    "action_copy",
    "evaluate",
    "read_command_file",
    "without_python_path",
]
