"""The capture's context: harness names, paths and private files, the CI run's metadata, and
who and where a capture runs (stamped on every event).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shlex
import shutil
import socket
import stat
import sys
import tempfile
import time
from typing import TYPE_CHECKING, BinaryIO, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence

from beacon_ci.errors import BeaconError, UsageError

if TYPE_CHECKING:
    from beacon_protect.custom import CustomRules

# How agents may encode their export (--otlp-protocol); agents/ maps each to an agent's own word.
OTLP_PROTOCOLS = ("protobuf", "json")
# After the child exits, the most beacon waits for what is still arriving (a grandchild that
# keeps exporting must not hold beacon forever).
DRAIN_TIMEOUT = 10.0
# The same when beacon itself was signalled (a cancelled job): the runner kills what is still
# running a few seconds later, and what was acknowledged must be written by then.
SIGNALLED_DRAIN_TIMEOUT = 1.0


HARNESSES = ("claude", "codex", "gemini", "copilot")
# What events call each harness (harness.name); either name picks it in --harness.
HARNESS_EVENT_NAMES = {
    "claude": "claude_code",
    "codex": "codex_cli",
    "gemini": "gemini_cli",
    "copilot": "copilot_cli",
}
HARNESS_ALIASES = {
    **{name: name for name in HARNESSES},
    **{event_name: name for name, event_name in HARNESS_EVENT_NAMES.items()},
}
_HARNESS_CHOICES = ", ".join(HARNESSES)


def parse_harnesses(text: str) -> List[str]:
    """`claude,codex_cli` -> ["claude", "codex"]; `auto` -> [] (decided later from the command)."""
    names: List[str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part == "auto":
            return []
        if part not in HARNESS_ALIASES:
            raise UsageError(f"unknown harness {part!r}; use {_HARNESS_CHOICES} or auto")
        if HARNESS_ALIASES[part] not in names:
            names.append(HARNESS_ALIASES[part])
    if not names and text.strip().lower() != "auto":
        raise UsageError(f"--harness needs at least one of {_HARNESS_CHOICES} or auto")
    return names


def harnesses_for_command(command: Sequence[str]) -> List[str]:
    """The agent a command runs, by its program name, also when a shell runs it as a one-command
    script (the action runs `bash -c "$command"`); any other program gets every harness."""
    program = os.path.basename(_program_of(command)).lower()
    for name in HARNESSES:
        if program == name or program.startswith(name + "-") or program.startswith(name + "."):
            return [name]
    return list(HARNESSES)


_SHELLS = frozenset({"bash", "sh", "dash", "zsh"})
_SHELL_ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")  # VAR=value before a command


def _program_of(command: Sequence[str]) -> str:
    """command[0], or the program of `sh -c SCRIPT` when SCRIPT is one simple command (leading
    VAR=value words skipped). A pipeline, a list or several lines could run any agent: the shell."""
    if (
        len(command) < 3
        or os.path.basename(command[0]) not in _SHELLS
        or command[1] != "-c"
        or "\n" in command[2]
    ):
        return command[0] if command else ""
    lexer = shlex.shlex(command[2], posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: the shell will say so
        return command[0]
    if any(word and all(c in lexer.punctuation_chars for c in word) for word in words):
        return command[0]
    programs = [word for word in words if not _SHELL_ASSIGNMENT_RE.match(word)]
    return programs[0] if programs else command[0]


class CapturePaths(NamedTuple):
    base_dir: str
    log_path: str
    state_path: str


def default_base_dir(environ: Mapping[str, str]) -> str:
    """$RUNNER_TEMP/beacon on GitHub Actions; else a per-user folder in the system temp dir."""
    runner_temp = environ.get("RUNNER_TEMP", "").strip()
    if runner_temp:
        return os.path.join(runner_temp, "beacon")
    uid = os.getuid() if hasattr(os, "getuid") else environ.get("USERNAME", "user")
    return os.path.join(tempfile.gettempdir(), f"beacon-{uid}")


LOG_PATH_VARIABLE = "BEACON_CI_LOG_PATH"  # ci start exports both, for the commands that follow
STATE_PATH_VARIABLE = "BEACON_CI_STATE_PATH"


def resolve_paths(
    environ: Mapping[str, str],
    base_dir: Optional[str] = None,
    log_path: Optional[str] = None,
    state_path: Optional[str] = None,
) -> CapturePaths:
    """Each path from its flag, else its variable (what `ci start` exported), else the base
    directory. The base directory is beacon's own: never the log's folder, which is the user's
    and may be uploaded whole."""
    base = os.path.abspath(base_dir or default_base_dir(environ))
    log_path = log_path or environ.get(LOG_PATH_VARIABLE) or None
    state_path = state_path or environ.get(STATE_PATH_VARIABLE) or None
    return CapturePaths(
        base_dir=base,
        log_path=os.path.abspath(log_path) if log_path else os.path.join(base, "runtime.jsonl"),
        state_path=os.path.abspath(state_path) if state_path else os.path.join(base, "session.json"),
    )


def private_dir(path: str, adopt: bool = False) -> str:
    """Create `path` 0700 if it is missing; refuse one that is not a directory or that another
    user owns (a shared temp dir). `adopt` is for beacon's own folders: one that exists with
    wider permissions is narrowed to 0700. A folder of the user's (the log's) keeps its mode."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise BeaconError(f"cannot create directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BeaconError(f"{path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise BeaconError(f"{path} belongs to another user; pass --log-path or --base-dir")
    if adopt and stat.S_IMODE(info.st_mode) & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            raise BeaconError(f"cannot make {path} private (0700): {exc.strerror}") from None
    return path


def private_temp_dir(environ: Mapping[str, str], prefix: str) -> str:
    """A new 0700 directory for files that hold a token or reach credentials (a generated agent
    home): in $RUNNER_TEMP (emptied after every job) or the system temp dir, never beside the
    log, whose folder a user may upload. Removed with remove_private_temp_dir."""
    runner_temp = environ.get("RUNNER_TEMP", "").strip()
    parent = runner_temp if runner_temp and os.path.isdir(runner_temp) else None
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=parent)
    except OSError as exc:
        raise BeaconError(
            f"cannot create a private directory in {parent or tempfile.gettempdir()}: {exc.strerror}"
        ) from None


def codex_home_prefix(capture_id: str) -> str:
    """The name a capture's generated CODEX_HOME begins with: what may be removed as one."""
    return f"beacon-codex-{capture_id}-"


def claude_settings_prefix(capture_id: str) -> str:
    """The same for the folder of a capture's `claude --settings` file."""
    return f"beacon-claude-{capture_id}-"


def remove_private_temp_dir(path: Optional[str], prefix: str) -> None:
    """Remove what private_temp_dir made with this prefix; anything else (a path a state file
    was edited to name, a symlink, another user's folder) is left alone. Links inside are removed,
    never followed."""
    if not path or not os.path.basename(path).startswith(prefix):
        return
    try:
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid()):
        shutil.rmtree(path, ignore_errors=True)


def detect_run(environ: Mapping[str, str]) -> Dict[str, str]:
    """CI run metadata for the `run` object (GitHub Actions in detail, other CI by name)."""
    get = lambda name: environ.get(name, "").strip()  # noqa: E731
    if get("GITHUB_ACTIONS") == "true":
        run = {
            "provider": "github_actions",
            "run_id": get("GITHUB_RUN_ID"),
            "run_attempt": get("GITHUB_RUN_ATTEMPT"),
            "workflow": get("GITHUB_WORKFLOW"),
            "workflow_ref": get("GITHUB_WORKFLOW_REF"),  # the workflow file: where findings point
            "job": get("GITHUB_JOB"),
            "event_name": get("GITHUB_EVENT_NAME"),
            "commit": get("GITHUB_SHA"),
            "repository": get("GITHUB_REPOSITORY"),
            "branch": get("GITHUB_HEAD_REF") or get("GITHUB_REF_NAME"),
            "actor": get("GITHUB_ACTOR"),
        }
        ref = get("GITHUB_REF")
        match = re.match(r"refs/pull/(\d+)/", ref)
        if match and run["event_name"] in ("pull_request", "pull_request_target"):
            run["pr"], run["pr_number"] = ref, match.group(1)
        server, repo, run_id = get("GITHUB_SERVER_URL"), run["repository"], run["run_id"]
        if server and repo and run_id:
            run["url"] = f"{server}/{repo}/actions/runs/{run_id}"
        return {k: v for k, v in run.items() if v}
    for variable, provider in (
        ("GITLAB_CI", "gitlab"),
        ("BUILDKITE", "buildkite"),
        ("JENKINS_URL", "jenkins"),
        ("CIRCLECI", "circleci"),
        ("CI", "ci"),
    ):
        if get(variable):
            return {"provider": provider}
    return {}


def new_capture_id() -> str:
    return secrets.token_hex(8)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BeaconError(f"cannot read {path}: {exc.strerror}") from None


def write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


@contextlib.contextmanager
def private_replacement(path: str) -> Iterator[BinaryIO]:
    """A private (0600) file that takes `path`'s place only once written whole: written beside it
    under a temporary name, renamed over it at the end, removed when writing fails. A reader of
    the old file (a browser showing it) never sees half a new one."""
    fd, temporary = tempfile.mkstemp(
        prefix=".beacon-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path))
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


_OS_NAMES = {"win32": "windows", "cygwin": "windows", "darwin": "darwin"}


class CaptureContext(NamedTuple):
    """Who captures: stamped on every event of this capture."""

    capture_id: str
    mode: str  # exec | session
    run: Dict[str, str]
    hostname: str
    os_name: str
    user: str
    traceparent: str  # the W3C trace context the agent runs in (capture_traceparent)

    @classmethod
    def detect(
        cls, environ: Mapping[str, str], capture_id: str, mode: str, traceparent: Optional[str] = None
    ) -> CaptureContext:
        return cls(
            capture_id,
            mode,
            detect_run(environ),
            socket.gethostname(),
            _OS_NAMES.get(sys.platform, sys.platform.rstrip("0123456789") or "unknown"),
            environ.get("USER") or environ.get("USERNAME") or "",
            traceparent or capture_traceparent(environ),
        )

    @property
    def trace_id(self) -> str:
        return self.traceparent.split("-")[1]


# version 00 of W3C Trace Context: 00-<trace id>-<parent span id>-<flags>, lowercase hex.
_TRACEPARENT_RE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def capture_traceparent(environ: Mapping[str, str]) -> str:
    """The trace a capture's agent runs in. A TRACEPARENT the job already has (an instrumented
    runner or workflow) is kept, so the agent's spans join the CI run's own trace; else a new
    trace of the capture's own. Sampled either way: beacon needs the agent's spans, and an agent
    drops the spans of a trace its parent did not sample."""
    match = _TRACEPARENT_RE.fullmatch(environ.get("TRACEPARENT", "").strip())
    if match and match.group(1).strip("0") and match.group(2).strip("0"):  # all-zero ids are invalid
        return f"00-{match.group(1)}-{match.group(2)}-01"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def rfc3339_ms(ns: int) -> str:
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return _utc_seconds(seconds) + f".{rest // 1_000_000:03d}Z"


@functools.lru_cache(maxsize=256)  # an agent's events share their seconds: format each once
def _utc_seconds(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


REDACT_RULES_VARIABLE = "BEACON_CI_REDACT_RULES"


def redaction_rules_path(environ: Mapping[str, str], flag: Optional[str]) -> Optional[str]:
    """Where the user's own redaction rules are: --redact-rules, else BEACON_CI_REDACT_RULES."""
    return flag or environ.get(REDACT_RULES_VARIABLE) or None


def redaction_rules(path: Optional[str]) -> Optional[CustomRules]:
    """The user's own redaction rules, read and checked before anything runs: a file that
    cannot be used is a usage error."""
    if path is None:
        return None
    from beacon_protect.custom import RulesError, load_rules

    try:
        return load_rules(path)
    except RulesError as exc:
        raise UsageError(str(exc)) from None
