#!/usr/bin/env python3
"""beacon: record what AI coding agents (Claude Code, Codex CLI, Gemini CLI) do in a CI job.

The pipeline: receive (OTLP/HTTP on loopback) -> decode -> normalize -> protect -> write ->
validate -> export -> report. The OTLP wire layer lives in beacon_otlp/; this file holds the
command line and everything that knows about agents. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import errno
import gzip
import http.client
import json
import math
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    TextIO,
    Tuple,
)

try:
    import beacon_otlp
except ImportError:  # `python3 -I beacon.py` does not put the script's folder on sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import beacon_otlp
from beacon_otlp import JSON, PROTOBUF, TOKEN_HEADER, Batch, Receiver

__version__ = "0.1.0"

# --- errors and exit codes -----------------------------------------------------------

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_EXPORT = 4


class BeaconError(Exception):
    """An error beacon reports as one `beacon:` line and maps to an exit code."""

    exit_code = EXIT_ERROR


class UsageError(BeaconError):
    exit_code = EXIT_USAGE


# --- the environment a command runs in (injectable for tests) -----------------------


class Environment:
    """What a command may read from the outside world: variables, streams and clocks."""

    def __init__(
        self,
        environ: Optional[Mapping[str, str]] = None,
        stdout: Optional[TextIO] = None,
        stderr: Optional[TextIO] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.environ: Dict[str, str] = dict(os.environ if environ is None else environ)
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.clock = clock

    def say(self, message: str) -> None:
        """A human message: stderr, prefixed, so stdout stays the child's and --json's."""
        print(f"beacon: {message}", file=self.stderr, flush=True)


# --- capture context: paths, ids, CI run metadata --------------------------------------

HARNESSES = ("claude", "codex", "gemini")
HARNESS_ALIASES = {
    "claude": "claude",
    "claude_code": "claude",
    "codex": "codex",
    "codex_cli": "codex",
    "gemini": "gemini",
    "gemini_cli": "gemini",
}
HARNESS_EVENT_NAMES = {"claude": "claude_code", "codex": "codex_cli", "gemini": "gemini_cli"}


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
            raise UsageError(f"unknown harness {part!r}; use claude, codex, gemini or auto")
        if HARNESS_ALIASES[part] not in names:
            names.append(HARNESS_ALIASES[part])
    if not names and text.strip().lower() != "auto":
        raise UsageError("--harness needs at least one of claude, codex, gemini or auto")
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


def resolve_paths(
    environ: Mapping[str, str],
    base_dir: Optional[str] = None,
    log_path: Optional[str] = None,
    state_path: Optional[str] = None,
) -> CapturePaths:
    base = os.path.abspath(
        base_dir or (os.path.dirname(os.path.abspath(log_path)) if log_path else default_base_dir(environ))
    )
    return CapturePaths(
        base_dir=base,
        log_path=os.path.abspath(log_path) if log_path else os.path.join(base, "runtime.jsonl"),
        state_path=os.path.abspath(state_path) if state_path else os.path.join(base, "session.json"),
    )


def private_dir(path: str) -> str:
    """Create `path` (0700) if needed; refuse one that another user owns (a shared temp dir)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise BeaconError(f"cannot create directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BeaconError(f"{path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise BeaconError(f"{path} belongs to another user; pass --log-path or --base-dir")
    return path


def detect_run(environ: Mapping[str, str]) -> Dict[str, str]:
    """CI run metadata for the `run` object (GitHub Actions in detail, other CI by name)."""
    get = lambda name: environ.get(name, "").strip()  # noqa: E731
    if get("GITHUB_ACTIONS") == "true":
        run = {
            "provider": "github_actions",
            "run_id": get("GITHUB_RUN_ID"),
            "run_attempt": get("GITHUB_RUN_ATTEMPT"),
            "workflow": get("GITHUB_WORKFLOW"),
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


# --- harness setup: point each agent's telemetry at the receiver (the child only) ------

# Inherited variables that would send telemetry elsewhere, or silently disable it.
_OTLP_OVERRIDES = (
    *(
        f"OTEL_EXPORTER_OTLP_{signal}_{setting}"
        for signal in ("LOGS", "METRICS", "TRACES")
        for setting in ("ENDPOINT", "PROTOCOL", "HEADERS", "COMPRESSION")
    ),
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_SDK_DISABLED",
)
# Export cadence, set only where the user has not: short CI jobs must not ride on the exit flush.
_EXPORT_INTERVALS = {
    "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    "OTEL_LOGS_EXPORT_INTERVAL": "1000",
    "OTEL_BLRP_SCHEDULE_DELAY": "1000",
    "OTEL_BSP_SCHEDULE_DELAY": "1000",
}


def resource_attributes(existing: str, capture_id: str, run: Mapping[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES with beacon's run metadata, replacing any earlier beacon.* keys."""
    kept = [item for item in existing.split(",") if item.strip() and not item.strip().startswith("beacon.")]
    ours = {"beacon.origin": "ci", "beacon.capture.id": capture_id}
    ours.update({f"beacon.run.{key}": value for key, value in run.items()})
    kept.extend(f"{key}={urllib.parse.quote(value, safe='')}" for key, value in ours.items())
    return ",".join(kept)


OTLP_PROTOCOLS = {
    "protobuf": ("http/protobuf", "binary"),
    "json": ("http/json", "json"),
}  # (OTel SDKs, Codex)


def child_environment(
    parent: Mapping[str, str],
    harnesses: Sequence[str],
    endpoint: str,
    token: str,
    capture_id: str,
    run: Mapping[str, str],
    codex_home: Optional[str],
    protocol: str = "protobuf",
) -> Dict[str, str]:
    """The environment for the agent: the parent's, with every configured harness exporting to us."""
    env = {k: v for k, v in parent.items() if k not in _OTLP_OVERRIDES}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = OTLP_PROTOCOLS[protocol][0]  # unset means Claude exports nothing
    env["OTEL_EXPORTER_OTLP_HEADERS"] = f"{TOKEN_HEADER}={token}"
    env["OTEL_RESOURCE_ATTRIBUTES"] = resource_attributes(
        parent.get("OTEL_RESOURCE_ATTRIBUTES", ""), capture_id, run
    )
    for name, value in _EXPORT_INTERVALS.items():
        env.setdefault(name, value)
    if "claude" in harnesses:
        env.update(
            {
                "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
                "OTEL_LOG_TOOL_DETAILS": "1",
                "OTEL_LOG_USER_PROMPTS": "1",
            }
        )
    if "gemini" in harnesses:
        env.update(
            {
                "GEMINI_TELEMETRY_ENABLED": "true",
                "GEMINI_TELEMETRY_TARGET": "local",
                "GEMINI_TELEMETRY_OTLP_ENDPOINT": endpoint,
                "GEMINI_TELEMETRY_OTLP_PROTOCOL": "http",
                "GEMINI_TELEMETRY_LOG_PROMPTS": "true",
            }
        )
    if "codex" in harnesses and codex_home:
        env["CODEX_HOME"] = codex_home
    return env


def user_codex_home(environ: Mapping[str, str]) -> str:
    return environ.get("CODEX_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".codex")


def write_codex_home(
    target: str, user_home: str, endpoint: str, token: str, protocol: str = "protobuf"
) -> str:
    """A CODEX_HOME that is the user's (auth.json, rules, hooks, ... linked in) with a copy of
    their config.toml that gains our [otel] exporters. Rules and hooks must carry over: they
    are what denies a tool call."""
    private_dir(target)
    config = _read_text(os.path.join(user_home, "config.toml"))
    text = _without_root_otel(config).rstrip("\n")
    text = (text + "\n\n" if text else "") + _codex_otel_table(endpoint, token, OTLP_PROTOCOLS[protocol][1])
    _write_private(os.path.join(target, "config.toml"), text)
    try:
        entries = sorted(os.listdir(user_home))
    except OSError:
        entries = []
    for name in entries:
        if name != "config.toml":
            os.symlink(os.path.join(user_home, name), os.path.join(target, name))
    return target


def _codex_otel_table(endpoint: str, token: str, protocol: str) -> str:
    # Codex needs a full per-signal URL for each exporter; each defaults to off when missing.
    def exporter(signal: str) -> str:
        url = json.dumps(f"{endpoint}/v1/{signal}")
        return (
            f'{{ otlp-http = {{ endpoint = {url}, protocol = "{protocol}", '
            f"headers = {{ {json.dumps(TOKEN_HEADER)} = {json.dumps(token)} }} }} }}"
        )

    return (
        "[otel]\n"
        'environment = "ci"\n'
        "log_user_prompt = true\n"
        f"exporter = {exporter('logs')}\n"
        f"trace_exporter = {exporter('traces')}\n"
        f"metrics_exporter = {exporter('metrics')}\n"
    )


def _without_root_otel(config: str) -> str:
    """The user's config.toml minus its root `otel` settings in every form TOML has: [otel] and
    [otel.*] tables, dotted keys (otel.environment = ...) and an inline table (otel = {...}).
    Ours replace them, and TOML refuses a table defined twice. An `otel` key inside another
    table ([profiles.x] otel = ...) is not the root one and stays."""
    kept: List[str] = []
    table: Optional[str] = None  # the first key of the current table's name; None at the root
    for statement in _toml_statements(config):
        code = statement.lstrip()
        if code.startswith("["):
            table = _toml_first_key(code.lstrip("["))
        elif table is None and _toml_first_key(code) == "otel":
            continue
        if table != "otel":
            kept.append(statement)
    return "".join(kept)


def _toml_statements(text: str) -> List[str]:
    """TOML text cut into statements, each with its line ending: a table header, a key/value
    (whose array or multi-line string may span lines), a comment or a blank line."""
    statements: List[str] = []
    start = depth = i = 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _toml_string_end(text, i)
            continue
        if char == "#":
            end = text.find("\n", i)
            i = end if end >= 0 else len(text)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "\n" and not depth:
            statements.append(text[start : i + 1])
            start = i + 1
        i += 1
    if start < len(text):
        statements.append(text[start:])
    return statements


def _toml_string_end(text: str, i: int) -> int:
    """Where the string opening at i ends: basic strings have escapes, literal ones do not; a
    one-line string left open ends with its line."""
    quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else text[i]
    j = i + len(quote)
    while j < len(text):
        if text.startswith(quote, j):
            return j + len(quote)
        if text[j] == "\\" and quote[0] == '"':
            j += 2
            continue
        if text[j] == "\n" and len(quote) == 1:
            return j
        j += 1
    return len(text)


_TOML_KEY_RE = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)')""")


def _toml_first_key(text: str) -> Optional[str]:
    """The first component of the (dotted) key that text starts with, unquoted; None if none."""
    match = _TOML_KEY_RE.match(text)
    if not match:
        return None
    bare, basic, literal = match.groups()
    if basic is not None:
        try:
            return str(json.loads(f'"{basic}"'))  # TOML's escapes are JSON's (but \U, rare in a key)
        except ValueError:
            return basic
    return bare if bare is not None else literal


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BeaconError(f"cannot read {path}: {exc.strerror}") from None


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


# --- normalize: OTLP records -> Beacon 1.0 events (EVENTS.md) ---------------------------

_OS_NAMES = {"win32": "windows", "cygwin": "windows", "darwin": "darwin"}
_HARNESS_SERVICE = (("claude", "claude_code"), ("codex", "codex_cli"), ("gemini", "gemini_cli"))
# Resource attributes kept in raw: enough to identify the source, not every host detail.
_IDENTIFYING = ("service.name", "service.version", "service.instance.id")


class CaptureContext(NamedTuple):
    """Who captures: stamped on every event of this capture."""

    capture_id: str
    mode: str  # exec | session
    run: Dict[str, str]
    hostname: str
    os_name: str
    user: str

    @classmethod
    def detect(cls, environ: Mapping[str, str], capture_id: str, mode: str) -> CaptureContext:
        return cls(
            capture_id,
            mode,
            detect_run(environ),
            socket.gethostname(),
            _OS_NAMES.get(sys.platform, sys.platform.rstrip("0123456789") or "unknown"),
            environ.get("USER") or environ.get("USERNAME") or "",
        )


def rfc3339_ms(ns: int) -> str:
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"


def harness_name(service_name: str) -> str:
    lowered = service_name.lower()
    for needle, name in _HARNESS_SERVICE:
        if needle in lowered:
            return name
    return service_name or "otel"


def text(value: Any) -> str:
    """An attribute as text: strings as they are, other values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def first(attrs: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = text(attrs.get(key)).strip()
        if value and value != "<REDACTED>":
            return value
    return ""


def integer(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        return round(number) if math.isfinite(number) else None


def number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def json_object(value: Any) -> Dict[str, Any]:
    """A JSON-object attribute (Claude's tool_input, Codex's arguments) as a dict, else {}."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def outcome(value: Any) -> Optional[str]:
    lowered = text(value).strip().lower()
    if lowered in ("true", "1", "success", "ok", "succeeded"):
        return "success"
    if lowered in ("false", "0", "failure", "error", "failed"):
        return "failure"
    return None


# Decision words, matched on how each word of the decision starts, case-insensitive. What the
# agents send: Claude `accept`/`reject`; Codex `approved`, `approved_for_session`,
# `approved_execpolicy_amendment`, `denied`, `timed_out`, `abort`; Gemini `accept`, `reject`,
# `modify`, `auto_accept` and the outcomes behind them (`proceed_once`, `proceed_always*`,
# `cancel`). A call whose approval was cancelled, declined or timed out did not run: a denial.
# Words that grant nothing either way (`modify`, `network_policy_amendment`) stay a request.
_DENYING = ("reject", "deny", "deni", "disallow", "abort", "cancel", "declin", "block", "timed", "timeout")
_ALLOWING = ("accept", "approv", "allow", "proceed", "grant")


def approval_action(decision: str) -> str:
    """One vocabulary for every harness's decision words."""
    words = re.findall(r"[a-z]+", decision.lower())
    if any(word.startswith(_DENYING) for word in words):
        return "approval.denied"
    if any(word.startswith(_ALLOWING) for word in words):
        return "approval.allowed"
    return "approval.requested"


def category_of(action: str) -> str:
    prefix = action.split(".", 1)[0]
    return {
        "prompt": "prompt",
        "command": "command",
        "file": "file",
        "mcp": "mcp",
        "approval": "approval",
        "session": "session",
        "token": "metric",
        "cost": "metric",
        "metric": "metric",
        "tool": "tool",
    }.get(prefix, "")


class Normalizer:
    """Turns decoded OTLP batches into Beacon events for one capture.

    Keeps the state needed across batches: the last value of each cumulative usage series, so
    a cumulative sum becomes the increments it represents (no double counting).
    """

    def __init__(self, context: CaptureContext, clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.clock = clock
        self.spans_seen = 0
        self.dropped = 0  # records that are pure transport noise (Codex's per-SSE-event records)
        self.unmapped = 0  # records written as fallback events because mapping them failed
        self._cumulative: Dict[Tuple[Any, ...], float] = {}
        self._denied_calls: Dict[Tuple[str, str, str], None] = {}  # insertion-ordered, bounded

    def events(self, batch: Batch) -> Iterator[Dict[str, Any]]:
        if batch.signal == "logs":
            for resource in batch.request["resource_logs"]:
                res_attrs = (resource["resource"] or {}).get("attributes", {})
                for scope in resource["scope_logs"]:
                    for record in scope["log_records"]:
                        if self.keeps(res_attrs, record):
                            yield self.log_event_or_fallback(res_attrs, record)
                        else:
                            self.dropped += 1
        elif batch.signal == "metrics":
            for resource in batch.request["resource_metrics"]:
                res_attrs = (resource["resource"] or {}).get("attributes", {})
                for scope in resource["scope_metrics"]:
                    for metric in scope["metrics"]:
                        yield from self.metric_events(res_attrs, metric)
        else:  # spans repeat what the log events say; they are counted, not written
            self.spans_seen += batch.records

    def keeps(self, res_attrs: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        if harness_name(text(res_attrs.get("service.name"))) != "codex_cli":
            return True
        return codex_keeps(record["attributes"], text(record["body"]))

    # --- building blocks ---------------------------------------------------------------

    def base(self, res_attrs: Mapping[str, Any], attrs: Mapping[str, Any], time_ns: int) -> Dict[str, Any]:
        service = text(res_attrs.get("service.name") or attrs.get("service.name"))
        name = harness_name(service)
        harness = {"name": name}
        version = first(res_attrs, "service.version")
        if name == "gemini_cli":  # Gemini's service.version is the Node.js version
            version = first(attrs, "app.version", "cli.version")
        if version:
            harness["version"] = version
        ctx = self.context
        event: Dict[str, Any] = {
            "timestamp": rfc3339_ms(time_ns or int(self.clock() * 1e9)),
            "vendor": "beacon",
            "product": "endpoint-agent",
            "schema_version": "1.0",
            "event": {"kind": "agent_runtime", "action": "", "id": secrets.token_hex(16)},
            "severity": "info",
            "endpoint": {"hostname": ctx.hostname, "os": ctx.os_name},
            "user": {"name": ctx.user} if ctx.user else {},
            "harness": harness,
            "origin": "ci",
            "capture": {"id": ctx.capture_id, "mode": ctx.mode, "beacon_version": __version__},
        }
        if ctx.run:
            event["run"] = dict(ctx.run)
        session_id = first(attrs, "session.id", "conversation.id", "gen_ai.conversation.id")
        if session_id:
            event["session"] = {"id": session_id}
        return event

    def log_event_or_fallback(
        self, res_attrs: Mapping[str, Any], record: Mapping[str, Any]
    ) -> Dict[str, Any]:
        """A record beacon cannot map is still written, as what it is: never lose accepted data."""
        try:
            return self.log_event(res_attrs, record)
        except Exception as exc:  # a mapping bug or a shape no agent was seen sending
            self.unmapped += 1
            event = self.base(res_attrs, {}, 0)
            set_action(event, "session.activity")
            event["event"]["category"] = "session"
            set_error(event, "beacon_normalize_error", f"{type(exc).__name__}: {exc}", severity="medium")
            event["message"] = text(record.get("body"))
            event["raw"] = {"otel_signal": "logs", "attributes": dict(record.get("attributes") or {})}
            return event

    def log_event(self, res_attrs: Mapping[str, Any], record: Mapping[str, Any]) -> Dict[str, Any]:
        attrs = record["attributes"]
        event = self.base(res_attrs, attrs, record["time_unix_nano"] or record["observed_time_unix_nano"])
        body = text(record["body"])
        name = event_name(body, attrs, record.get("event_name", ""))
        event["message"] = body or name
        if record["trace_id"]:
            event["trace"] = {"id": record["trace_id"], "span_id": record["span_id"]}
        sequence = integer(attrs.get("event.sequence"))
        if sequence is not None:
            event["event"]["sequence"] = sequence
        severity = text(record["severity_text"]).lower() or SEVERITY_NAMES.get(
            record["severity_number"] // 4 * 4 + 1, ""
        )
        if "fatal" in severity or "critical" in severity:
            event["severity"] = "critical"
        elif "error" in severity:
            event["severity"] = "high"
        elif "warn" in severity:
            event["severity"] = "medium"
        mapper = LOG_MAPPERS.get(event["harness"]["name"], map_generic_log)
        mapper(event, name, attrs)
        if not event["event"]["action"]:
            map_generic_log(event, name, attrs)
        self._one_denial_per_call(event)
        event["event"]["category"] = category_of(event["event"]["action"])
        event["raw"] = {
            "otel_signal": "logs",
            "event_name": name,
            "attributes": {**{k: res_attrs[k] for k in _IDENTIFYING if k in res_attrs}, **attrs},
        }
        return event

    def _one_denial_per_call(self, event: Dict[str, Any]) -> None:
        """Codex logs a denied call twice: its decision (denied), then its result (Rejected). One
        denial: the result becomes the failed tool call it caused. A call refused before any
        decision (an exec-policy rule that forbids it) has only the result, which stays the denial."""
        if event["event"]["action"] != "approval.denied":
            return
        call_id = text(event.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id"))
        if not call_id:
            return
        key = (event["harness"]["name"], text(event.get("session", {}).get("id")), call_id)
        if key in self._denied_calls:
            set_action(event, "tool.failed")
            event.pop("approval", None)
            return
        self._denied_calls[key] = None
        if len(self._denied_calls) > DENIED_CALLS_KEPT:
            del self._denied_calls[next(iter(self._denied_calls))]

    def metric_events(
        self, res_attrs: Mapping[str, Any], metric: Mapping[str, Any]
    ) -> Iterator[Dict[str, Any]]:
        name = metric["name"]
        kind = usage_kind(name)
        if kind is None:
            return
        if (
            name.startswith("gen_ai.")
            and harness_name(text(res_attrs.get("service.name"))) in HARNESS_EVENT_NAMES.values()
        ):
            return  # the agent's own usage metric counts the same tokens; one source only
        data = metric.get("sum") or metric.get("gauge") or metric.get("histogram")
        if not data:
            return
        cumulative = data.get("aggregation_temporality") == 2
        for point in data["data_points"]:
            value = point.get("as_double", point.get("as_int", point.get("sum")))
            if value is None:
                continue
            if cumulative:
                value = self._increment(name, res_attrs, point, float(value))
            if not value:
                continue
            attrs = point["attributes"]
            event = self.base(res_attrs, attrs, point["time_unix_nano"])
            event["event"]["action"] = f"{kind}.usage"
            event["event"]["category"] = "metric"
            event["message"] = name
            model = first(attrs, "model", "gen_ai.request.model", "gen_ai.response.model")
            if model:
                event["model"] = model
            usage = token_usage(attrs, value) if kind == "token" else {"cost_usd": float(value)}
            event["gen_ai"] = {"usage": usage}
            event["raw"] = {
                "otel_signal": "metrics",
                "metric_name": name,
                "metric_unit": metric["unit"],
                "metric_value": value,
                "attributes": dict(attrs),
            }
            yield event

    def _increment(
        self, name: str, res_attrs: Mapping[str, Any], point: Mapping[str, Any], value: float
    ) -> float:
        """A cumulative point's increase since the last export of the same series."""
        key = (
            name,
            text(res_attrs.get("service.instance.id")),
            text(res_attrs.get("session.id")),
            tuple(sorted((k, text(v)) for k, v in point["attributes"].items())),
            point["start_time_unix_nano"],
        )
        previous = self._cumulative.get(key, 0.0)
        self._cumulative[key] = value
        return value - previous if value >= previous else value  # a reset starts again


SEVERITY_NAMES = {1: "trace", 5: "debug", 9: "info", 13: "warn", 17: "error", 21: "fatal"}
DENIED_CALLS_KEPT = 4096  # a decision and its result arrive within one turn


def event_name(body: str, attrs: Mapping[str, Any], record_event_name: str) -> str:
    """The harness's own event name: `claude_code.tool_result`, `codex.tool_result`, ..."""
    name = first(attrs, "event.name")
    if body.startswith("claude_code.") and (not name or body.endswith("." + name)):
        return body
    if name.startswith(("codex.", "gemini_cli.", "claude_code.", "gen_ai.")):
        return name
    return name or record_event_name or body


def usage_kind(metric_name: str) -> Optional[str]:
    lowered = metric_name.strip().lower()
    if lowered.endswith("token.usage") or lowered.endswith("token_usage"):
        return "token"
    if lowered.endswith("cost.usage"):
        return "cost"
    return None


_TOKEN_TYPES = {
    "input": "input_tokens",
    "prompt": "input_tokens",
    "output": "output_tokens",
    "completion": "output_tokens",
    "cacheread": "cache_read.input_tokens",
    "cachedinput": "cache_read.input_tokens",
    "cache": "cache_read.input_tokens",
    "cachecreation": "cache_creation.input_tokens",
    "reasoning": "reasoning.output_tokens",
    "reasoningoutput": "reasoning.output_tokens",
    "thought": "reasoning.output_tokens",
    "total": "total_tokens",
}


def token_usage(attrs: Mapping[str, Any], value: float) -> Dict[str, Any]:
    token_type = first(attrs, "type", "token_type", "gen_ai.token.type")
    slot = _TOKEN_TYPES.get(token_type.lower().replace("_", ""), "")
    usage: Dict[str, Any] = {"token_type": token_type} if token_type else {}
    _put(usage, slot or "tokens", round(value))  # a type we do not know still keeps its count
    return usage


def _put(target: Dict[str, Any], dotted: str, value: Any) -> None:
    """target['a']['b'] = value for 'a.b', creating the objects on the way."""
    *parents, leaf = dotted.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value


def set_action(event: Dict[str, Any], action: str) -> None:
    event["event"]["action"] = action


def set_outcome(event: Dict[str, Any], value: Optional[str]) -> None:
    if value:
        event["event"]["outcome"] = value


def set_tool_call(event: Dict[str, Any], tool: str, call_id: str, arguments: Any = None) -> None:
    if tool:
        event.setdefault("tool", {})["name"] = tool
    call: Dict[str, Any] = {}
    if call_id:
        call["id"] = call_id
    if arguments not in (None, "", {}):
        call["arguments"] = arguments
    if tool or call:
        gen_ai_tool = event.setdefault("gen_ai", {}).setdefault("tool", {})
        if tool:
            gen_ai_tool["name"] = tool
        if call:
            gen_ai_tool["call"] = call


def set_command(
    event: Dict[str, Any], command: str, exit_code: Optional[int] = None, duration_ms: Optional[int] = None
) -> None:
    entry: Dict[str, Any] = {"command": command} if command else {}
    if exit_code is not None:
        entry["exit_code"] = exit_code
    if duration_ms is not None:
        entry["duration_ms"] = duration_ms
    if entry:
        event["command"] = entry
    if command:
        event.setdefault("tool", {})["command"] = command


def set_file(event: Dict[str, Any], path: str, operation: str) -> None:
    if path:
        event["file"] = {"path": path, "operation": operation}
        event.setdefault("tool", {})["path"] = path


def set_error(
    event: Dict[str, Any],
    error_type: str,
    message: str = "",
    status: Optional[int] = None,
    severity: str = "high",
) -> None:
    error: Dict[str, Any] = {"type": error_type or "error"}
    if message:
        error["message"] = message
    if status is not None:
        error["status_code"] = status
    event["error"] = error
    event["severity"] = severity


# Gemini and Codex log every attempt of a model request, and both retry rate limits and server
# errors (Gemini also 499). Neither record says whether it was the last attempt (Codex's
# zero-based `attempt` counts up to a limit kept in the user's config, not in the record), so an
# error they retry is `medium` (more attempts usually follow) and any other `high`. Claude logs
# `api_error` once, after its own retries (its `attempt` is how many were made): always `high`.
def retried_status(status: Optional[int]) -> bool:
    return status is not None and (status in (429, 499) or 500 <= status < 600)


def set_api_error(
    event: Dict[str, Any], error_type: str, message: str, status: Optional[int], retried: bool = False
) -> None:
    """A failed model request: outcome failure, the error's type, message and status."""
    set_outcome(event, "failure")
    set_error(event, error_type, message, status, severity="medium" if retried else "high")


def set_usage(event: Dict[str, Any], attrs: Mapping[str, Any], slots: Mapping[str, str]) -> None:
    """gen_ai.usage from an event's own counters, e.g. {'input_tokens': 'input_tokens', ...}."""
    usage: Dict[str, Any] = {}
    for slot, key in slots.items():
        value = number(attrs.get(key)) if slot == "cost_usd" else integer(attrs.get(key))
        if value is not None and attrs.get(key) not in ("", None):
            _put(usage, slot, value)
    if usage:
        event.setdefault("gen_ai", {})["usage"] = usage
    model = first(attrs, "model", "gen_ai.request.model", "gen_ai.response.model")
    if model:
        event["model"] = model


def map_generic_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    """Records of unknown agents or names: keep them, as observed activity."""
    action = first(attrs, "beacon.event.action", "event.action")
    set_action(event, action if action else "session.activity")


# Claude Code tools by what they do: (action, operation, input key holding the path)
CLAUDE_FILE_TOOLS = {
    "read": ("file.read", "read", "file_path"),
    "write": ("file.modified", "write", "file_path"),
    "edit": ("file.modified", "edit", "file_path"),
    "multiedit": ("file.modified", "edit", "file_path"),
    "notebookedit": ("file.modified", "edit", "notebook_path"),
}
CLAUDE_SHELL_TOOLS = ("bash", "powershell", "pwsh")
CLAUDE_LOOKUP_TOOLS = {
    "grep": ("pattern", "path"),
    "glob": ("pattern", "path"),
    "ls": ("", "path"),
    "webfetch": ("url", ""),
    "websearch": ("query", ""),
    "task": ("subagent_type", "description"),
    "agent": ("subagent_type", "description"),  # Task's name since Claude Code 2.1
}
CLAUDE_LIFECYCLE = {
    "user_prompt": "prompt.submitted",
    "api_refusal": "session.status",
    "permission_mode_changed": "session.status",
    "api_error": "session.error",
    "internal_error": "session.error",
    "api_retries_exhausted": "session.error",
    "mcp_server_connection": "mcp.connection",
}


def map_claude_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    short = name[len("claude_code.") :] if name.startswith("claude_code.") else name
    if short in ("tool_decision", "tool_result"):
        tool = first(attrs, "tool_name", "tool.name")
        tool_input = json_object(attrs.get("tool_input"))
        parameters = json_object(attrs.get("tool_parameters"))
        set_tool_call(event, tool, first(attrs, "tool_use_id"))
        classify_claude_tool(event, tool, tool_input, parameters, attrs)
        if short == "tool_decision":
            decision = first(attrs, "decision", "decision_type")
            set_action(event, approval_action(decision))
            event["approval"] = {
                "required": True,
                "decision": decision,
                "reason": first(attrs, "source", "decision_source"),
            }
        else:
            set_outcome(event, outcome(attrs.get("success")))
            if event["event"].get("outcome") == "failure":
                set_error(
                    event,
                    first(attrs, "error_type") or "tool_error",
                    first(attrs, "error"),
                    severity="medium",
                )
                if event["event"]["action"] == "tool.invoked":
                    set_action(event, "tool.failed")
        return
    set_action(event, CLAUDE_LIFECYCLE.get(short, "session.activity"))
    if short == "user_prompt":
        prompt = first(attrs, "prompt")
        if prompt:
            event["prompt"] = {"text": prompt}
    elif short == "api_request":
        set_usage(
            event,
            attrs,
            {
                "input_tokens": "input_tokens",
                "output_tokens": "output_tokens",
                "cache_read.input_tokens": "cache_read_tokens",
                "cache_creation.input_tokens": "cache_creation_tokens",
                "cost_usd": "cost_usd",
            },
        )
        duration = integer(attrs.get("duration_ms"))
        if duration is not None:
            event["event"]["duration_ms"] = duration
    elif short in ("api_error", "api_retries_exhausted", "internal_error"):
        set_api_error(event, short, first(attrs, "error"), integer(attrs.get("status_code")))
        set_usage(event, attrs, {})
    elif short == "mcp_server_connection":
        server = first(attrs, "server_name", "mcp_server_name")
        if server:
            event["mcp"] = {"server": server, "status": first(attrs, "status")}


def classify_claude_tool(
    event: Dict[str, Any],
    tool: str,
    tool_input: Mapping[str, Any],
    parameters: Mapping[str, Any],
    attrs: Mapping[str, Any],
) -> None:
    lowered = tool.lower()
    duration = integer(attrs.get("duration_ms"))
    if lowered in CLAUDE_SHELL_TOOLS:
        command = (
            text(tool_input.get("command"))
            or text(parameters.get("full_command"))
            or text(parameters.get("bash_command"))
        )
        set_action(event, "command.executed")
        set_command(event, command, duration_ms=duration)
    elif lowered in CLAUDE_FILE_TOOLS:
        action, operation, key = CLAUDE_FILE_TOOLS[lowered]
        set_action(event, action)
        set_file(event, text(tool_input.get(key)) or text(parameters.get(key)), operation)
    elif lowered.startswith("mcp__"):
        parts = tool.split("__")
        set_action(event, "mcp.tool_invoked")
        event["mcp"] = {"server": parts[1] if len(parts) > 1 else "", "tool": "__".join(parts[2:])}
    else:
        set_action(event, "tool.invoked")
        for key in CLAUDE_LOOKUP_TOOLS.get(lowered, ()):
            value = text(tool_input.get(key)) or text(parameters.get(key))  # decisions: parameters only
            if key and value:
                event.setdefault("tool", {})[key] = value


# Codex streams one codex.sse_event per server-sent event (dozens a turn); usage arrives as the
# codex.turn.token_usage metric instead, so these records carry nothing an audit needs, except
# a failed one (error.message): the model's response broke off.
CODEX_NOISE = ("codex.sse_event",)
# Records of Codex's model traffic that fail with an HTTP status or an error.message.
CODEX_ERROR_TYPES = {
    "codex.sse_event": "stream_error",
    "codex.websocket_connect": "websocket_error",
    "codex.websocket_request": "websocket_error",
}
CODEX_LIFECYCLE = {"codex.conversation_starts": "session.started", "codex.user_prompt": "prompt.submitted"}
CODEX_SHELL_TOOLS = ("exec_command", "shell", "shell_command", "local_shell")
_EXIT_CODE = re.compile(r"(?:Process exited with code|Exit code:)\s*(-?\d+)")
# A patch's file headers. `*** Move to:` follows an Update File header: the file is rewritten
# under that name. There is no file.deleted action in 1.0: a deletion modifies the tree.
_PATCH_FILE = re.compile(r"^\*\*\* (Add File|Update File|Delete File|Move to): (.+?)\r?$", re.MULTILINE)
_PATCH_ACTIONS = {
    "Add File": ("file.created", "create"),
    "Update File": ("file.modified", "edit"),
    "Move to": ("file.modified", "move"),
    "Delete File": ("file.modified", "delete"),
}
# apply_patch run through a shell tool: `apply_patch <<'EOF'` (optionally after `cd dir &&`).
_PATCH_COMMAND = re.compile(r"\s*(?:cd\s+\S+\s*&&\s*)?apply_?patch\b")
_PATCH_PROGRAMS = ("apply_patch", "applypatch")
# Codex refusing a call: `exec_command failed: CreateProcess { message: "Rejected(\"<why>\")" }`
# (a PermissionRequest hook's denial, or an exec-policy rule that forbids the command).
_REJECTED = re.compile(r'Rejected\(\\*"(.*?)\\*"\)', re.DOTALL)


def map_codex_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    if name in CODEX_LIFECYCLE:
        set_action(event, CODEX_LIFECYCLE[name])
        if name == "codex.user_prompt" and first(attrs, "prompt") not in ("", "[REDACTED]"):
            event["prompt"] = {"text": first(attrs, "prompt")}
        if name == "codex.conversation_starts":
            set_usage(event, attrs, {})
        return
    if name not in ("codex.tool_decision", "codex.tool_result"):
        set_action(event, "session.activity")
        status = integer(attrs.get("http.response.status_code"))
        message = first(attrs, "error.message")
        if (status is not None and status >= 400) or message:
            set_action(event, "session.error")
            error_type = CODEX_ERROR_TYPES.get(name, "api_error")
            set_api_error(event, error_type, message, status, retried_status(status))
        return
    tool = first(attrs, "tool_name", "tool.name")
    arguments = text(attrs.get("arguments"))
    set_tool_call(event, tool, first(attrs, "call_id"))
    classify_codex_tool(event, tool, arguments, attrs)
    if name == "codex.tool_decision":
        decision = first(attrs, "decision")
        set_action(event, approval_action(decision))
        event["approval"] = {"required": True, "decision": decision, "reason": first(attrs, "source")}
        return
    output = text(attrs.get("output"))
    result = outcome(attrs.get("success"))
    reason = codex_rejection(output) if result == "failure" else None
    if reason is not None:
        set_refused(event, "rejected", reason)
        return
    exit_code = _EXIT_CODE.search(output)
    if exit_code:
        code = int(exit_code.group(1))
        event.setdefault("command", {})["exit_code"] = code
        if code != 0:  # Codex reports a command that ran and failed as a successful tool call
            result = "failure"
    set_outcome(event, result)
    if result == "failure":
        set_error(event, "tool_error", output if not exit_code else "", severity="medium")
        if event["event"]["action"] == "tool.invoked":
            set_action(event, "tool.failed")


def classify_codex_tool(event: Dict[str, Any], tool: str, arguments: str, attrs: Mapping[str, Any]) -> None:
    duration = integer(attrs.get("duration_ms"))
    files = [(kind, path.strip()) for kind, path in _PATCH_FILE.findall(codex_patch(tool, arguments))]
    if files:  # the first file's event, with the count and every path when there are more
        kind, path = files[0]
        action, operation = _PATCH_ACTIONS[kind]
        set_action(event, action)
        set_file(event, path, operation)
        if len(files) > 1:
            event["file"]["count"] = len(files)
            event["file"]["paths"] = [p for _, p in files]
        return
    command = codex_command(tool, arguments)
    if command:
        set_action(event, "command.executed")
        set_command(event, command, duration_ms=duration)
    elif first(attrs, "mcp_server"):
        set_action(event, "mcp.tool_invoked")
        event["mcp"] = {"server": first(attrs, "mcp_server"), "tool": tool}
    else:
        set_action(event, "tool.invoked")


def codex_command(tool: str, arguments: str) -> str:
    """The shell command of exec_command / shell / local_shell calls, in every argument shape."""
    decoded = json_object(arguments)
    for key in ("cmd", "command"):
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, list) and value:
            words = [text(word) for word in value]
            if len(words) >= 3 and words[0].endswith(("bash", "sh", "zsh")) and words[1] in ("-c", "-lc"):
                return words[2]  # ["bash", "-lc", "the command"]
            return " ".join(shlex.quote(word) for word in words)
    if tool in CODEX_SHELL_TOOLS and not decoded and arguments.strip():
        return arguments.strip()
    return ""


def codex_patch(tool: str, arguments: str) -> str:
    """The patch of an apply_patch call: the tool's own (freeform text, or `{"input": patch}`), or
    apply_patch run through a shell tool (`["apply_patch", patch]`, or a heredoc)."""
    if tool == "apply_patch":
        value = json_object(arguments).get("input")
        return value if isinstance(value, str) else arguments
    if tool not in CODEX_SHELL_TOOLS:
        return ""
    for key in ("cmd", "command"):
        value = json_object(arguments).get(key)
        if isinstance(value, list) and value and text(value[0]) in _PATCH_PROGRAMS:
            return "\n".join(text(word) for word in value[1:])
    command = codex_command(tool, arguments)
    return command if _PATCH_COMMAND.match(command) else ""


def codex_rejection(output: str) -> Optional[str]:
    """Why Codex refused to run a call, from the call's output; None when it did not refuse."""
    match = _REJECTED.search(output)
    if match:
        return match.group(1)
    return output.strip() if "rejected by user" in output else None


def set_refused(event: Dict[str, Any], decision: str, reason: str) -> None:
    """A call the agent refused to run is a denial, not a command or file change that failed:
    it keeps what was asked (tool.command, tool.path) but no command or file it never touched."""
    set_action(event, "approval.denied")
    set_outcome(event, "failure")
    event.pop("command", None)
    event.pop("file", None)
    event["approval"] = {"required": True, "decision": decision, "reason": reason}
    set_error(event, decision, reason, severity="medium")


def codex_keeps(attrs: Mapping[str, Any], body: str) -> bool:
    name = first(attrs, "event.name")
    if name in CODEX_NOISE:
        return bool(first(attrs, "error.message"))
    return not (not name and "flushing otel metrics" in body.lower())


# Gemini CLI tools by what they do: (action, operation, argument holding the path)
GEMINI_FILE_TOOLS = {
    "read_file": ("file.read", "read", "file_path"),
    "read_many_files": ("file.read", "read", "paths"),
    "write_file": ("file.modified", "write", "file_path"),
    "replace": ("file.modified", "edit", "file_path"),
}
GEMINI_LOOKUP_TOOLS = {
    "list_directory": "path",
    "glob": "pattern",
    "search_file_content": "pattern",
    "web_fetch": "prompt",
    "google_web_search": "query",
}
# Gemini logs a file_operation record (tool_name, operation, line count; no path) while a file
# tool runs, then the tool_call record of that call. The tool_call carries the file event: it
# has the path, the outcome and the call id, and it comes once per call (read_many_files logs a
# file_operation per file). So a file_operation of a tool mapped above is session.activity;
# one of any other tool is the file event itself, with its path when the record has one.
GEMINI_FILE_OPERATIONS = {
    "create": ("file.created", "create"),
    "update": ("file.modified", "update"),
    "read": ("file.read", "read"),
}
GEMINI_LIFECYCLE = {
    "gemini_cli.user_prompt": "prompt.submitted",
    "gemini_cli.config": "session.started",
    "gemini_cli.api_error": "session.error",
}


def map_gemini_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    if name == "gemini_cli.tool_call":
        map_gemini_tool_call(event, attrs)
        return
    if name == "gemini_cli.file_operation":
        map_gemini_file_operation(event, attrs)
        return
    set_action(event, GEMINI_LIFECYCLE.get(name, "session.activity"))
    if name == "gemini_cli.user_prompt" and first(attrs, "prompt"):
        event["prompt"] = {"text": first(attrs, "prompt")}
    elif name == "gemini_cli.api_response":
        set_usage(
            event,
            attrs,
            {
                "input_tokens": "input_token_count",
                "output_tokens": "output_token_count",
                "cache_read.input_tokens": "cached_content_token_count",
                "reasoning.output_tokens": "thoughts_token_count",
            },
        )
    elif name == "gemini_cli.api_error":
        status = integer(attrs.get("status_code"))
        set_api_error(
            event,
            first(attrs, "error_type", "error.type") or "api_error",
            first(attrs, "error", "error.message"),
            status,
            retried_status(status),
        )


def map_gemini_file_operation(event: Dict[str, Any], attrs: Mapping[str, Any]) -> None:
    tool = first(attrs, "tool_name")
    operation = GEMINI_FILE_OPERATIONS.get(first(attrs, "operation").lower())
    if operation is None or tool in GEMINI_FILE_TOOLS:
        set_action(event, "session.activity")
        return
    action, name = operation
    set_action(event, action)
    set_tool_call(event, tool, "")
    path = first(attrs, "file_path", "path")
    if path:
        set_file(event, path, name)
    else:
        event["file"] = {"operation": name}


def map_gemini_tool_call(event: Dict[str, Any], attrs: Mapping[str, Any]) -> None:
    tool = first(attrs, "function_name")
    arguments = json_object(attrs.get("function_args"))
    set_tool_call(event, tool, first(attrs, "call_id", "gen_ai.tool.call.id"))
    duration = integer(attrs.get("duration_ms"))
    if tool == "run_shell_command":
        set_action(event, "command.executed")
        set_command(event, text(arguments.get("command")), duration_ms=duration)
    elif tool in GEMINI_FILE_TOOLS:
        action, operation, key = GEMINI_FILE_TOOLS[tool]
        set_action(event, action)
        value = arguments.get(key)
        paths = [text(v) for v in value] if isinstance(value, list) else [text(value)] if value else []
        if paths:
            set_file(event, paths[0], operation)
            if len(paths) > 1:
                event["file"].update(count=len(paths), paths=paths)
    elif first(attrs, "mcp_server_name") or first(attrs, "tool_type") == "mcp":
        set_action(event, "mcp.tool_invoked")
        event["mcp"] = {"server": first(attrs, "mcp_server_name"), "tool": tool}
    else:
        set_action(event, "tool.invoked")
        lookup = GEMINI_LOOKUP_TOOLS.get(tool)
        if lookup and arguments.get(lookup):
            event.setdefault("tool", {})["path" if lookup == "path" else lookup] = text(arguments[lookup])
    metadata = json_object(attrs.get("metadata"))
    exit_code = integer(metadata.get("exitCode")) if "exitCode" in metadata else None
    if exit_code is not None:
        event.setdefault("command", {})["exit_code"] = exit_code
    result = outcome(attrs.get("success"))
    if exit_code:  # Gemini reports a command that ran and failed as a successful call
        result = "failure"
    set_outcome(event, result)
    decision = first(attrs, "decision")
    error_type = first(attrs, "error_type", "error.type")
    if decision or error_type == "policy_violation":
        # A policy denial comes with no decision at all: the error type is what says so.
        word = decision or "deny"
        event["approval"] = {"required": True, "decision": word, "reason": error_type or "config"}
        if approval_action(word) == "approval.denied":
            set_action(event, "approval.denied")
    if result == "failure":
        set_error(
            event, error_type or "tool_error", first(attrs, "error", "error.message"), severity="medium"
        )
        if event["event"]["action"] == "tool.invoked":
            set_action(event, "tool.failed")


LOG_MAPPERS: Dict[str, Callable[[Dict[str, Any], str, Mapping[str, Any]], None]] = {
    "claude_code": map_claude_log,
    "codex_cli": map_codex_log,
    "gemini_cli": map_gemini_log,
}


# --- protect: sanitize, redact, truncate, cap (EVENTS.md "Protection") -----------------
# Every string of an event, keys included, goes through sanitize -> redact -> truncate, then the
# whole line is capped. Redaction runs before truncation so that a cut can never leave part of a
# secret behind (event-schema.md section 7, item 14).

REDACTED = "[REDACTED]"
TRUNCATED_MARKER = "...[truncated]"
MAX_LINE_BYTES = 65536
LONG_FIELD_BYTES = 4096  # commands, prompts, messages, reasons
FIELD_BYTES = 2048  # every other string, keys included
MIN_SECRET_LENGTH = 8  # shorter exact values would erase ordinary words everywhere
# A string field is a "long" one when the last component of its key is one of these: message,
# prompt.text, command.command, tool.command, approval.reason, and the same names anywhere else.
LONG_FIELD_NAMES = frozenset({"message", "text", "command", "reason"})
# What the line cap keeps of `raw` however large the rest is: what identifies the source.
RAW_IDENTITY = frozenset({"otel_signal", "event_name", "metric_name", "metric_unit", "span_name"})
RAW_SHRUNK_BYTES = 256  # raw strings are cut to this when the line is too long
MESSAGE_SHRUNK_BYTES = 1024
# The fields every event has (validation checks them), and those a minimal stand-in for an
# oversized event keeps: the required ones and who, where and which capture.
REQUIRED_FIELDS = (
    "timestamp",
    "vendor",
    "product",
    "schema_version",
    "event",
    "severity",
    "endpoint",
    "harness",
)
MINIMAL_EVENT_FIELDS = (*REQUIRED_FIELDS, "user", "capture", "origin", "run")
_MAX_EVENT_DEPTH = 64  # deeper structures are cut (and a cycle cannot recurse forever)
_MAX_JSON_DEPTH = 100  # JSON decoded out of a string, redacted by key
_MAX_PASSES = 4  # redaction passes over one string (see Protector._redact)
_CACHE_CHARS = 256  # strings this short cannot be truncated, so their result depends on the text only
_CACHE_ENTRIES = 8192

# --- sanitize ---------------------------------------------------------------------------

# CSI (colours, cursor moves), the string controls (OSC titles and hyperlinks, DCS, SOS, PM, APC)
# with their terminator, and the other two-character escapes. A string control's body stops at
# the next escape, so unterminated ones cost linear time and leave their ESC to _CONTROL_RE.
_ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0, DEL, C1; keeps \t and \n
_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def sanitize_text(text: str) -> str:
    """Valid UTF-8 with no terminal control: drop ANSI escapes and C0/C1 controls except \\t and
    \\n, and turn lone surrogates (not encodable as UTF-8) into U+FFFD."""
    if not _UNSAFE_RE.search(text):
        return text
    if _SURROGATE_RE.search(text):
        # Through UTF-16: a high+low pair becomes its real character, a lone half becomes U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", text))


# --- truncate ---------------------------------------------------------------------------

_MARKER_BYTES = len(TRUNCATED_MARKER.encode("utf-8"))


def truncate_utf8(text: str, limit: int) -> Tuple[str, bool]:
    """(text, False) when it fits in `limit` UTF-8 bytes, else (cut text + marker, True): at most
    `limit` bytes, cut on a character boundary."""
    if len(text) * 4 <= limit:  # no character is longer than 4 bytes: fits without encoding
        return text, False
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    if limit <= _MARKER_BYTES:
        return data[:limit].decode("utf-8", "ignore"), True
    head = data[: limit - _MARKER_BYTES].decode("utf-8", "ignore")  # drops a split last character
    return _without_partial_marker(head) + TRUNCATED_MARKER, True


def _without_partial_marker(head: str) -> str:
    # A cut through "[REDACTED]" would leave "[REDAC", which a second pass might take for a value.
    for size in range(len(REDACTED) - 1, 0, -1):
        if head.endswith(REDACTED[:size]):
            return head[:-size]
    return head


# --- which names label a secret ---------------------------------------------------------

_NAME_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A name is split into words (snake, kebab, dotted, camelCase); it is secret when a word is one of
# these or ends with one (csrftoken, dbpassword) ...
_SECRET_WORDS = frozenset({"auth", "authorization", "pwd", "cookie", "cookies"})
_SECRET_SUFFIXES = (
    "token",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "apikey",
    "apikeys",
    "privatekey",
    "secretkey",
    "accesskey",
)
# ... or when one of these words is followed by "key"/"keys" (api_key, AWS_SECRET_ACCESS_KEY) ...
_KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption", "master"})
# ... unless its last word says the value describes the secret rather than being it: token COUNTS
# and types (input_tokens is plural anyway; token_type, auth_mode), where it lives (token_file,
# ACTIONS_ID_TOKEN_REQUEST_URL), or whether it is set. "tokens" is never a label: it counts.
_NOT_SECRET_LAST_WORDS = frozenset(
    {
        "type",
        "types",
        "kind",
        "count",
        "counts",
        "usage",
        "limit",
        "limits",
        "length",
        "len",
        "size",
        "id",
        "ids",
        "name",
        "names",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "dirs",
        "directory",
        "url",
        "urls",
        "uri",
        "endpoint",
        "host",
        "hostname",
        "port",
        "mode",
        "method",
        "methods",
        "scheme",
        "format",
        "flow",
        "provider",
        "providers",
        "policy",
        "version",
        "source",
        "status",
        "state",
        "enabled",
        "disabled",
        "required",
        "expiry",
        "expires",
        "expiration",
        "expired",
        "ttl",
        "lifetime",
        "timeout",
        "at",
        "in",
        "index",
        "prefix",
        "label",
        "description",
        "help",
        "prompt",
        "stdin",
        "env",
        "var",
        "sock",
        "socket",
        "helper",
        "user",
        "username",
        "login",
        "email",
        "present",
        "set",
        "exists",
    }
)
_SHELL_DIRECTORY_NAMES = frozenset({"PWD", "OLDPWD"})  # the shell's working directory, not a password
_COLLISION_SUFFIX_RE = re.compile(r"~[0-9]+\Z")  # see _unique_key
# Every secret name contains one of these; most names contain none and are answered at once.
_NAME_HINT_RE = re.compile(
    r"token|secret|passw|pwd|passphrase|credential|auth|cookie"
    r"|(?:api|access|private|signing|encryption|master)[ _.\-]*key",
    re.IGNORECASE,
)
_secret_name_cache: Dict[str, bool] = {}


def is_secret_name(name: str) -> bool:
    """Whether a key, variable, header or flag name says its value is a secret.

    Matches whole words, so `csrf_token`, `db_password`, `X-Api-Key`, `AWS_SECRET_ACCESS_KEY` and
    `--token` are secret while `tokens`, `input_tokens`, `max_tokens`, `token_type`, `tokenizer`,
    `passwordless`, `author`, `keyboard`, `monkey` and `Secretary` are not."""
    known = _secret_name_cache.get(name)
    if known is None:
        known = bool(_NAME_HINT_RE.search(name)) and _names_secret(name)
        if len(_secret_name_cache) >= _CACHE_ENTRIES:
            _secret_name_cache.clear()
        _secret_name_cache[name] = known
    return known


def _names_secret(name: str) -> bool:
    # Judged the same before and after protection: markers and a collision suffix are no words.
    bare = _COLLISION_SUFFIX_RE.sub("", name).replace(REDACTED, " ").replace(TRUNCATED_MARKER, " ")
    bare = bare.strip().lstrip("-$")
    if bare in _SHELL_DIRECTORY_NAMES:
        return False
    words = [word.lower() for word in _NAME_WORD_RE.findall(bare)]
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS or words[0] == "no":  # --no-password-prompt
        return False
    for index, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_SUFFIXES):
            return True
        if word in _KEY_QUALIFIERS and words[index + 1 : index + 2] in (["key"], ["keys"]):
            return True
    return False


# Values under a secret label that are not secrets: booleans, nulls, type names, placeholders.
_PLAIN_VALUES = frozenset(
    {
        "true",
        "false",
        "null",
        "none",
        "nil",
        "undefined",
        "yes",
        "no",
        "on",
        "off",
        "required",
        "optional",
        "str",
        "string",
        "int",
        "bool",
        "bytes",
        "<redacted>",
        "redacted",
        "***",
    }
)
# $TOKEN, ${{ secrets.TOKEN }}, $(cat file), %TOKEN%, process.env.TOKEN, os.environ["TOKEN"]: code
# or configuration that refers to a secret names it, it is not it.
_REFERENCE_RE = re.compile(
    r"\$(?:\{|\(|[A-Z_][A-Z0-9_]*$)|%[A-Za-z_][A-Za-z0-9_]*%$"
    r"|(?:process\.env|os\.environ|os\.getenv|System\.getenv|ENV\[|env\.|secrets\.|vars?\.)"
)
_MARKERS_ONLY_RE = re.compile(r"(?:\[REDACTED\]|\.\.\.\[truncated\]|\s)*")


def _is_secret_value(value: str) -> bool:
    """Whether a string found under a secret label is worth replacing."""
    stripped = value.strip()
    return (
        bool(stripped)
        and stripped.lower() not in _PLAIN_VALUES
        and not _REFERENCE_RE.match(stripped)
        and not _MARKERS_ONLY_RE.fullmatch(stripped)
    )


def _is_secret_payload(value: Any) -> bool:
    """Whether the value of a secret-named key (in a dict or decoded JSON) gets replaced: strings
    as above, numbers, non-empty containers; never booleans or null (nothing to hide)."""
    if isinstance(value, str):
        return _is_secret_value(value)
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (dict, list, tuple)):
        return bool(value)
    return True


# \uXXXX, \xXX and \/ escapes (JSON, JavaScript, Python reprs), with any run of backslashes
# before them (an escape in a string escaped again). Starts only at a run's first backslash, and
# with a literal (see the next section).
_ESCAPE_RE = re.compile(r"\\(?<!\\\\)\\*(?:u(?P<u>[0-9a-fA-F]{4})|x(?P<x>[0-9a-fA-F]{2})|/)")


def _unescaped(text: str) -> str:
    """`text` with the escapes above decoded (and sanitized again), or `text` itself when it has none."""
    if "\\" not in text:
        return text
    plain = text
    for _ in range(_MAX_PASSES):  # \u005c decodes to a backslash, which may start another escape
        decoded = _ESCAPE_RE.sub(_decode_escape, plain)
        if decoded == plain:
            break
        plain = decoded
    return text if plain == text else sanitize_text(plain)


def _decode_escape(match: re.Match[str]) -> str:
    code = match.group("u") or match.group("x")
    return chr(int(code, 16)) if code else "/"


# --- redaction patterns -----------------------------------------------------------------
# Python's regex engine tries an alternation at every position, which costs milliseconds on a
# 60 KB tool input. So each rule runs only when a literal hint occurs in the text (a fast
# substring search), patterns start with a literal (the engine then jumps between its
# occurrences), case-insensitive rules search a lowercased copy with lowercase patterns, and no
# pattern can backtrack over a long run ((?=(?P<x>...))(?P=x) is an atomic group): every rule
# stays linear in the length of the text, whatever an agent writes.

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """`text` lowercased, each character at its position (lower() may lengthen a few characters;
    then only ASCII letters are lowered: the patterns are ASCII)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


# Known credential formats, replaced whole wherever they appear, each with the hints that must
# occur for it to be tried, and for a loose prefix, a test of the body that a real key passes.
# Case-sensitive, as the prefixes are. Open-ended lengths (or repeats), so that two keys glued
# together go in one match (the result is stable when protected again).
# GitLab personal, deploy, runner, trigger, CI job, mail, OAuth, SCIM, feed and agent tokens;
# routable ones end in .xx.yyyyyyy. Too many prefixes to hint at one by one (each hint is a search
# of every string): the hint is "gl", and the gate searches for the prefixes in one pattern.
_GITLAB_KINDS = r"(?:pat|dt|rt|rtr|ptt|cbt|imt|oas|soat|ft|agent)-"
_GITLAB_PREFIX_RE = re.compile("gl" + _GITLAB_KINDS)
_GITLAB_TOKEN = r"gl(?<![A-Za-z0-9]gl)" + _GITLAB_KINDS + r"[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*"
# Package and branch names (sk-learn-contrib-2-extras): lowercase words and numbers joined by '-'.
_HYPHENATED_WORDS_RE = re.compile(r"[a-z]+(?:-(?:[a-z]+|[0-9]+))*")
_DIGIT_RE = re.compile(r"[0-9]")


Replacer = Callable[["re.Match[str]", str], Optional[str]]


def _random_key(match: re.Match[str], text: str) -> Optional[str]:
    """An sk- key whose body reads as random (every real one has a digit: sk-ant-api03-, OpenAI's
    T3BlbkFJ, 150 random characters), not as hyphenated words."""
    body = match.group("body")
    random = bool(_DIGIT_RE.search(body)) and not _HYPHENATED_WORDS_RE.fullmatch(body)
    return REDACTED if random else None


_TOKEN_PATTERNS: Tuple[Tuple[Tuple[str, ...], re.Pattern[str], Optional[Replacer]], ...] = tuple(
    (hints, re.compile(source), accept)
    for hints, source, accept in (
        # Anthropic sk-ant-, OpenAI sk-, sk-proj-, sk-svcacct-, and the providers that copied them
        (("sk-",), r"sk-(?<![A-Za-z0-9]sk-)(?P<body>[A-Za-z0-9_\-]{20,})", _random_key),
        # Stripe
        (("k_live_", "k_test_"), r"[sr]k_(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{10,}", None),
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,}", None),  # GitHub
        (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,}", None),
        (("gl",), _GITLAB_TOKEN, None),
        (  # AWS access key ids: exactly 16 after the prefix, a word of its own (or glued to another)
            ("AKIA", "ASIA"),
            r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?:A(?:KIA|SIA)[A-Z0-9]{16})*(?![A-Za-z0-9])",
            None,
        ),
        (("AIza",), r"AIza[0-9A-Za-z_\-]{35,}", None),  # Google API keys
        (("xox",), r"xox[abposre]-[A-Za-z0-9\-]{10,}", None),  # Slack bot, user, refresh... tokens
        (("xapp-",), r"xapp-[0-9]+-[A-Za-z0-9\-]{10,}", None),  # Slack app-level tokens
        (("npm_",), r"npm_[A-Za-z0-9]{36,}", None),
        (("pypi-",), r"pypi-AgE[A-Za-z0-9_\-]{16,}", None),  # PyPI macaroons: pypi-AgEIcHlwaS5vcmc...
        (
            ("eyJ",),
            r"eyJ(?<![A-Za-z0-9_\-]eyJ)(?=(?P<h>[A-Za-z0-9_\-]{4,}))(?P=h)"  # JWT: header.payload.sig
            r"\.eyJ(?=(?P<p>[A-Za-z0-9_\-]{4,}))(?P=p)\.[A-Za-z0-9_\-]*",
            None,
        ),
    )
)
# PEM private keys: the body between the markers (kept) is replaced; unterminated (cut
# upstream), up to the next "-----" or the end.
_PEM_BEGIN_RE = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END_RE = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_BASE64_CHAR_RE = re.compile(r"[A-Za-z0-9+/]")
# scheme://user:PASSWORD@host: the password runs to the last '@' of the authority.
_URL_PASSWORD_RE = re.compile(r"://[^\s:/?#@\"'`<>]*:(?P<value>[^\s/?#\"'`<>]+)@")
# ADO connection strings (Server=...;Password=my pass;): the value runs to ';', spaces included.
# The label must open the string or follow ';' or a quote (checked in _ado_password).
_ADO_PASSWORD_RE = re.compile(
    r"p(?:assword|wd)[ \t]*=[ \t]*(?!\[redacted\])(?=(?P<value>[^;\s\"'=][^;\r\n=]*))(?P=value)(?=;|\Z)"
)
# A label word, then the rest of the name it is part of, then this: label [quote] separator
# [scheme] value. Separators: = : := => (not == or ::), with spaces (no-break ones included)
# around them, or spaces after a --flag, or a tab (a column of `name<TAB>value`). Values:
# \"escaped\" (JSON inside a string), "double", 'single', `backtick` quoted (all words, to the
# closing quote or the end of the line), or bare up to a space, quote, comma, ';' or '&' ('='
# included: base64 padding). An Authorization scheme word is kept.
_LABEL_RE = re.compile(
    r"token|secret|passw(?:or)?d|pwd|passphrase|credential|auth|cookie"
    r"|(?:api|access|private|signing|encryption|master)[ _.\-]?keys?"
)
_LABEL_WORDS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "passphrase",
    "credential",
    "auth",
    "cookie",
    "api",
    "access",
    "private",
    "signing",
    "encryption",
    "master",
)
_NAME_REST_RE = re.compile(r"[a-z0-9_.\-]*")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_AUTH_SCHEMES = r"(?:bearer|basic|token|digest|negotiate)"
_SPACE = "[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]"  # horizontal whitespace
_SEPARATOR = _SPACE + r"*(?::=|=>|=(?![=~])|:(?![:=]))" + _SPACE + "*"
_QUOTED_VALUE = (
    r"\\\"(?P<v1>(?:(?!\\\").)*)(?:\\\")?"
    r"|\"(?P<v2>(?:[^\"\\\n]|\\.)*)\"?"
    r"|'(?P<v3>(?:[^'\\\n]|\\.)*)'?"
)
_QUOTED_GROUPS = ("v1", "v2", "v3")
_ASSIGNMENT_RE = re.compile(
    r"(?:\\?[\"'`])?\]?"
    r"(?:" + _SEPARATOR + r"|(?P<space>" + _SPACE + r"+)(?=[^\s\-]))"
    r"(?:" + _AUTH_SCHEMES + r"[ \t]+(?=\S))?"
    r"(?:" + _QUOTED_VALUE + r"|`(?P<v4>[^`\n]*)`?"
    r"|(?!" + _AUTH_SCHEMES + r"[ \t]+\S)"
    r"(?P<v5>[^\s\"'`,;&{\[(<)\]}>\\](?:[^\s\"'`,;&\\]|\\(?![nrt\"'`\\]))*))"
)
_VALUE_GROUPS = ("v1", "v2", "v3", "v4", "v5")
# A YAML block scalar after the label (`password: |`): its value is the lines indented below.
_BLOCK_HEADER_RE = re.compile(
    r"(?:[\"'])?" + _SPACE + r"*:" + _SPACE + r"*[|>][1-9]?[+\-]?[1-9]?(?=[ \t]*(?:#[^\n]*)?\r?\n)"
)
# A secret name as the value of a name (or key) field, its value in the value field that follows
# on the same line or the next: Kubernetes `- name: DB_PASSWORD` / `  value: x`, HAR headers, logfmt.
_PAIR_NAME_FIELD_RE = re.compile(
    r"(?:^|[\s{,(\[])(?:-[ \t]+)?\\?[\"']?(?:name|key)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?\Z", re.MULTILINE
)
_PAIR_VALUE_FIELD_RE = re.compile(
    r"\\?[\"']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*(?:-[ \t]+)?)?\\?[\"']?(?P<key>value)(?=\\?[\"']?[ \t]*[:=])"
)
# A quoted secret name opening a [name, value] pair in a list: [["X-Api-Key", "x"]], [('a', 'b')].
_LISTED_PAIR_OPEN_RE = re.compile(r"[\[(,][ \t]*[\[(][ \t]*\\?[\"']\Z")
_LISTED_PAIR_RE = re.compile(r"\\?[\"'][ \t]*,[ \t]*(?:" + _QUOTED_VALUE + ")")
_PAIR_NAME_WINDOW = 24  # characters before the name in which its field's name (or list) must be
# The same in decoded JSON and events: {"name": ..., "value": ...} with a few more fields at most.
_PAIR_NAME_KEYS = ("name", "Name", "NAME", "key", "Key", "KEY")
_PAIR_VALUE_KEYS = ("value", "Value", "VALUE")
_PAIR_MAX_FIELDS = 8
# "Bearer x" and "Basic x" outside an Authorization header: prose says "bearer token" too, so a
# Bearer credential must not read as words, and a Basic one must decode to user:password.
_BEARER_RE = re.compile(r"bearer(?<![a-z0-9_]bearer)[ \t]+(?P<value>[a-z0-9._~+/\-]+=*)")
_BASIC_RE = re.compile(
    r"basic(?<![a-z0-9_]basic)[ \t]+(?P<value>(?=(?P<run>[a-z0-9+/]{4,}))(?P=run)={0,2})(?![a-z0-9+/=])"
)
# Credentials on a command line that no label names. A Cookie (or Set-Cookie) header: its whole
# value, every cookie, to the end of the line or the closing quote.
_COOKIE_HEADER_RE = re.compile(r"cookie(?<![a-z0-9_]cookie)[ \t]*:[ \t]*(?P<value>[^\r\n\"'`\\]+)")
# curl -u/--user user:PASSWORD (also -U/--proxy-user, and attached: -uuser:pass).
_USER_FLAGS = ("-u", "-U", "--user", "--proxy-user")
_USER_FLAG_RE = re.compile(
    r"-(?<!\S-)(?:u|U|-user|-proxy-user)(?:[ \t]+|=)?[\"']?"
    r"(?P<user>[^\s:\"'`]*):(?P<value>[^\s\"'`]+)"
)
# Commands whose -p takes a password, within the command's own segment of the line, and whether
# it may be a separate argument: mysql's only attached, -pPASSWORD ("-p name" prompts, then names a
# database); sshpass's, the registry logins' and twine's also "-p PASSWORD".
_PASSWORD_PROGRAMS = {
    "mysql": False,
    "mysqldump": False,
    "mysqladmin": False,
    "mysqlimport": False,
    "mysqlshow": False,
    "mysqlcheck": False,
    "mariadb": False,
    "mariadb-dump": False,
    "mariadb-admin": False,
    "sshpass": True,
    "docker login": True,
    "podman login": True,
    "buildah login": True,
    "skopeo login": True,
    "nerdctl login": True,
    "oras login": True,
    "helm registry login": True,
    "twine": True,
}
_PASSWORD_PROGRAM_RE = re.compile(
    r"(?<![\w.\-])(?:"
    + "|".join(program.replace(" ", r"[ \t]+") for program in _PASSWORD_PROGRAMS)
    + r")(?![\w.\-])"
)
_SEGMENT_END_RE = re.compile(r"[\n|;&]")
_DASH_P_RE = re.compile(r"-(?<!\S-)p(?P<space>[ \t]*)[\"']?(?P<value>[^\s\"'`;|&]+)")
_WORDS_RE = re.compile(r"[A-Za-z][a-z]*(?:[-.'][A-Za-z][a-z]*)*\.?")
# Every rule needs one of these (or an exact value, or a GitLab token); a string with none is
# returned untouched.
_CASE_HINTS = (
    "sk-",
    "k_live_",
    "k_test_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "AIza",
    "xox",
    "xapp-",
    "npm_",
    "pypi-",
    "eyJ",
    "PRIVATE KEY",
    "://",
)
_LOWER_HINTS = (
    "token",
    "secret",
    "pass",
    "pwd",
    "credential",
    "auth",
    "bearer",
    "basic",
    "key",
    "cookie",
    "-u",
    "--user",
    "--proxy-user",
    "-p",
)


def _has_hint(text: str, hints: Sequence[str]) -> bool:
    for hint in hints:
        if hint in text:
            return True
    return False


def _redact_patterns(text: str) -> str:
    """Every pattern rule, in order, each only where its hint occurs."""
    if "PRIVATE KEY" in text:
        text = _redact_pem(text)
    if "://" in text:
        text = _substitute(text, text, _URL_PASSWORD_RE, _password_value)
    for hints, pattern, accept in _TOKEN_PATTERNS:
        if _has_hint(text, hints):
            text = pattern.sub(REDACTED, text) if accept is None else _substitute(text, text, pattern, accept)
    low = _fold(text)
    if "pwd" in low or "password" in low:
        text = _substitute(text, low, _ADO_PASSWORD_RE, _ado_password)
    text = _redact_command_line(text)
    text = _redact_labelled(text)
    low = _fold(text)
    if "bearer" in low:
        text = _substitute(text, low, _BEARER_RE, _bearer_value)
        low = _fold(text)
    if "basic" in low:
        text = _substitute(text, low, _BASIC_RE, _basic_value)
    return text


def _substitute(text: str, haystack: str, pattern: re.Pattern[str], replace: Replacer) -> str:
    """Each match of `pattern` in `haystack` (text or its _fold, same positions) replaced in
    `text` by replace(match, text), unless that returns None."""
    pieces: List[str] = []
    done = 0
    for match in pattern.finditer(haystack):
        replacement = replace(match, text)
        if replacement is None:
            continue
        pieces.append(text[done : match.start()])
        pieces.append(replacement)
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _replace_group(match: re.Match[str], text: str, group: str) -> str:
    """The matched text with one group replaced by REDACTED, what surrounds it (label, quotes) kept."""
    return text[match.start() : match.start(group)] + REDACTED + text[match.end(group) : match.end()]


def _password_value(match: re.Match[str], text: str) -> Optional[str]:
    already = text[match.start("value") : match.end("value")] == REDACTED
    return None if already else _replace_group(match, text, "value")


def _ado_password(match: re.Match[str], text: str) -> Optional[str]:
    start = match.start()
    opens = start == 0 or text[start - 1] in ";\"'" or text[start - 2 : start] == "; "
    directory = text.startswith("PWD", start) and match.group("value")[:1] in ("/", "~")  # the shell's $PWD
    return _password_value(match, text) if opens and not directory else None


def _bearer_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    return _replace_group(match, text, "value") if _looks_like_credential(value) else None


def _basic_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    if ":" not in decoded or not decoded.isprintable():
        return None
    return _replace_group(match, text, "value")


def _redact_command_line(text: str) -> str:
    """Cookie headers, curl's user:password, mysql's -pPASSWORD and sshpass -p PASSWORD."""
    low = _fold(text)
    if "cookie" in low:
        text = _substitute(text, low, _COOKIE_HEADER_RE, _password_value)
    if "-u" in text or "-U" in text:
        text = _substitute(text, text, _USER_FLAG_RE, _user_password)
    if "-p" in text and _PASSWORD_PROGRAM_RE.search(text):
        text = _redact_dash_p(text)
    return text


def _user_password(match: re.Match[str], text: str) -> Optional[str]:
    """user:PASSWORD, unless it reads as user:group (`docker run -u 1000:1000`, `-u root:root`)."""
    value = match.group("value")
    if value == match.group("user") or value.isdigit() or not _is_secret_value(value):
        return None
    return _replace_group(match, text, "value")


def _redact_dash_p(text: str) -> str:
    pieces: List[str] = []
    done = segment_end = 0
    for program in _PASSWORD_PROGRAM_RE.finditer(text):
        if program.start() < segment_end:
            continue  # in the segment just handled
        boundary = _SEGMENT_END_RE.search(text, program.end())
        segment_end = boundary.start() if boundary else len(text)
        attached_only = not _PASSWORD_PROGRAMS[" ".join(program.group().split())]
        for flag in _DASH_P_RE.finditer(text, program.end(), segment_end):
            if (attached_only and flag.group("space")) or not _is_secret_value(flag.group("value")):
                continue
            pieces.extend((text[done : flag.start("value")], REDACTED))
            done = flag.end("value")
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _looks_like_credential(value: str) -> bool:
    """Long enough, and not words ("bearer token-based auth")."""
    return len(value) >= MIN_SECRET_LENGTH and not _WORDS_RE.fullmatch(value)


def _redact_pem(text: str) -> str:
    ends = [match.start() for match in _PEM_END_RE.finditer(text)]  # found once, not per BEGIN
    pieces: List[str] = []
    done = index = 0
    for begin in _PEM_BEGIN_RE.finditer(text):
        if begin.start() < done:
            continue
        while index < len(ends) and ends[index] < begin.end():
            index += 1
        if index < len(ends):
            body_end = ends[index]
        else:  # unterminated: to the next "-----" or the end
            body_end = text.find("-----", begin.end())
            body_end = len(text) if body_end < 0 else body_end
        body = text[begin.end() : body_end]
        if not _BASE64_CHAR_RE.search(body.replace(REDACTED, "").replace(TRUNCATED_MARKER, "")):
            continue  # nothing left to hide (already redacted, or cut right after BEGIN)
        pieces.extend((text[done : begin.end()], REDACTED))
        done = body_end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _label_starts(low: str) -> List[int]:
    starts = set()
    for word in _LABEL_WORDS:
        at = low.find(word)
        while at >= 0:
            starts.add(at)
            at = low.find(word, at + 1)
    return sorted(starts)


def _redact_labelled(text: str) -> str:
    """Replace the values of secret-labelled assignments, headers, flags, YAML block scalars and
    name/value pairs, labels kept; and the other occurrences in the text of those values that look
    like credentials (not words: `token=function` must not erase every "function")."""
    low = _fold(text)
    pieces: List[str] = []
    found: List[str] = []
    done = pos = 0
    for start in _label_starts(low):
        label = _LABEL_RE.match(low, start) if start >= pos else None
        if label is None:
            continue
        rest = _NAME_REST_RE.match(low, label.end())
        name_end = rest.end() if rest else label.end()
        pos = name_end  # later label words in this name make the same name: judged once
        name_start = start
        while name_start > done and text[name_start - 1] in _NAME_CHARS:  # csrf_token, AWS_SECRET_...
            name_start -= 1
        span = _labelled_value(text, low, name_start, name_end)
        if span is None:
            continue  # pos is past the name only: the value may itself hold a labelled secret
        value = text[span[0] : span[1]]
        pieces.extend((text[done : span[0]], REDACTED))
        done = pos = span[1]
        if _looks_like_credential(value):
            found.append(value)
    if not pieces:
        return text
    pieces.append(text[done:])
    redacted = "".join(pieces)
    for value in sorted(set(found), key=lambda value: (-len(value), value)):  # longest first, each once
        redacted = redacted.replace(value, REDACTED)
    return redacted


def _labelled_value(text: str, low: str, name_start: int, name_end: int) -> Optional[Tuple[int, int]]:
    """Where the secret value of the name text[name_start:name_end] is, if it names one: after
    the name, or, the name being a name field's value, after the value field that follows."""
    name = text[name_start:name_end]
    if not is_secret_name(name):
        return None
    span = _value_after(text, low, name_start, name_end, name.startswith("-"))
    if span is None:
        span = _paired_value(text, low, name_start, name_end)
    return span if span is not None and _is_secret_value(text[span[0] : span[1]]) else None


def _paired_value(text: str, low: str, name_start: int, name_end: int) -> Optional[Tuple[int, int]]:
    """The value paired with a name that is itself a value: the value field after the name field
    holding it (`- name: DB_PASSWORD` / `  value: x`, `"name": "X-Api-Key", "value": "x"`), or the
    second item of a [name, value] pair in a list (`[("X-Api-Key", "x")]`)."""
    window = max(low.rfind("\n", 0, name_start) + 1, name_start - _PAIR_NAME_WINDOW)
    field = _PAIR_VALUE_FIELD_RE.match(low, name_end)
    if field is not None and _PAIR_NAME_FIELD_RE.search(low, window, name_start):
        return _value_after(text, low, field.start("key"), field.end("key"), False)
    pair = _LISTED_PAIR_RE.match(low, name_end)
    if pair is not None and _LISTED_PAIR_OPEN_RE.search(low, window, name_start):
        group = next(group for group in _QUOTED_GROUPS if pair.start(group) >= 0)
        return pair.start(group), pair.end(group)
    return None


def _value_after(text: str, low: str, key_start: int, key_end: int, flag: bool) -> Optional[Tuple[int, int]]:
    """The span of the value assigned to the key text[key_start:key_end]: a block scalar's lines,
    or what _ASSIGNMENT_RE finds (space-separated only after a --flag or with a tab)."""
    block = _BLOCK_HEADER_RE.match(low, key_end)
    if block is not None:
        return _block_scalar(text, key_start, block.end())
    match = _ASSIGNMENT_RE.match(low, key_end)
    if match is None:
        return None
    space = match.group("space")
    if space is not None and not flag and "\t" not in space:  # "--token v", not prose "token v"
        return None
    group = next(group for group in _VALUE_GROUPS if match.start(group) >= 0)
    return match.start(group), match.end(group)


def _block_scalar(text: str, key_start: int, header_end: int) -> Optional[Tuple[int, int]]:
    """The content of the YAML block scalar whose header ends at header_end: from its first
    non-blank character to the end of its last line indented deeper than the key's line (its
    "- " list markers included); None if empty."""
    before_key = text[text.rfind("\n", 0, key_start) + 1 : key_start]
    column = len(before_key) - len(before_key.lstrip(" \t-"))
    line_start = text.find("\n", header_end) + 1
    first = end = -1
    while 0 < line_start < len(text):
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[line_start:line_end]
        content = line.lstrip(" \t")
        if content.strip():  # blank lines neither end the block nor belong to it
            indent = len(line) - len(content)
            if indent <= column:
                break
            first = line_start + indent if first < 0 else first
            end = line_start + len(line.rstrip())
        line_start = line_end + 1
    return (first, end) if first >= 0 else None


def _redact_argv(items: List[Any]) -> bool:
    """An argument vector ["mysql", "--password", "x"]: the item after a secret-named flag without
    its own value is replaced (in place), as are the password of ["curl", "-u", "user:password"],
    mysql's ["-pPASSWORD"] and sshpass's (or docker login's) ["-p", "PASSWORD"]. Whether anything was."""
    program = _password_program(items)
    changed = False
    for index, flag in enumerate(items):
        if not isinstance(flag, str) or not flag.startswith("-"):
            continue
        value = items[index + 1] if index + 1 < len(items) else None
        if (
            program in _PASSWORD_PROGRAMS
            and flag.startswith("-p")
            and len(flag) > 2
            and _is_secret_value(flag[2:])
        ):
            items[index] = "-p" + REDACTED
        elif not isinstance(value, str):
            continue
        elif flag in _USER_FLAGS and ":" in value:
            user, _, password = value.partition(":")
            if password == user or password.isdigit() or not _is_secret_value(password):
                continue
            items[index + 1] = f"{user}:{REDACTED}"
        elif (flag == "-p" and _PASSWORD_PROGRAMS.get(program, False)) or (
            "=" not in flag and is_secret_name(flag)
        ):
            if not _is_secret_value(value):
                continue
            items[index + 1] = REDACTED
        else:
            continue
        changed = True
    return changed


def _redact_list(items: List[Any]) -> bool:
    """A list's credentials (see _redact_argv and _redact_listed_pairs), replaced in place;
    whether there were any."""
    changed = _redact_argv(items)
    return _redact_listed_pairs(items) or changed


def _redact_listed_pairs(items: List[Any]) -> bool:
    """A list of [name, value] pairs (HTTP header lists, dict items as JSON): the value of each
    pair a secret name labels is replaced, in place. Whether one was."""
    changed = False
    for item in items:
        if (
            isinstance(item, list)
            and len(item) == 2
            and _names_a_secret(item[0])
            and _is_secret_payload(item[1])
        ):
            item[1] = REDACTED
            changed = True
    return changed


def _redact_pair(mapping: Dict[str, Any]) -> bool:
    """An object {"name": "DB_PASSWORD", "value": "x"} (Kubernetes env, HAR headers, Postman and
    Terraform variables): the value its secret name labels is replaced, in place. Whether it was."""
    if len(mapping) > _PAIR_MAX_FIELDS:
        return False
    for value_key in _PAIR_VALUE_KEYS:
        if value_key in mapping:
            break
    else:
        return False
    if not _is_secret_payload(mapping[value_key]):
        return False
    if not any(_names_a_secret(mapping.get(key)) for key in _PAIR_NAME_KEYS):
        return False
    mapping[value_key] = REDACTED
    return True


def _names_a_secret(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= _CACHE_CHARS and is_secret_name(name)


def _password_program(items: List[Any]) -> str:
    """The entry of _PASSWORD_PROGRAMS an argument vector runs ("docker login"), or ""."""
    words = [item for item in items[:3] if isinstance(item, str)]
    if words:
        words[0] = os.path.basename(words[0])
    for size in (3, 2, 1):
        program = " ".join(words[:size])
        if program in _PASSWORD_PROGRAMS:
            return program
    return ""


def _unique_pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    # A repeated key would hide its first value from the by-key pass; such text is redacted as text.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _unique_key(mapping: Mapping[str, Any], key: str) -> str:
    """Two keys that redact (or cut) to the same text both stay: the later one gets a suffix."""
    if key not in mapping:
        return key
    number = 2
    while f"{key}~{number}" in mapping:
        number += 1
    return f"{key}~{number}"


class _JsonTooDeep(Exception):
    pass


# --- which environment values are secrets -----------------------------------------------

_ENV_SECRET_NAME_RE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)
# Variables that point at a secret rather than hold one (SSH_AUTH_SOCK, GOOGLE_..._KEY_FILE) or
# describe it (GEMINI_AUTH_TYPE).
_ENV_POINTER_WORDS = frozenset(
    {
        "sock",
        "socket",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "home",
        "type",
        "mode",
        "method",
        "kind",
        "provider",
        "region",
    }
)
# Values that are words, not secrets: erasing them everywhere would wreck the log.
_COMMON_VALUES = frozenset(
    {
        "disabled",
        "enabled",
        "required",
        "optional",
        "undefined",
        "password",
        "passwords",
        "secret",
        "secrets",
        "localhost",
        "anonymous",
        "readonly",
        "read-only",
        "readwrite",
        "default",
        "github-actions",
        "oauth-personal",
        "gemini-api-key",
    }
)
# An absolute path under a well-known top directory (XAUTHORITY=/run/user/1000/gdm/Xauthority):
# a base64 secret may start with '/', but not with '/usr/' or '/home/'.
_SYSTEM_PATH_RE = re.compile(
    r"(?:~|/(?:usr|home|tmp|var|run|etc|opt|bin|sbin|lib|lib64|dev|proc|sys|mnt|media|srv|root|nix|snap"
    r"|Users|Library|Applications|System|private|Volumes|__w|github))(?:/\S*)?"
)


def secret_values_from_env(environ: Mapping[str, str], extra: Iterable[str] = ()) -> List[str]:
    """The values to redact wherever they appear: those (8+ characters) of variables whose name
    looks secret, and `extra` (the receiver token); longest first, so a longer value that
    contains a shorter one is replaced whole."""
    values = {
        value.strip()
        for name, value in environ.items()
        if _ENV_SECRET_NAME_RE.search(name) and not _names_a_pointer(name) and _plausible_secret(value)
    }
    values.update(value.strip() for value in extra if len(value.strip()) >= MIN_SECRET_LENGTH)
    return sorted(values, key=lambda value: (-len(value), value))


def _names_a_pointer(name: str) -> bool:
    words = _NAME_WORD_RE.findall(name)
    return bool(words) and words[-1].lower() in _ENV_POINTER_WORDS


def _plausible_secret(value: str) -> bool:
    """Long enough, and not a number, a common word or a system path (see the sets above)."""
    value = value.strip()
    return (
        len(value) >= MIN_SECRET_LENGTH
        and not value.isdigit()
        and value.lower() not in _COMMON_VALUES
        and not _SYSTEM_PATH_RE.fullmatch(value)
    )


_PERCENT_ESCAPE_RE = re.compile(r"%[0-9A-F]{2}")


def _exact_forms(value: str) -> List[str]:
    # The value as written, as sanitized text shows it, as it appears in a JSON string, and
    # percent-encoded as URLs and forms carry it: '/' kept or not, '+' or %20 for a space, upper-
    # or lowercase hex (a JSON string's \/ and \u escapes are decoded before matching instead).
    encoded = [
        quote(value, safe=safe)
        for quote in (urllib.parse.quote, urllib.parse.quote_plus)
        for safe in ("", "/")
    ]
    return [
        value,
        sanitize_text(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        *encoded,
        *(_PERCENT_ESCAPE_RE.sub(lambda escape: escape.group().lower(), form) for form in encoded),
    ]


# --- the protector ----------------------------------------------------------------------


class _Findings:
    """What protecting one event did, and an upper bound of its serialized size."""

    __slots__ = ("bound", "redacted", "truncated")

    def __init__(self) -> None:
        self.redacted = False
        self.truncated = False
        self.bound = 2


class Protector:
    """Sanitizes, redacts, truncates and caps events (EVENTS.md "Protection"), for one capture.

    `secret_values` are replaced wherever they appear as a plain substring (also URL-encoded,
    JSON-escaped, or written with \\u escapes); values shorter than MIN_SECRET_LENGTH are
    ignored. Results for short strings are cached (events repeat most of their keys and values)."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        forms = {
            form
            for value in secret_values
            if len(value) >= MIN_SECRET_LENGTH
            for form in _exact_forms(value)
            if len(form) >= MIN_SECRET_LENGTH
        }
        # Longest first: a value that contains another is replaced whole.
        self._exact = sorted(forms, key=lambda form: (-len(form), form))
        self._strings: Dict[str, Tuple[str, bool]] = {}
        self._keys: Dict[str, Tuple[str, bool, int, bool, int]] = {}

    # --- one string ---------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """`text` sanitized and redacted (not truncated)."""
        return self._redact(sanitize_text(text), 0)

    def protect_text(self, text: str, limit: int = FIELD_BYTES) -> str:
        """`text` sanitized, redacted, then truncated to `limit` bytes."""
        return self._redact_and_cut(sanitize_text(text), limit)[0]

    def _redact_and_cut(self, clean: str, limit: int) -> Tuple[str, bool, bool]:
        """Redacted, then cut to `limit` bytes: (result, whether cut, whether redacted). A cut can
        turn text no rule matched into text one does (a connection string now ending at the cut),
        so what is kept is redacted again until stable: protecting it again must not change it."""
        redacted = self._redact(clean, 0)
        found = redacted.count(REDACTED) > clean.count(REDACTED)
        result, cut = truncate_utf8(redacted, limit)
        for _ in range(_MAX_PASSES):
            if not cut:
                break
            head = result[: -len(TRUNCATED_MARKER)]
            again = self._redact(head, 0)
            if again == head:
                break
            found = True
            result = truncate_utf8(again + TRUNCATED_MARKER, limit)[0]
        return result, cut, found

    def _redact(self, text: str, depth: int) -> str:
        if text.endswith(TRUNCATED_MARKER):  # a cut's marker is not content: no value runs into it
            core = text
            while core.endswith(TRUNCATED_MARKER):
                core = core[: -len(TRUNCATED_MARKER)]
            return self._redact(core, depth) + text[len(core) :]
        redacted = self._redact_as_written(text, depth)
        # An escape can hide a secret from every rule (\u0067hp_...): what the text says once its
        # escapes are decoded is redacted too, and replaces the text when that found more.
        plain = _unescaped(redacted)
        if plain is redacted:
            return redacted
        again = self._redact_as_written(plain, depth)
        return redacted if again == plain else again

    def _redact_as_written(self, text: str, depth: int) -> str:
        if not self._has_hint(text):
            return text
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]") and depth < _MAX_JSON_DEPTH:
            structured = self._redact_json(text, depth)
            if structured is not None:
                return structured
        # Until nothing changes: a replacement can uncover a neighbour (AKIA... glued to AKIA...),
        # and the result must not change when protected again.
        for _ in range(_MAX_PASSES):
            redacted = _redact_patterns(self._redact_exact(text))
            if redacted == text:
                break
            text = redacted
        return text

    def _redact_exact(self, text: str) -> str:
        # Before the patterns: one could replace part of an exact value and hide the rest from it.
        for value in self._exact:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _has_hint(self, text: str) -> bool:
        return (
            _has_hint(text, _CASE_HINTS)
            or _has_hint(text.lower(), _LOWER_HINTS)
            or _has_hint(text, self._exact)
            or ("gl" in text and _GITLAB_PREFIX_RE.search(text) is not None)
        )

    def _redact_json(self, text: str, depth: int) -> Optional[str]:
        """A string holding a JSON object or array, redacted by key and value and re-serialized
        compactly; the text itself when nothing changed; None when it is not JSON."""
        try:
            decoded = json.loads(text, object_pairs_hook=_unique_pairs)
        except (ValueError, RecursionError):
            return None
        if not isinstance(decoded, (dict, list)):
            return None
        try:
            redacted, changed = self._redact_structure(decoded, depth + 1)
        except (_JsonTooDeep, RecursionError):
            return None
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")) if changed else text

    def _redact_structure(self, value: Any, depth: int) -> Tuple[Any, bool]:
        if isinstance(value, str):
            result = self._redact(sanitize_text(value), depth)
            return result, result != value
        if depth > _MAX_JSON_DEPTH:
            raise _JsonTooDeep()
        if isinstance(value, list):
            items = [self._redact_structure(item, depth + 1) for item in value]
            redacted = [item for item, _ in items]
            return redacted, _redact_list(redacted) or any(changed for _, changed in items)
        if isinstance(value, dict):
            return self._redact_object(value, depth)
        return value, False

    def _redact_object(self, value: Dict[str, Any], depth: int) -> Tuple[Dict[str, Any], bool]:
        """A decoded JSON object: the value of a secret-named key replaced whole, the rest redacted."""
        result: Dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            new_key, key_changed = self._redact_structure(key, depth)
            if is_secret_name(new_key) and _is_secret_payload(item):
                new_item, item_changed = REDACTED, item != REDACTED
            else:
                new_item, item_changed = self._redact_structure(item, depth + 1)
            result[_unique_key(result, new_key)] = new_item
            changed = changed or key_changed or item_changed
        return result, _redact_pair(result) or changed

    # --- one event ----------------------------------------------------------------------

    def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """A protected copy of `event` (the input is not changed): every string, keys included,
        sanitized, redacted, truncated; `content.redacted` and `field_truncated` set when that
        happened; the serialized line at most MAX_LINE_BYTES (a minimal event when nothing else fits)."""
        findings = _Findings()
        protected: Dict[str, Any] = self._protect_mapping(event, findings, 0)
        if findings.redacted:
            _mark_redacted(protected)
        if findings.truncated:
            protected["field_truncated"] = True
        if findings.bound + 64 <= MAX_LINE_BYTES:  # cannot be too long: no need to serialize
            return protected
        return _fit_line(protected, findings.redacted, self._cut)

    def _cut(self, text: str, limit: int) -> Tuple[str, bool]:
        """A protected string cut shorter, and still stable under protection (see _redact_and_cut)."""
        result, cut, _ = self._redact_and_cut(text, limit)
        return result, cut

    def _protect_mapping(self, mapping: Mapping[Any, Any], findings: _Findings, depth: int) -> Any:
        if depth >= _MAX_EVENT_DEPTH:
            return _cut_too_deep(findings)
        result: Dict[str, Any] = {}
        bound = 2 + 2 * len(mapping)
        keys, strings = self._keys, self._strings
        # The hot loop of protection: cached keys and short values are looked up inline.
        for key, value in mapping.items():
            facts = keys.get(key) if type(key) is str else None
            if facts is None:
                facts = self._learn_key(key, findings)
            new_key, secret, limit, key_redacted, key_size = facts
            bound += key_size
            if key_redacted:
                findings.redacted = True
            if secret and _is_secret_payload(value):
                findings.redacted = findings.redacted or value != REDACTED
                bound += 12
                value = REDACTED
            elif type(value) is str:
                known = strings.get(value)
                if known is None:
                    value = self._protect_string(value, limit, findings)
                else:
                    value = known[0]
                    bound += 4 * len(value) + 3
                    if known[1]:
                        findings.redacted = True
            else:
                value = self._protect_value(value, limit, findings, depth)
            if new_key in result:
                new_key = _unique_key(result, new_key)
            result[new_key] = value
        if _redact_pair(result):
            findings.redacted = True
            bound += len(REDACTED) + 2
        findings.bound += bound
        return result

    def _learn_key(self, key: Any, findings: _Findings) -> Tuple[str, bool, int, bool, int]:
        """A key's facts: protected, whether it names a secret, the byte limit of its string
        values, whether protecting it redacted, its serialized size bound. Cached."""
        name = (
            key
            if isinstance(key, str)
            else json.dumps(key)
            if key is None or isinstance(key, bool)
            else str(key)
        )
        mark = _Findings()
        new_key = self._protect_string(name, FIELD_BYTES, mark)
        # Judged by the protected name, as a second protection will see it.
        facts = (new_key, is_secret_name(new_key), _limit_for(new_key), mark.redacted, 4 * len(new_key) + 3)
        if type(key) is str and len(key) <= _CACHE_CHARS:
            if len(self._keys) >= _CACHE_ENTRIES:
                self._keys.clear()
            self._keys[key] = facts
        findings.truncated = findings.truncated or mark.truncated
        return facts

    def _protect_value(self, value: Any, limit: int, findings: _Findings, depth: int) -> Any:
        if isinstance(value, str):
            return self._protect_string(value, limit, findings)
        if isinstance(value, dict):
            return self._protect_mapping(value, findings, depth + 1)
        if isinstance(value, (list, tuple, set, frozenset)):
            if depth + 1 >= _MAX_EVENT_DEPTH:
                return _cut_too_deep(findings)
            findings.bound += 2 + len(value)
            items = [self._protect_value(item, limit, findings, depth + 1) for item in value]
            if _redact_list(items):
                findings.redacted = True
            return items
        if value is None or isinstance(value, bool):
            findings.bound += 5
            return value
        if isinstance(value, int):
            findings.bound += len(str(value))
            return value
        if isinstance(value, float):
            findings.bound += 32
            # The writer refuses NaN and infinities (not JSON): keep them as words.
            return (
                value
                if math.isfinite(value)
                else "NaN"
                if value != value
                else "Infinity"
                if value > 0
                else "-Infinity"
            )
        if isinstance(value, (bytes, bytearray)):
            return self._protect_string(bytes(value).decode("utf-8", "replace"), limit, findings)
        return self._protect_string(str(value), limit, findings)

    def _protect_string(self, text: str, limit: int, findings: _Findings) -> str:
        known = self._strings.get(text)
        if known is not None:
            result, redacted = known
        else:
            result, truncated, redacted = self._redact_and_cut(sanitize_text(text), limit)
            findings.truncated = findings.truncated or truncated
            if len(text) <= _CACHE_CHARS:  # too short to be cut at any limit we use
                if len(self._strings) >= _CACHE_ENTRIES:
                    self._strings.clear()
                self._strings[text] = (result, redacted)
        findings.redacted = findings.redacted or redacted
        findings.bound += 4 * len(result) + 3  # UTF-8 and JSON escapes: at most 4 bytes a character
        return result


def _cut_too_deep(findings: _Findings) -> str:
    findings.truncated = True
    findings.bound += 20
    return TRUNCATED_MARKER


def _limit_for(name: str) -> int:
    last = _COLLISION_SUFFIX_RE.sub("", name).rsplit(".", 1)[-1].lower()
    return LONG_FIELD_BYTES if last in LONG_FIELD_NAMES else FIELD_BYTES


def _mark_redacted(event: Dict[str, Any]) -> None:
    """content.redacted = true (content is an object; a foreign non-object one is kept inside)."""
    content = event.get("content")
    if isinstance(content, dict):
        content["redacted"] = True
    elif content is None:
        event["content"] = {"redacted": True}
    else:
        event["content"] = {"value": content, "redacted": True}


# --- the line cap -----------------------------------------------------------------------


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


Cutter = Callable[[str, int], Tuple[str, bool]]


def _fit_line(event: Dict[str, Any], redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """`event` (changed in place) within MAX_LINE_BYTES: raw strings cut, then raw members
    dropped (not the identifying ones), then message cut; else a minimal event saying so."""
    size = _json_size(event)
    if size <= MAX_LINE_BYTES:
        return event
    original = size
    if not event.get("field_truncated"):
        event["field_truncated"] = True
        size += len(',"field_truncated":true')
    size = _shrink_raw(event, size, cut)
    if size > MAX_LINE_BYTES and isinstance(event.get("message"), str):
        size = _shrink_string(event, "message", MESSAGE_SHRUNK_BYTES, size, cut)
    if size <= MAX_LINE_BYTES and _json_size(event) <= MAX_LINE_BYTES:  # the arithmetic, checked
        return event
    return _minimal_event(event, original, redacted, cut)


def _shrink_raw(event: Dict[str, Any], size: int, cut: Cutter) -> int:
    if "raw" not in event:
        return size
    leaves = sorted(_string_leaves(event, "raw"), key=lambda leaf: -_json_size(leaf[0][leaf[1]]))
    for container, key in leaves:  # the largest strings first
        if size <= MAX_LINE_BYTES:
            return size
        size = _shrink_string(container, key, RAW_SHRUNK_BYTES, size, cut)
    raw = event["raw"]
    if isinstance(raw, dict):
        members = sorted(
            (key for key in raw if key not in RAW_IDENTITY), key=lambda key: -_json_size(raw[key])
        )
        for key in members:  # then the largest members, whole
            if size <= MAX_LINE_BYTES:
                break
            size -= _json_size(key) + 1 + _json_size(raw[key]) + (1 if len(raw) > 1 else 0)
            del raw[key]
    elif isinstance(raw, list):
        while raw and size > MAX_LINE_BYTES:
            largest = max(range(len(raw)), key=lambda index: _json_size(raw[index]))
            size -= _json_size(raw[largest]) + (1 if len(raw) > 1 else 0)
            del raw[largest]
    return size


def _string_leaves(container: Any, key: Any) -> Iterator[Tuple[Any, Any]]:
    """(container, key) of every string under container[key], itself included."""
    value = container[key]
    if isinstance(value, str):
        yield container, key
    elif isinstance(value, dict):
        for inner in value:
            yield from _string_leaves(value, inner)
    elif isinstance(value, list):
        for index in range(len(value)):
            yield from _string_leaves(value, index)


def _shrink_string(container: Any, key: Any, limit: int, size: int, cut: Cutter) -> int:
    """Cut container[key] to `limit` bytes; the line's new size (the JSON string's length changes)."""
    before = container[key]
    after, was_cut = cut(before, limit)
    if not was_cut:
        return size
    container[key] = after
    return size - _json_size(before) + _json_size(after)


def _minimal_event(event: Dict[str, Any], size: int, redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """The required fields only, each object reduced to its first scalar members, and a message
    saying what happened. The second setting fits whatever the input: 12 fields x 16 members x
    (32-byte key + 64-byte value, doubled by JSON escapes) stays far below the cap."""
    minimal: Dict[str, Any] = {}
    for strings, members in ((256, 32), (64, 16)):
        minimal = {
            name: _small(event[name], strings, members, cut) for name in MINIMAL_EVENT_FIELDS if name in event
        }
        minimal["message"] = f"event too large: {size} bytes; content dropped"
        minimal["field_truncated"] = True
        if redacted:
            minimal["content"] = {"redacted": True}
        if _json_size(minimal) <= MAX_LINE_BYTES:
            break
    return minimal


def _small(value: Any, strings: int, members: int, cut: Cutter) -> Any:
    if isinstance(value, str):
        return cut(value, strings)[0]
    if isinstance(value, dict):
        # event.kind/action/category/id first: they must survive the member limit.
        keys = sorted(value, key=lambda key: key not in ("kind", "action", "category", "id", "name"))
        scalars = [key for key in keys if value[key] is None or isinstance(value[key], (str, int, float))]
        return {
            cut(key, strings // 2)[0]: _small(value[key], strings, members, cut) for key in scalars[:members]
        }
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return TRUNCATED_MARKER


# --- end protect ------------------------------------------------------------------------


# --- write: JSON Lines, 0600, O_APPEND, one write per line, fsync at the end -------------


def event_line(event: Mapping[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode(
        "utf-8"
    )


class EventWriter:
    """Appends events to the log. Each line is one os.write on an O_APPEND descriptor, so
    several captures (or processes) appending to one log never interleave within a line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = 0
        self.failed = 0
        self.last_error: Optional[str] = None
        flags = (
            os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        )  # RDWR: see _discard_torn_line
        try:
            self._fd: Optional[int] = os.open(path, flags, 0o600)
            os.fchmod(self._fd, 0o600)  # an existing log may have been created wider
        except OSError as exc:
            raise BeaconError(f"cannot write the log {path}: {exc.strerror}") from None

    def write(self, event: Mapping[str, Any]) -> bool:
        """Append one event; a failure (disk full) is counted and reported, never raised."""
        line = event_line(event)
        try:
            assert self._fd is not None, "write after close"
            written = os.write(self._fd, line)
            if written != len(line):
                self._discard_torn_line(line[:written])
                raise OSError(errno.ENOSPC, "short write: is the disk full?")
        except OSError as exc:
            self.failed += 1
            self.last_error = self.last_error or exc.strerror or str(exc)  # the first says most
            return False
        self.written += 1
        return True

    def _discard_torn_line(self, fragment: bytes) -> None:
        """Remove the start of a line a full disk cut short, so no torn line stays in the log.
        Only when the file still ends with it: another writer may have appended since."""
        if not fragment or self._fd is None:
            return
        try:
            size = os.fstat(self._fd).st_size
            if os.pread(self._fd, len(fragment), size - len(fragment)) == fragment:
                os.ftruncate(self._fd, size - len(fragment))
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.last_error = exc.strerror or str(exc)
        finally:
            os.close(self._fd)
            self._fd = None


# --- validate: the four stages of EVENTS.md --------------------------------------------


class Stage(NamedTuple):
    name: str
    passed: bool
    detail: str
    numbers: Dict[str, Any]

    def as_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "status": "pass" if self.passed else "fail",
            "detail": self.detail,
            **self.numbers,
        }


class Validation(NamedTuple):
    log_path: str
    stages: List[Stage]
    event_count: int
    by_harness: Dict[str, int]
    events: Sequence[Dict[str, Any]] = ()  # the valid events counted: the summary reuses them

    @property
    def passed(self) -> bool:
        return all(stage.passed for stage in self.stages)

    def as_json(self) -> Dict[str, Any]:
        return {
            "status": "passed" if self.passed else "failed",
            "log_path": self.log_path,
            "event_count": self.event_count,
            "by_harness": self.by_harness,
            "stages": [stage.as_json() for stage in self.stages],
        }


def schema_problem(event: Any) -> Optional[str]:
    """Why a line is not a Beacon 1.0 event, or None."""
    if not isinstance(event, dict):
        return "not a JSON object"
    missing = [name for name in REQUIRED_FIELDS if name not in event]
    if missing:
        return f"missing {', '.join(missing)}"
    inner = event["event"]
    if (event["vendor"], event["product"], event["schema_version"]) != ("beacon", "endpoint-agent", "1.0"):
        return "vendor/product/schema_version are not beacon/endpoint-agent/1.0"
    if not isinstance(inner, dict) or not inner.get("kind") or not inner.get("action"):
        return "event.kind or event.action missing"
    if not isinstance(event["harness"], dict) or not event["harness"].get("name"):
        return "harness.name missing"
    if not isinstance(event["endpoint"], dict) or not event["endpoint"].get("os"):
        return "endpoint.os missing"
    return None


def validate_log(
    path: str,
    min_events: int = 1,
    harnesses: Sequence[str] = (),
    capture_id: Optional[str] = None,
    diagnose: Callable[[int], str] = lambda count: "",
    write_failures: int = 0,
    write_error: Optional[str] = None,
) -> Validation:
    """Check the log: exists, parses, has enough events (of this capture), from the harnesses."""
    stages: List[Stage] = []
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        stages.append(Stage("runtime_log_exists", False, f"{path} {what}", {}))
        return Validation(path, stages, 0, {})
    stages.append(Stage("runtime_log_exists", True, path, {"bytes": os.path.getsize(path)}))

    events, bad, foreign_unparseable = _read_events(path, capture_id)
    if bad:
        line, problem = bad[0]
        stages.append(
            Stage(
                "runtime_log_parseable",
                False,
                f"line {line}: {problem}",
                {"bad_lines": len(bad), "lines": len(events) + len(bad)},
            )
        )
        return Validation(path, stages, len(events), {}, events)
    numbers: Dict[str, Any] = {"lines": len(events)}
    if foreign_unparseable:
        numbers["unparseable_lines_of_other_writers"] = foreign_unparseable
    stages.append(Stage("runtime_log_parseable", True, "every line is a Beacon 1.0 event", numbers))

    by_harness = dict(Counter(str(e["harness"]["name"]) for e in events))
    count = len(events)
    detail = f"{count} events" + (f" of capture {capture_id}" if capture_id else "")
    if count < min_events:
        why = diagnose(count)
        detail = f"{count} events, want at least {min_events}" + (f"; {why}" if why else "")
    if write_failures:  # the log is incomplete: an audit trail with holes must not pass
        detail += f"; {write_failures} events could not be written ({write_error})"
    stages.append(
        Stage(
            "event_count",
            count >= min_events and not write_failures,
            detail,
            {"events": count, "min_events": min_events, "write_failures": write_failures},
        )
    )

    wanted = [HARNESS_EVENT_NAMES[h] for h in harnesses]
    matching = sum(by_harness.get(name, 0) for name in wanted) if wanted else count
    if wanted:
        detail = f"{matching} events from {', '.join(wanted)}"
        if matching < min_events:
            others = ", ".join(f"{n} ({c})" for n, c in sorted(by_harness.items()) if n not in wanted)
            detail += f", want at least {min_events}" + (f"; events came from {others}" if others else "")
    else:
        detail = "any harness counts"
    stages.append(
        Stage("harness_events", matching >= min_events, detail, {"events": matching, "harnesses": wanted})
    )
    return Validation(path, stages, count, by_harness, events)


def capture_of(event: Any) -> Optional[str]:
    capture = event.get("capture") if isinstance(event, dict) else None
    return capture.get("id") if isinstance(capture, dict) else None


def _read_events(
    path: str, capture_id: Optional[str]
) -> Tuple[List[Dict[str, Any]], List[Tuple[int, str]], int]:
    """(events of this capture, [(line, problem)], unparseable lines that may belong to others)."""
    events: List[Dict[str, Any]] = []
    bad: List[Tuple[int, str]] = []
    foreign = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError as exc:
                if capture_id is None:
                    bad.append((number, f"not JSON ({exc})"))
                else:
                    foreign += 1  # we write whole lines; a torn one is another writer's
                continue
            if capture_id is not None and capture_of(event) != capture_id:
                continue
            problem = schema_problem(event)
            if problem:
                bad.append((number, problem))
            else:
                events.append(event)
    return events, bad, foreign


# --- the capture: receiver -> normalize -> protect -> write ----------------------------

DRAIN_QUIET = 0.02  # after the child exits and every connection has closed
DRAIN_TIMEOUT = 10.0  # a grandchild that keeps exporting must not hold beacon forever


class CapturePipeline:
    """The receiver's consumer for one capture. Runs on the receiver's single consumer thread."""

    def __init__(self, normalizer: Normalizer, protector: Protector, writer: EventWriter) -> None:
        self.normalizer, self.protector, self.writer = normalizer, protector, writer
        self.events: Counter[str] = Counter()  # harness name -> events written
        self.forwarder: Any = None  # a beacon_export.Forwarder: gets every event the log got

    def __call__(self, batch: Batch) -> None:
        written = []
        for event in self.normalizer.events(batch):
            protected = self.protector.protect_event(event)
            if self.writer.write(protected):
                self.events[protected["harness"]["name"]] += 1
                written.append(protected)
        if self.forwarder is not None and written:
            self.forwarder.submit(written)  # as they arrive: a cancelled job still delivered these


class Capture:
    """One capture: its ids, token, paths, receiver and pipeline, and the child's settings."""

    def __init__(
        self,
        env: Environment,
        harnesses: Sequence[str],
        paths: CapturePaths,
        mode: str,
        protocol: str = "protobuf",
        capture_id: Optional[str] = None,
        token: Optional[str] = None,
        forward: Any = None,  # a beacon_export.ForwardPlan
    ) -> None:
        self.env, self.harnesses, self.paths, self.mode = env, list(harnesses), paths, mode
        self.protocol, self.forward = protocol, forward
        self.forwarded: Any = None  # the beacon_export.ForwardResult, once finished
        self.capture_id = capture_id or new_capture_id()
        self.token = token or secrets.token_urlsafe(32)
        self.context = CaptureContext.detect(env.environ, self.capture_id, mode)
        private_dir(paths.base_dir)
        private_dir(os.path.dirname(paths.log_path))
        self.writer = EventWriter(
            paths.log_path
        )  # before anything runs: a capture that cannot be written never starts
        self.pipeline = CapturePipeline(
            Normalizer(self.context, env.clock),
            Protector(secret_values_from_env(env.environ, [self.token])),
            self.writer,
        )
        self.receiver = Receiver(self.pipeline, token=self.token)

    def start(self) -> Dict[str, str]:
        """Start receiving; return the environment the agent should run with."""
        if self.forward is not None:
            self.pipeline.forwarder = export_stage().Forwarder(self.forward)
        self.receiver.start()
        codex_home = None
        if "codex" in self.harnesses:
            codex_home = write_codex_home(
                os.path.join(self.paths.base_dir, f"codex-home-{self.capture_id}"),
                user_codex_home(self.env.environ),
                self.receiver.url,
                self.token,
                self.protocol,
            )
        return child_environment(
            self.env.environ,
            self.harnesses,
            self.receiver.url,
            self.token,
            self.capture_id,
            self.context.run,
            codex_home,
            self.protocol,
        )

    def finish(self, drain_timeout: float = DRAIN_TIMEOUT) -> None:
        """Drain what is still arriving, stop the receiver, flush the log, then flush the forward."""
        try:
            self.receiver.wait_idle(quiet=DRAIN_QUIET, timeout=drain_timeout, until_disconnected=True)
        finally:
            self.receiver.stop()
            self.writer.close()
            if self.pipeline.forwarder is not None:
                self.forwarded = self.pipeline.forwarder.close()

    def validate(self, min_events: int) -> Validation:
        return validate_log(
            self.paths.log_path,
            min_events,
            self.harnesses,
            self.capture_id,
            diagnose=self.diagnose,
            write_failures=self.writer.failed,
            write_error=self.writer.last_error,
        )

    def diagnose(self, count: int) -> str:
        """Why a capture has too few events, in words a CI user can act on."""
        stats = self.receiver.stats.snapshot()
        requests = sum(r["count"] for r in stats["requests"])
        rejected = stats["rejected"]
        if not requests:
            return (
                "the receiver got no requests: did the agent run, and is its telemetry on? "
                "(managed settings can override CLAUDE_CODE_ENABLE_TELEMETRY; Codex ignores OTEL_* "
                "variables and reads CODEX_HOME)"
            )
        if rejected:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items()))
            return f"the receiver rejected {sum(rejected.values())} of {requests} requests ({reasons})"
        if not stats["records"].get("logs"):
            return (
                f"the receiver got {requests} request{'s' if requests != 1 else ''} but no log records "
                f"({', '.join(f'{k} {v}' for k, v in sorted(stats['records'].items())) or 'all empty'})"
            )
        return f"the receiver got {stats['records'].get('logs', 0)} log records"

    def result(self, validation: Validation) -> Dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "mode": self.mode,
            "log_path": self.paths.log_path,
            "harnesses": self.harnesses,
            "events": dict(self.pipeline.events),
            "write_failures": self.writer.failed,
            "spans_received": self.pipeline.normalizer.spans_seen,
            "records_dropped_as_noise": self.pipeline.normalizer.dropped,
            "records_unmapped": self.pipeline.normalizer.unmapped,
            "receiver": self.receiver.stats.snapshot(),
            "validation": validation.as_json(),
            **({"forward": self.forwarded.to_json()} if self.forwarded else {}),
        }


# --- exec: run the agent with its telemetry captured -----------------------------------

FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def resolve_command(command: Sequence[str], environ: Mapping[str, str]) -> List[str]:
    if not command:
        raise UsageError("ci exec needs a command: beacon ci exec -- COMMAND [ARG...]")
    program = command[0]
    found = shutil.which(program, path=environ.get("PATH", os.defpath)) if os.sep not in program else program
    if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise UsageError(f"command not found or not executable: {program}")
    return [program, *command[1:]]


def run_child(command: Sequence[str], child_env: Mapping[str, str]) -> Tuple[int, Optional[int]]:
    """Run the child in its own process group with our stdio; forward SIGINT/SIGTERM/SIGHUP to
    the group. Returns (exit code, the first signal beacon received), 128+N for a signal death."""
    # A group of its own in beacon's session (not a session of its own): it keeps the terminal.
    # Before 3.11, preexec_fn is the only way; os.setpgrp is a bare system call, safe to make there.
    options: Dict[str, Any] = (
        {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    )
    terminal = foreground_terminal()
    try:
        child = subprocess.Popen(list(command), env=dict(child_env), **options)
    except OSError as exc:
        raise UsageError(f"cannot run {command[0]}: {exc.strerror}") from None
    received: List[int] = []

    def forward(signum: int, _frame: Any) -> None:
        received.append(signum)
        try:
            os.killpg(child.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS} if in_main_thread else {}
    try:
        if terminal is not None:
            give_terminal(terminal, child.pid)
            code = wait_in_foreground(child, terminal)
        else:
            code = child.wait()
    finally:
        if terminal is not None:
            take_terminal_back(terminal, child.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        code = 128 - code
    return code, (received[0] if received else None)


def foreground_terminal() -> Optional[int]:
    """The descriptor (stdin, stdout or stderr) of beacon's terminal when beacon's process group
    is its foreground group; None without a terminal or when beacon runs in the background."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return fd
        except OSError:  # not our controlling terminal
            continue
    return None


def give_terminal(fd: int, pgid: int) -> None:
    """Make the child's group the terminal's foreground: a background group is stopped
    (SIGTTIN, SIGTTOU) as soon as it reads the terminal or changes its modes. Keys such as
    Ctrl-C then signal the child's group directly, as they would without beacon."""
    set_foreground(fd, pgid)
    # It may have read the terminal before it got it, and been stopped: continue it. A process
    # that was not stopped ignores SIGCONT (unless it handles it).
    continue_group(pgid)


def take_terminal_back(fd: int, pgid: int) -> None:
    """Make beacon's group the foreground again, if the child's group still is (when the shell
    runs beacon in the background, bg, the shell has the terminal and keeps it)."""
    try:
        holder = os.tcgetpgrp(fd)
    except OSError:
        return
    if holder == pgid:
        set_foreground(fd, os.getpgrp())


def continue_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass


def wait_in_foreground(child: subprocess.Popen[Any], terminal: int) -> int:
    """child.wait() for a child that has the terminal. When it is stopped (Ctrl-Z), beacon
    stops with the same signal, so that the shell sees its job stopped; continued by the shell,
    beacon continues the child: in the foreground (fg) with the terminal, else (bg) without."""
    while True:
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            break
        take_terminal_back(terminal, child.pid)
        os.kill(os.getpid(), os.WSTOPSIG(status))  # returns once continued
        if foreground_terminal() == terminal:
            give_terminal(terminal, child.pid)
        else:
            continue_group(child.pid)
    child.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return child.returncode


def set_foreground(fd: int, pgid: int) -> None:
    """tcsetpgrp, from the background too: there it raises SIGTTOU, which would stop beacon
    (blocked meanwhile). A terminal that has gone away (hung up) is left alone."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def exit_code_for(
    child_code: int,
    signal_received: Optional[int],
    validation: Validation,
    require_telemetry: bool,
    export_failed: bool = False,
) -> int:
    """ARCHITECTURE.md: the child's failure wins; then required validation; then a failed
    upload or forward; then success."""
    if child_code:
        return child_code
    if signal_received is not None:
        return 128 + signal_received
    if not validation.passed and require_telemetry:
        return EXIT_VALIDATION
    return EXIT_EXPORT if export_failed else EXIT_OK


# --- export: upload the finished log, forward events as they arrive (beacon_export) ------


def export_stage() -> Any:
    """The export stage, beacon_export (beside this file, standard library only), imported when
    an upload or forward is asked for: a capture without exports never loads it."""
    import beacon_export

    return beacon_export


class Exports(NamedTuple):
    """What --upload and --forward asked for, checked before anything runs."""

    uploads: List[str]
    forward: Any  # a beacon_export.ForwardPlan, or None

    @property
    def targets(self) -> List[str]:
        return self.uploads + ([self.forward.target] if self.forward else [])


def parse_exports(
    uploads: Optional[Sequence[str]],
    forward: Optional[str],
    endpoint: Optional[str],
    environ: Mapping[str, str],
) -> Exports:
    """A misconfigured export (unknown target, missing token or endpoint) is a usage error."""
    if not uploads and not forward:
        return Exports([], None)
    stage = export_stage()
    try:
        targets = stage.parse_uploads(uploads)
        return Exports(targets, stage.plan_forward(forward, endpoint, environ) if forward else None)
    except stage.ExportError as exc:
        raise UsageError(str(exc)) from None


def plan_uploads(
    targets: Sequence[str],
    environ: Mapping[str, str],
    log_path: str,
    run: Mapping[str, Any],
    capture_id: str,
    started_at: float,
) -> List[Any]:
    """Where each upload goes (beacon_export.UploadPlan); a missing bucket variable is a usage
    error, before anything runs."""
    if not targets:
        return []
    stage = export_stage()
    try:
        return [
            stage.plan_upload(target, environ, log_path, run, capture_id, started_at) for target in targets
        ]
    except stage.ExportError as exc:
        raise UsageError(str(exc)) from None


def without_export_credentials(child_env: Mapping[str, str], targets: Sequence[str]) -> Dict[str, str]:
    """The agent's environment without the credentials its exports use (beacon keeps them)."""
    if not targets:
        return dict(child_env)
    is_credential = export_stage().is_export_credential
    return {k: v for k, v in child_env.items() if not is_credential(k, targets)}


def upload_log(env: Environment, plans: Sequence[Any]) -> List[Any]:
    """Each upload in turn, one failing not stopping the next. After validation, whatever it
    found: a capture that failed its check is still the record of what the agent did."""
    results = []
    for plan in plans:
        result = export_stage().upload(plan, env.environ)
        results.append(result)
        if result.ok:
            env.say(f"uploaded {result.target} ({result.via}, {result.seconds:.1f} s)")
        else:
            env.say(f"upload to {result.target} failed: {result.message}")
    return results


def report_forward(env: Environment, forwarded: Optional[Mapping[str, Any]]) -> bool:
    """Say what the forward delivered; whether it failed."""
    if not forwarded:
        return False
    line = f"forwarded {forwarded['sent']} events to {forwarded['target']} at {forwarded['endpoint']}"
    if forwarded["failed"]:
        line += f"; {forwarded['failed']} failed: {forwarded.get('message', '')}"
    env.say(line)
    return bool(forwarded["failed"])


# --- report: the summary of what the agent did ------------------------------------------
# summarize() folds events into per-harness facts; render_text() is the CI-log table and
# render_markdown() the GitHub job summary. Agent strings are hostile: the text form keeps them
# to one short line each, the Markdown form escapes them and never lets them become HTML.

SUMMARY_KEEP = 1000  # items kept per list in the summary dict; the counts stay exact
SUMMARY_SHOWN = 25  # items per list in the Markdown form
SUMMARY_ITEM_CHARS = 300  # characters of one agent string in the Markdown form
TEXT_ITEM_CHARS = 60  # characters of one agent string in the text form
MARKDOWN_LIMIT = 1024 * 1024 - 1024  # GitHub rejects a step summary of 1 MiB or more
REQUEST_USAGE_KEYS = (
    ("input_tokens", ("input_tokens",)),
    ("output_tokens", ("output_tokens",)),
    ("cache_read_tokens", ("cache_read", "input_tokens")),
    ("cache_creation_tokens", ("cache_creation", "input_tokens")),
    ("cost_usd", ("cost_usd",)),
)
METRIC_ACTIONS = ("token.usage", "cost.usage")
TOOL_ACTIONS = (
    "command.executed",
    "file.read",
    "file.created",
    "file.modified",
    "tool.invoked",
    "tool.failed",
)
FILE_ACTIONS = {"file.read": "read", "file.created": "created", "file.modified": "modified"}
LIST_SECTIONS = ("prompts", "commands", "approvals_denied", "errors")


def summarize(events: Iterable[Dict[str, Any]], validation: Optional[Validation] = None) -> Dict[str, Any]:
    """What each harness did, from its events. Pure: reads nothing but its arguments."""
    harnesses: Dict[Tuple[str, str], Dict[str, Any]] = {}
    total = 0
    for event in events:
        if not isinstance(event, dict):
            continue
        total += 1
        _fold_event(_harness_entry(harnesses, event), event)
    return {
        "event_count": total,
        "harnesses": [_finish_harness(h) for h in harnesses.values()],
        "validation": validation.as_json() if validation is not None else None,
    }


def _harness_entry(harnesses: Dict[Tuple[str, str], Dict[str, Any]], event: Dict[str, Any]) -> Dict[str, Any]:
    harness = _dict(event.get("harness"))
    key = (_str(harness.get("name")) or "unknown", _str(harness.get("version")))
    if key not in harnesses:
        harnesses[key] = {
            "name": key[0],
            "version": key[1],
            "events": 0,
            "redacted": 0,
            "first": None,
            "last": None,
            "counts": {"prompts": 0, "commands": 0, "commands_failed": 0, "approvals_denied": 0, "errors": 0},
            "prompts": [],
            "commands": [],
            "files": {"read": [], "created": [], "modified": []},
            "tools": {},
            "mcp": {},
            "approvals_denied": [],
            "errors": [],
            "_request_usage": {},
            "_metric_usage": {},
            "_seen_files": set(),
            "_denied_by_call": {},
        }
    return harnesses[key]


def _fold_event(entry: Dict[str, Any], event: Dict[str, Any]) -> None:
    entry["events"] += 1
    _widen_time(entry, _str(event.get("timestamp")))
    if _dict(event.get("content")).get("redacted") is True:
        entry["redacted"] += 1
    inner = _dict(event.get("event"))
    action = _str(inner.get("action"))
    tool, command, file_ = _dict(event.get("tool")), _dict(event.get("command")), _dict(event.get("file"))
    tool_name = _str(tool.get("name"))
    target = (
        _str(command.get("command"))
        or _str(tool.get("command"))
        or _str(file_.get("path"))
        or _str(tool.get("path"))
    )
    _fill_denied_target(entry, event, target)
    if action == "prompt.submitted":
        _keep(entry, "prompts", _str(_dict(event.get("prompt")).get("text")))
    elif action == "command.executed":
        failed = _str(inner.get("outcome")) == "failure"
        entry["counts"]["commands_failed"] += failed
        _keep(
            entry,
            "commands",
            {
                "command": target,
                "outcome": _str(inner.get("outcome")),
                "exit_code": _int_or_none(command.get("exit_code")),
            },
        )
    elif action == "approval.denied":
        denied = {"tool": tool_name, "target": target}
        _keep(entry, "approvals_denied", denied)
        call_id = _str(_dict(_dict(_dict(event.get("gen_ai")).get("tool")).get("call")).get("id"))
        if call_id and not target:  # Codex names the command only in the result that follows
            entry["_denied_by_call"][call_id] = denied
    if action in FILE_ACTIONS:
        _keep_file(entry, FILE_ACTIONS[action], _str(file_.get("path")) or _str(tool.get("path")))
    if action in TOOL_ACTIONS and tool_name:
        entry["tools"][tool_name] = entry["tools"].get(tool_name, 0) + 1
    elif action == "mcp.tool_invoked":
        mcp = _dict(event.get("mcp"))
        name = "/".join(p for p in (_str(mcp.get("server")), _str(mcp.get("tool"))) if p)
        name = name or tool_name or "unknown"
        entry["mcp"][name] = entry["mcp"].get(name, 0) + 1
    error = event.get("error")
    if isinstance(error, dict):
        _keep(
            entry,
            "errors",
            {"type": _str(error.get("type")) or "error", "message": _str(error.get("message"))},
        )
    _add_usage(entry, event, action)


def _fill_denied_target(entry: Dict[str, Any], event: Dict[str, Any], target: str) -> None:
    """A denial without a command gets it from a later event of the same tool call."""
    if not target or not entry["_denied_by_call"]:
        return
    call_id = _str(_dict(_dict(_dict(event.get("gen_ai")).get("tool")).get("call")).get("id"))
    denied = entry["_denied_by_call"].pop(call_id, None)
    if denied is not None:
        denied["target"] = target


def _add_usage(entry: Dict[str, Any], event: Dict[str, Any], action: str) -> None:
    usage = _dict(_dict(event.get("gen_ai")).get("usage"))
    if not usage:
        return
    # Claude and Gemini report usage twice: on each request event and again as token/cost
    # metrics (the same tokens, summed). Adding both would double every number, so metrics are
    # kept apart and used only for a harness whose requests carry no usage (Codex).
    is_metric = action in METRIC_ACTIONS or _str(_dict(event.get("event")).get("category")) == "metric"
    bucket = entry["_metric_usage" if is_metric else "_request_usage"]
    totals = bucket.setdefault(
        _str(event.get("model")) or "unknown", {name: 0 for name, _ in REQUEST_USAGE_KEYS}
    )
    for name, path in REQUEST_USAGE_KEYS:
        value: Any = usage
        for part in path:  # cache_read.input_tokens is nested
            value = _dict(value).get(part)
        totals[name] += _number(value)


def _finish_harness(entry: Dict[str, Any]) -> Dict[str, Any]:
    request, metric = entry.pop("_request_usage"), entry.pop("_metric_usage")
    entry["models"] = request or metric
    entry["usage_source"] = "requests" if request else ("metrics" if metric else None)
    for totals in entry["models"].values():
        totals["cost_usd"] = round(totals["cost_usd"], 6)
    for key in ("_seen_files", "_denied_by_call"):
        entry.pop(key)
    entry["duration_seconds"] = _seconds_between(entry["first"], entry["last"])
    return entry


def _keep(entry: Dict[str, Any], section: str, item: Any) -> None:
    entry["counts"][section] += 1
    if len(entry[section]) < SUMMARY_KEEP:
        entry[section].append(item)


def _keep_file(entry: Dict[str, Any], operation: str, path: str) -> None:
    """Each path once per operation: an agent reads the same file many times."""
    if not path or (operation, path) in entry["_seen_files"]:
        return
    entry["_seen_files"].add((operation, path))
    entry["counts"]["files_" + operation] = entry["counts"].get("files_" + operation, 0) + 1
    if len(entry["files"][operation]) < SUMMARY_KEEP:
        entry["files"][operation].append(path)


def _widen_time(entry: Dict[str, Any], stamp: str) -> None:
    # Codex's metric events arrive before its logs with later times: take min and max, not order.
    if _parse_time(stamp) is None:
        return
    if entry["first"] is None or _parse_time(stamp) < _parse_time(entry["first"]):  # type: ignore[operator]
        entry["first"] = stamp
    if entry["last"] is None or _parse_time(stamp) > _parse_time(entry["last"]):  # type: ignore[operator]
        entry["last"] = stamp


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def _parse_time(stamp: str) -> Optional[float]:
    """Seconds since the epoch of beacon's own UTC timestamps (the only form it writes)."""
    match = _RFC3339.fullmatch(stamp)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return moment.timestamp() + float("0." + (match.group(7) or "0"))


def _seconds_between(first: Optional[str], last: Optional[str]) -> Optional[float]:
    start, end = _parse_time(first or ""), _parse_time(last or "")
    return None if start is None or end is None else round(end - start, 3)


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _number(value: Any) -> float:
    """A usage number, or 0: a hostile or broken log must not turn a total into a string or NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return value


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- the text form: a short aligned table for the CI log --------------------------------


def render_text(summary: Mapping[str, Any]) -> str:
    """Lines without a prefix; exec prints each through env.say."""
    validation = summary.get("validation")
    status = validation["status"] if validation else "not checked"
    lines = [f"summary: {summary['event_count']} events, validation {status}"]
    if not summary["harnesses"]:
        lines.append("  no agent events")
    for h in summary["harnesses"]:
        lines.append(f"  {_one_line(h['name'])} {_one_line(h['version'])}".rstrip() + ":")
        lines.extend(f"    {label:<10} {value}" for label, value in _text_rows(h))
    return "\n".join(lines)


def _text_rows(h: Mapping[str, Any]) -> List[Tuple[str, str]]:
    counts, files = h["counts"], h["files"]
    rows = [
        (
            "events",
            f"{h['events']}"
            + (f" over {_duration(h['duration_seconds'])}" if h["duration_seconds"] is not None else ""),
        ),
        ("prompts", str(counts["prompts"])),
        ("commands", f"{counts['commands']} ({counts['commands_failed']} failed)"),
        ("files", ", ".join(f"{counts.get('files_' + op, 0)} {op}" for op in files)),
        ("tools", _counted(h["tools"]) or "none"),
        ("mcp calls", _counted(h["mcp"]) or "none"),
        (
            "denied",
            str(counts["approvals_denied"])
            + _first_text(
                [f"{d['tool']}: {d['target']}" if d["target"] else d["tool"] for d in h["approvals_denied"]]
            ),
        ),
        (
            "errors",
            str(counts["errors"])
            + _first_text(
                [f"{e['type']}: {e['message']}" if e["message"] else e["type"] for e in h["errors"]]
            ),
        ),
        ("redacted", f"{h['redacted']} events"),
    ]
    for model, totals in sorted(h["models"].items()):
        rows.append(("model", f"{_one_line(model)}: {_tokens(totals)}"))
    return rows


def _counted(counter: Mapping[str, int]) -> str:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{_one_line(name)} {n}" for name, n in ranked[:6])
    return shown + (f", … and {len(ranked) - 6} more" if len(ranked) > 6 else "")


def _first_text(items: Sequence[str]) -> str:
    return f" (first: {_one_line(items[0])})" if items else ""


def _tokens(totals: Mapping[str, Any]) -> str:
    return (
        f"{int(totals['input_tokens'])} in, {int(totals['output_tokens'])} out, "
        f"{int(totals['cache_read_tokens'])} cache read, "
        f"{int(totals['cache_creation_tokens'])} cache write, "
        f"${totals['cost_usd']:.4f}"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(value: str, limit: int = TEXT_ITEM_CHARS) -> str:
    """One short line: no control characters (a newline could start a `::` workflow command)."""
    flat = _UNPRINTABLE.sub(" ", value).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- the Markdown form: GitHub's job summary ----------------------------------------------

# Agent text only ever lands mid-line (after "- " or in a table cell), so only the inline
# constructs matter: code spans, emphasis, links/images, strikethrough and table pipes.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value: str, limit: int = SUMMARY_ITEM_CHARS) -> str:
    """Agent text as inert Markdown: one line, no HTML (`<`, `&` become entities), every
    Markdown punctuation character backslash-escaped (so `|` cannot split a table cell)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(value, limit))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(summary: Mapping[str, Any]) -> str:
    """Status first, then per harness a table and folded details; always under MARKDOWN_LIMIT bytes."""
    blocks = [_markdown_status(summary)]
    for h in summary["harnesses"]:
        blocks.append(_markdown_harness(h))
        blocks.extend(_markdown_details(h))
    return _fit_markdown(blocks)


def _fit_markdown(blocks: List[str]) -> str:
    """Whole blocks only (never half a <details>), stopping before the limit."""
    tail = "\n_… summary cut to stay under 1 MiB: {} more sections left out._\n"
    budget = MARKDOWN_LIMIT - len(tail.encode()) - 20
    kept: List[str] = []
    used = 0
    for index, block in enumerate(blocks):
        size = len(block.encode("utf-8")) + 1
        if used + size > budget:
            kept.append(tail.format(len(blocks) - index))
            break
        kept.append(block)
        used += size
    return "\n".join(kept)


def _markdown_status(summary: Mapping[str, Any]) -> str:
    validation = summary.get("validation")
    if validation is None:
        status = "not checked"
    else:
        status = "✅ passed" if validation["status"] == "passed" else "❌ failed"
    lines = [
        "### beacon: what the agent did",
        "",
        f"**Telemetry validation: {status}** · {summary['event_count']} events · "
        f"{len(summary['harnesses'])} harness{'' if len(summary['harnesses']) == 1 else 'es'}",
        "",
    ]
    for stage in (validation or {}).get("stages", []):
        if stage["status"] != "pass":
            lines.append(f"- {md_escape(stage['name'])}: {md_escape(str(stage['detail']))}")
    return "\n".join(lines)


def _markdown_harness(h: Mapping[str, Any]) -> str:
    counts = h["counts"]
    title = f"{md_escape(h['name'], 80)} {md_escape(h['version'], 40)}".rstrip()
    tokens = " · ".join(f"{md_escape(model, 80)}: {_tokens(t)}" for model, t in sorted(h["models"].items()))
    rows = [
        ("events", f"{h['events']}"),
        ("duration", _duration(h["duration_seconds"]) if h["duration_seconds"] is not None else "unknown"),
        ("prompts", str(counts["prompts"])),
        ("commands", f"{counts['commands']} ({counts['commands_failed']} failed)"),
        ("files", ", ".join(f"{counts.get('files_' + op, 0)} {op}" for op in h["files"])),
        ("tool calls", str(sum(h["tools"].values()))),
        ("MCP calls", str(sum(h["mcp"].values()))),
        ("approvals denied", str(counts["approvals_denied"])),
        ("errors", str(counts["errors"])),
        ("redacted events", str(h["redacted"])),
        ("models", tokens or "no usage reported"),
    ]
    table = "\n".join(f"| {label} | {value} |" for label, value in rows)
    return f"### {title}\n\n| | |\n| --- | --- |\n{table}\n"


def _markdown_details(h: Mapping[str, Any]) -> List[str]:
    counts = h["counts"]
    commands = [
        f"{md_escape(c['outcome'] or 'unknown', 20)}"
        + (f" (exit {c['exit_code']})" if c["exit_code"] is not None else "")
        + f": {md_escape(c['command']) or '(not recorded)'}"
        for c in h["commands"]
    ]
    sections = [
        ("Prompts", counts["prompts"], [md_escape(p) or "(not recorded)" for p in h["prompts"]]),
        ("Commands", counts["commands"], commands),
        (
            "Approvals denied",
            counts["approvals_denied"],
            [
                f"{md_escape(d['tool'], 80) or 'unknown'}: {md_escape(d['target']) or '(no target recorded)'}"
                for d in h["approvals_denied"]
            ],
        ),
        (
            "Errors",
            counts["errors"],
            [
                md_escape(e["type"], 80) + (f": {md_escape(e['message'])}" if e["message"] else "")
                for e in h["errors"]
            ],
        ),
        ("Tools", len(h["tools"]), [f"{md_escape(n, 80)}: {c}" for n, c in _ranked(h["tools"])]),
        ("MCP calls", len(h["mcp"]), [f"{md_escape(n, 80)}: {c}" for n, c in _ranked(h["mcp"])]),
    ]
    for op, paths in h["files"].items():
        sections.append((f"Files {op}", counts.get("files_" + op, 0), [md_escape(p) for p in paths]))
    return [_details(title, total, items) for title, total, items in sections if total]


def _ranked(counter: Mapping[str, int]) -> List[Tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _details(title: str, total: int, items: Sequence[str]) -> str:
    shown = [f"- {item}" for item in items[:SUMMARY_SHOWN]]
    if total > len(shown):
        shown.append(f"- … and {total - len(shown)} more")
    return f"<details><summary>{title} ({total})</summary>\n\n" + "\n".join(shown) + "\n\n</details>\n"


# --- the summary at the end of exec: stderr, the job summary, annotations ----------------


def write_summary(env: Environment, validation: Validation, required: bool, job_summary: bool = True) -> None:
    """The end of exec and finish: the text table on stderr, the Markdown appended to
    $GITHUB_STEP_SUMMARY (unless job_summary is off), one annotation when validation failed on
    GitHub. Never fails the command: it only reports."""
    summary = summarize(validation.events, validation)  # the events validation already read
    for line in render_text(summary).splitlines():
        env.say(line)
    step_summary = env.environ.get("GITHUB_STEP_SUMMARY") if job_summary else None
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:  # append: earlier steps wrote there too
                handle.write(render_markdown(summary) + "\n")
        except OSError as exc:
            env.say(f"cannot append the job summary to {step_summary}: {exc.strerror}")
    if env.environ.get("GITHUB_ACTIONS") == "true" and not validation.passed:
        failed = "; ".join(f"{s.name}: {s.detail}" for s in validation.stages if not s.passed)
        level = "error" if required else "warning"
        print(
            f"::{level}::{workflow_escape('beacon: telemetry validation failed: ' + failed)}",
            file=env.stdout,
            flush=True,
        )


def workflow_escape(message: str) -> str:
    """A workflow command's message as GitHub requires: %, CR and LF escaped, so it stays one line."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _add_summary(subparsers: Any) -> None:
    p = subparsers.add_parser("summary", help="summarize what the agents in a runtime.jsonl did")
    p.add_argument("--log-path", help="the JSONL log (default: <base dir>/runtime.jsonl)")
    p.add_argument("--base-dir", help=argparse.SUPPRESS)
    p.add_argument("--capture-id", help="only this capture's events (default: every event)")
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a log, markdown for a job summary, json (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_summary)


def _cmd_summary(args: argparse.Namespace, env: Environment) -> int:
    """Prints the summary on stdout. Exits 0 even when validation failed: judging is validate's
    job, and `beacon ci summary >> "$GITHUB_STEP_SUMMARY"` must not fail a step that reports."""
    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    validation = validate_log(log_path, 1, (), args.capture_id)
    summary = summarize(validation.events, validation)
    if args.format == "json":
        output = json.dumps(summary, sort_keys=True)
    else:
        output = render_markdown(summary) if args.format == "markdown" else render_text(summary)
    print(output, file=env.stdout, flush=True)
    return EXIT_OK


# --- end report -------------------------------------------------------------------------


# --- session mode: a detached receiver between ci start and ci finish -------------------

SESSION_READY_TIMEOUT = 10.0
SESSION_STOP_TIMEOUT = DRAIN_TIMEOUT + 10.0


def read_state(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        raise BeaconError(
            f"no capture to finish: {path} does not exist (run beacon ci start first)"
        ) from None
    except (OSError, ValueError) as exc:
        raise BeaconError(f"cannot read the session state {path}: {exc}") from None
    if not isinstance(state, dict) or not state.get("capture_id"):
        raise BeaconError(f"{path} is not a beacon session state file")
    return state


def write_state(path: str, state: Mapping[str, Any]) -> None:
    """Replace the state file atomically, 0600: it holds the receiver's token."""
    temporary = f"{path}.{os.getpid()}.tmp"
    _write_private(temporary, json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def session_receiver_alive(state: Mapping[str, Any]) -> bool:
    """Is the state's receiver process still ours? A pid alone may have been reused since."""
    pid = state.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    marker = state["capture_id"].encode()  # in the receiver's command line (see _add_serve)
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return marker in handle.read()
    except OSError:
        if os.path.isdir("/proc"):
            return False  # Linux: the process is gone
    try:  # macOS and other systems without /proc
        listing = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return marker in listing.stdout


def beacon_program() -> str:
    """The file that runs this beacon: beacon.py, or the zipapp (beacon.pyz) it was imported from."""
    loader = getattr(__spec__, "loader", None)  # no spec when run as a script
    return getattr(loader, "archive", None) or os.path.abspath(__file__)  # zipimport sets .archive


def start_session(
    env: Environment,
    harnesses: Sequence[str],
    paths: CapturePaths,
    protocol: str,
    forward: Optional[Dict[str, Optional[str]]] = None,
) -> Dict[str, Any]:
    """Spawn the detached receiver (its own session, stdio detached) and wait until it listens.
    `forward` ({"target", "endpoint", "display"}, checked already) is what the receiver forwards to; it
    takes the token from the environment it inherits, never from the state file."""
    for folder in (paths.base_dir, os.path.dirname(paths.state_path), os.path.dirname(paths.log_path)):
        private_dir(folder)
    EventWriter(paths.log_path).close()  # a log that cannot be written fails here, not in the receiver
    state: Dict[str, Any] = {
        "capture_id": new_capture_id(),
        "token": secrets.token_urlsafe(32),
        "log_path": paths.log_path,
        "base_dir": paths.base_dir,
        "state_path": paths.state_path,
        "harnesses": list(harnesses),
        "protocol": protocol,
        "status": "starting",
        "started_at": rfc3339_ms(int(env.clock() * 1e9)),
        "started_unix": env.clock(),
        "forward": forward,
    }
    write_state(paths.state_path, state)
    receiver_log = os.path.join(paths.base_dir, f"receiver-{state['capture_id']}.log")
    read_end, write_end = os.pipe()
    with open(os.open(receiver_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        subprocess.Popen(
            [
                sys.executable,
                beacon_program(),
                "ci",
                "_serve",
                "--state-path",
                paths.state_path,
                "--capture-id",
                state["capture_id"],
                "--ready-fd",
                str(write_end),
            ],
            env=dict(env.environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(write_end,),
            start_new_session=True,
            close_fds=True,
        )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        readable, _, _ = select.select([ready], [], [], SESSION_READY_TIMEOUT)
        line = ready.readline() if readable else b""
    if not line.startswith(b"ready"):
        raise BeaconError(f"the receiver did not start; its log is {receiver_log}")
    return read_state(paths.state_path)


def serve_session(env: Environment, state_path: str, ready_fd: int) -> int:
    """The detached receiver: capture until SIGTERM/SIGINT/SIGHUP, then drain and record it."""
    state = read_state(state_path)
    paths = CapturePaths(state["base_dir"], state["log_path"], state_path)
    forward = state.get("forward") or {}
    plan = parse_exports(None, forward.get("target"), forward.get("endpoint"), env.environ).forward
    capture = Capture(
        env,
        state["harnesses"],
        paths,
        "session",
        state["protocol"],
        state["capture_id"],
        state["token"],
        plan,
    )
    stop = threading.Event()
    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, lambda _signum, _frame: stop.set())
    child_env = capture.start()
    state.update(
        status="running",
        pid=os.getpid(),
        url=capture.receiver.url,
        codex_home=child_env.get("CODEX_HOME") if "codex" in capture.harnesses else None,
    )
    write_state(state_path, state)
    os.write(ready_fd, f"ready {capture.receiver.port}\n".encode())
    os.close(ready_fd)
    stop.wait()
    capture.finish()
    state.update(
        status="finished",
        events=dict(capture.pipeline.events),
        write_failures=capture.writer.failed,
        receiver=capture.receiver.stats.snapshot(),
        forwarded=capture.forwarded.to_json() if capture.forwarded else None,
    )
    write_state(state_path, state)
    return EXIT_OK


def stop_session(env: Environment, state: Dict[str, Any]) -> str:
    """Ask the receiver to drain and stop; wait (bounded) until it has. Returns what happened."""
    if state.get("status") == "finished":
        return "the capture was already finished"
    if not session_receiver_alive(state):
        return "the receiver had stopped before finish (killed?): validating what it wrote"
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + SESSION_STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not session_receiver_alive(state):
            if read_state(state["state_path"]).get("status") == "finished":
                return "the receiver drained and stopped"
            return "the receiver stopped without draining: validating what it wrote"
        time.sleep(0.02)  # not our child: there is no wait() to block on
    return "the receiver did not stop in time: validating what it wrote so far"


def session_exports(env: Environment, state: Mapping[str, Any]) -> Dict[str, str]:
    """What later steps need: the agent settings (as exec gives its child) and beacon's paths.
    A variable exec would remove is exported empty, which the OpenTelemetry SDKs treat as unset."""
    child = child_environment(
        env.environ,
        state["harnesses"],
        state["url"],
        state["token"],
        state["capture_id"],
        detect_run(env.environ),
        state.get("codex_home"),
        state["protocol"],
    )
    exports = {k: v for k, v in child.items() if env.environ.get(k) != v}
    exports.update({k: "" for k in env.environ if k not in child})
    exports.update(BEACON_CI_LOG_PATH=state["log_path"], BEACON_CI_STATE_PATH=state["state_path"])
    return exports


def publish_exports(
    env: Environment, exports: Mapping[str, str], state: Mapping[str, Any], github_env: Optional[str]
) -> None:
    """$GITHUB_ENV (heredoc with a random delimiter) and $GITHUB_OUTPUT when set, else `export` lines."""
    if env.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{state['token']}", file=env.stdout, flush=True)
    publish_outputs(
        env,
        {
            "log-path": state["log_path"],
            "state-path": state["state_path"],
            "codex-home": state.get("codex_home") or "",
        },
    )
    if github_env:
        _append_github_file(github_env, exports)
    else:
        for key, value in sorted(exports.items()):
            print(f"export {key}={shlex.quote(value)}", file=env.stdout)


def publish_outputs(env: Environment, outputs: Mapping[str, str]) -> None:
    """Step outputs ($GITHUB_OUTPUT) when running as a GitHub step, for steps.<id>.outputs.*.
    Only reported when they cannot be written: exec's exit code must stay the agent's."""
    path = env.environ.get("GITHUB_OUTPUT")
    if path:
        try:
            _append_github_file(path, outputs)
        except BeaconError as exc:
            env.say(f"step outputs not set: {exc}")


def verdict_outputs(validation: Validation) -> Dict[str, str]:
    return {
        "event-count": str(validation.event_count),
        "validation": "passed" if validation.passed else "failed",
    }


def _append_github_file(path: str, values: Mapping[str, str]) -> None:
    delimiter = f"BEACON_{secrets.token_hex(8)}"  # never inside a value: fixed delimiters can be
    lines = []
    for key, value in sorted(values.items()):
        lines.append(
            f"{key}<<{delimiter}\n{value}\n{delimiter}\n"
            if "\n" in value or "\r" in value
            else f"{key}={value}\n"
        )
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(lines))
    except OSError as exc:
        raise BeaconError(f"cannot append to {path}: {exc.strerror}") from None


# --- a synthetic agent that speaks OTLP like Claude Code -----------------------------


# A fake GitHub token in the synthetic agent's tool input: the selftest proves it is redacted.
SYNTHETIC_SECRET = "ghp_" + "S3lfT3stT0k3n" * 2 + "abcdefghij"
SYNTHETIC_EVENTS = 6  # events one pass of the synthetic session becomes: 4 log records, 2 usage points


def synthetic_claude_session(session_id: str, now_ns: int) -> List[Tuple[str, Dict[str, Any]]]:
    """One short Claude Code session as (signal, request) pairs in the plain OTLP shape."""
    resource = {
        "attributes": {
            "service.name": "claude-code",
            "service.version": "2.1.197",
            "host.arch": "x64",
            "os.type": "linux",
            "os.version": "6.1.0",
        }
    }
    common = {
        "user.id": "0" * 64,
        "session.id": session_id,
        "terminal.type": "non-interactive",
        "prompt.id": "6f1f1a52-4d1e-4b7c-9a55-3d2f7c1e0b11",
    }
    events: List[Tuple[str, Dict[str, Any]]] = [
        ("user_prompt", {"prompt_length": "18", "prompt": "Review this change"}),
        (
            "tool_decision",
            {
                "decision": "accept",
                "source": "config",
                "tool_name": "Bash",
                "tool_use_id": "toolu_01SELFTEST0000000000001",
            },
        ),
        (
            "tool_result",
            {
                "tool_name": "Bash",
                "tool_use_id": "toolu_01SELFTEST0000000000001",
                "success": "true",
                "duration_ms": "12",
                "tool_input": json.dumps(
                    {"command": f"git push https://x-access-token:{SYNTHETIC_SECRET}@github.com/acme/app.git"}
                ),
            },
        ),
        (
            "api_request",
            {
                "model": "claude-opus-4-8",
                "input_tokens": 120,
                "output_tokens": 25,
                "cache_read_tokens": 0,
                "cache_creation_tokens": 0,
                "cost_usd": 0.001225,
                "duration_ms": 840,
            },
        ),
    ]
    records = []
    for sequence, (name, attributes) in enumerate(events):
        records.append(
            {
                "time_unix_nano": now_ns + sequence * 1_000_000,
                "body": f"claude_code.{name}",
                "attributes": {**common, "event.name": name, "event.sequence": sequence, **attributes},
            }
        )
    logs = {
        "resource_logs": [
            {
                "resource": resource,
                "scope_logs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.197"},
                        "log_records": records,
                    }
                ],
            }
        ]
    }
    usage = {
        "name": "claude_code.token.usage",
        "unit": "tokens",
        "sum": {
            "aggregation_temporality": 1,
            "is_monotonic": True,
            "data_points": [
                {
                    "time_unix_nano": now_ns,
                    "as_double": 120.0,
                    "attributes": {"type": "input", "model": "claude-opus-4-8"},
                },
                {
                    "time_unix_nano": now_ns,
                    "as_double": 25.0,
                    "attributes": {"type": "output", "model": "claude-opus-4-8"},
                },
            ],
        },
    }
    metrics = {
        "resource_metrics": [
            {
                "resource": resource,
                "scope_metrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": [usage]}],
            }
        ]
    }
    return [("logs", logs), ("metrics", metrics)]


def post_otlp(
    url: str,
    token: str,
    signal: str,
    body: bytes,
    content_type: str,
    compress: bool = False,
    chunked: bool = True,
    timeout: float = 10.0,
) -> int:
    """Send one OTLP/HTTP export the way agents do (chunked, optionally gzip); return the status."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": content_type, TOKEN_HEADER: token}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        if chunked:
            conn.request("POST", f"/v1/{signal}", body=_chunks(body), headers=headers, encode_chunked=True)
        else:
            conn.request("POST", f"/v1/{signal}", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


# --- commands ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `beacon:` line and exit code 2 (main reports it)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _add_verdict_options(p: argparse.ArgumentParser) -> None:
    """How exec and finish judge and report a capture."""
    p.add_argument("--min-events", type=_count, default=1, help="events required (default: %(default)s)")
    p.add_argument(
        "--require-telemetry",
        type=_bool,
        default=True,
        metavar="true|false",
        help="fail (exit 3) when validation fails (default: true)",
    )
    p.add_argument(
        "--summary",
        type=_bool,
        default=True,
        metavar="true|false",
        help="append what the agent did to $GITHUB_STEP_SUMMARY when set (default: true)",
    )


def _add_otlp_protocol(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--otlp-protocol",
        choices=sorted(OTLP_PROTOCOLS),
        default="protobuf",
        help="how agents encode their export (default: %(default)s; Gemini always sends JSON)",
    )


def _add_capture_options(p: argparse.ArgumentParser, harness_default: str) -> None:
    p.add_argument(
        "--harness",
        default=harness_default,
        help="comma list of claude, codex, gemini, or auto (default: %(default)s)",
    )
    p.add_argument("--log-path", help="the JSONL log (default: <base dir>/runtime.jsonl)")
    p.add_argument("--base-dir", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")


def _add_upload(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--upload",
        action="append",
        metavar="s3|gcs",
        help="upload the log after validation (repeatable or comma list; buckets from "
        "BEACON_CI_S3_BUCKET, BEACON_CI_GCS_BUCKET)",
    )


def _add_forward(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--forward",
        metavar="splunk|falcon|otlp",
        help="forward events as they arrive (tokens only from BEACON_CI_SPLUNK_HEC_TOKEN, "
        "BEACON_CI_FALCON_HEC_TOKEN; OTLP headers from BEACON_CI_OTLP_HEADERS)",
    )
    p.add_argument("--forward-endpoint", metavar="URL", help="where to forward (or BEACON_CI_*_ENDPOINT)")


def _add_exec(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exec",
        help="run an agent command with its telemetry captured",
        usage="beacon ci exec [options] -- COMMAND [ARG...]",
    )
    _add_capture_options(p, "auto")
    _add_verdict_options(p)
    _add_upload(p)
    _add_forward(p)
    _add_otlp_protocol(p)
    p.add_argument("--drain-timeout", type=float, default=DRAIN_TIMEOUT, help=argparse.SUPPRESS)
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    p.set_defaults(func=_cmd_exec)


def _cmd_exec(args: argparse.Namespace, env: Environment) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    command = resolve_command(command, env.environ)
    harnesses = parse_harnesses(args.harness) or harnesses_for_command(command)
    exports = parse_exports(args.upload, args.forward, args.forward_endpoint, env.environ)
    paths, capture_id = resolve_paths(env.environ, args.base_dir, args.log_path), new_capture_id()
    uploads = plan_uploads(
        exports.uploads, env.environ, paths.log_path, detect_run(env.environ), capture_id, env.clock()
    )
    capture = Capture(env, harnesses, paths, "exec", args.otlp_protocol, capture_id, forward=exports.forward)
    try:
        child_env = without_export_credentials(capture.start(), exports.targets)
        child_code, signal_received = run_child(command, child_env)
    finally:
        capture.finish(args.drain_timeout)
    validation = capture.validate(args.min_events)
    forwarded = capture.forwarded.to_json() if capture.forwarded else None
    outputs = {"log-path": capture.paths.log_path}
    export_failed = conclude(env, args, validation, capture.result(validation), uploads, forwarded, outputs)
    return exit_code_for(child_code, signal_received, validation, args.require_telemetry, export_failed)


def conclude(
    env: Environment,
    args: argparse.Namespace,
    validation: Validation,
    result: Dict[str, Any],
    uploads: Sequence[Any],
    forwarded: Optional[Dict[str, Any]],
    outputs: Dict[str, str],
) -> bool:
    """The end of exec and finish, after validation: the summary, the uploads, what the forward
    delivered, the step outputs, then the report. Whether an upload or the forward failed."""
    # The summary (and a GitHub annotation) first: the --json document must be stdout's last line.
    write_summary(env, validation, args.require_telemetry, args.summary)
    uploaded = upload_log(env, uploads)
    forward_failed = report_forward(env, forwarded)
    publish_outputs(env, {**outputs, **verdict_outputs(validation)})
    if forwarded:
        result["forward"] = forwarded
    if uploaded:
        result["uploads"] = [upload.to_json() for upload in uploaded]
    report(env, result, validation, args.json, args.require_telemetry)
    return forward_failed or not all(upload.ok for upload in uploaded)


def _add_validate(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check an existing runtime.jsonl")
    _add_capture_options(p, "")
    p.add_argument("--min-events", type=_count, default=1, help="events required (default: %(default)s)")
    p.add_argument("--capture-id", help="count only this capture's events")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace, env: Environment) -> int:
    harnesses = parse_harnesses(args.harness) if args.harness else []
    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    validation = validate_log(log_path, args.min_events, harnesses, args.capture_id)
    report(env, {"log_path": log_path, "validation": validation.as_json()}, validation, args.json, True)
    return EXIT_OK if validation.passed else EXIT_VALIDATION


def report(
    env: Environment, result: Dict[str, Any], validation: Validation, as_json: bool, required: bool
) -> None:
    """stderr for people (one line per failed stage); stdout for --json."""
    if as_json:
        print(json.dumps(result, sort_keys=True), file=env.stdout, flush=True)
    events = result.get("events")
    if events is not None:
        by = ", ".join(f"{name} {n}" for name, n in sorted(events.items())) or "none"
        env.say(f"captured {sum(events.values())} events ({by}) into {result['log_path']}")
    if validation.passed:
        env.say(f"validation passed: {validation.event_count} events")
        return
    env.say(f"validation failed{'' if required else ' (continuing: --require-telemetry=false)'}:")
    for stage in validation.stages:
        if not stage.passed:
            env.say(f"  {stage.name}: {stage.detail}")


def _add_start(subparsers: Any) -> None:
    p = subparsers.add_parser("start", help="start a detached capture for the steps that follow")
    p.add_argument("--harness", default="claude,codex,gemini", help="comma list (default: %(default)s)")
    p.add_argument("--log-path", help="the JSONL log (default: <base dir>/runtime.jsonl)")
    p.add_argument("--base-dir", help=argparse.SUPPRESS)
    p.add_argument("--state-path", help="the session state file (default: <base dir>/session.json)")
    p.add_argument("--github-env", help="the file to export settings to (default: $GITHUB_ENV)")
    _add_otlp_protocol(p)
    _add_forward(p)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_start)


def _cmd_start(args: argparse.Namespace, env: Environment) -> int:
    harnesses = parse_harnesses(args.harness) or list(HARNESSES)
    paths = resolve_paths(env.environ, args.base_dir, args.log_path, args.state_path)
    plan = parse_exports(None, args.forward, args.forward_endpoint, env.environ).forward  # checked first
    # The receiver plans the forward again from its own environment (the token is never stored).
    forward = (
        {"target": plan.target, "endpoint": args.forward_endpoint, "display": plan.endpoint.display}
        if plan
        else None
    )
    state = _running_session(paths.state_path)
    if state is not None:
        env.say(f"capture {state['capture_id']} is already running: its settings again")
    else:
        state = start_session(env, harnesses, paths, args.otlp_protocol, forward)
    publish_exports(env, session_exports(env, state), state, args.github_env or env.environ.get("GITHUB_ENV"))
    if args.json:
        public = {k: v for k, v in state.items() if k != "token"}
        print(json.dumps(public, sort_keys=True), file=env.stdout, flush=True)
    env.say(
        f"capture {state['capture_id']} started ({', '.join(state['harnesses'])}): log {state['log_path']}; "
        "end it with beacon ci finish"
    )
    return EXIT_OK


def _running_session(state_path: str) -> Optional[Dict[str, Any]]:
    try:
        state = read_state(state_path)
    except BeaconError:
        return None
    return state if state.get("status") == "running" and session_receiver_alive(state) else None


def _add_finish(subparsers: Any) -> None:
    p = subparsers.add_parser("finish", help="stop the capture ci start began, validate it, report")
    p.add_argument(
        "--state-path",
        help="the session state file (default: $BEACON_CI_STATE_PATH, else <base dir>/session.json)",
    )
    p.add_argument("--base-dir", help=argparse.SUPPRESS)
    _add_verdict_options(p)
    _add_upload(p)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_finish)


def _cmd_finish(args: argparse.Namespace, env: Environment) -> int:
    state_path = args.state_path or env.environ.get("BEACON_CI_STATE_PATH")
    state = read_state(resolve_paths(env.environ, args.base_dir, state_path=state_path).state_path)
    targets = parse_exports(args.upload, None, None, env.environ).uploads
    uploads = plan_uploads(
        targets,
        env.environ,
        state["log_path"],
        detect_run(env.environ),
        state["capture_id"],
        state.get("started_unix", env.clock()),
    )
    env.say(stop_session(env, state))
    state = read_state(state["state_path"])
    validation = validate_log(
        state["log_path"],
        args.min_events,
        state["harnesses"],
        state["capture_id"],
        write_failures=state.get("write_failures", 0),
    )
    result = {
        "capture_id": state["capture_id"],
        "mode": "session",
        "log_path": state["log_path"],
        "harnesses": state["harnesses"],
        "events": state.get("events", {}),
        "receiver": state.get("receiver"),
        "validation": validation.as_json(),
    }
    outputs = {"log-path": state["log_path"], "state-path": state["state_path"]}
    forwarded = session_forwarded(state, validation)
    export_failed = conclude(env, args, validation, result, uploads, forwarded, outputs)
    return exit_code_for(0, None, validation, args.require_telemetry, export_failed)


def session_forwarded(state: Mapping[str, Any], validation: Validation) -> Optional[Dict[str, Any]]:
    """What the session's receiver says it forwarded. One that died before saying (SIGKILL)
    confirmed nothing: every event of the capture counts failed, as a forwarder counts them."""
    if not state.get("forward") or state.get("forwarded"):
        return state.get("forwarded")
    return {
        "target": state["forward"]["target"],
        "endpoint": state["forward"]["display"],
        "sent": 0,
        "failed": validation.event_count,
        "message": "the receiver stopped before it could say what it delivered (killed?)",
    }


def _add_serve(subparsers: Any) -> None:
    p = subparsers.add_parser("_serve")  # the detached receiver ci start spawns; not for people
    p.add_argument("--state-path", required=True)
    p.add_argument("--capture-id", required=True)  # in the command line so finish can tell it is ours
    p.add_argument("--ready-fd", type=int, required=True)
    p.set_defaults(func=lambda args, env: serve_session(env, args.state_path, args.ready_fd))


def _add_selftest(subparsers: Any) -> None:
    p = subparsers.add_parser("selftest", help="run the pipeline against a built-in synthetic agent")
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_selftest)


def _cmd_selftest(args: argparse.Namespace, env: Environment) -> int:
    """The whole pipeline against a synthetic Claude Code: protobuf, JSON and gzip, chunked."""
    with tempfile.TemporaryDirectory(prefix="beacon-selftest-") as tmp:
        capture = Capture(env, ["claude"], resolve_paths(env.environ, base_dir=tmp), "selftest")
        session = synthetic_claude_session("selftest-" + capture.capture_id, int(env.clock() * 1e9))
        sent = statuses = 0
        try:
            capture.start()
            for content_type, compress in ((PROTOBUF, False), (JSON, False), (PROTOBUF, True)):
                for signal_name, request in session:
                    encode = (
                        beacon_otlp.encode_protobuf if content_type == PROTOBUF else beacon_otlp.encode_json
                    )
                    status = post_otlp(
                        capture.receiver.url,
                        capture.token,
                        signal_name,
                        encode(signal_name, request),
                        content_type,
                        compress,
                    )
                    statuses += status == 200
                    sent += beacon_otlp.count_records(signal_name, request)
        finally:
            capture.finish()
        expected = 3 * SYNTHETIC_EVENTS
        validation = capture.validate(min_events=expected)
        with open(capture.paths.log_path, encoding="utf-8") as log:
            leaked = SYNTHETIC_SECRET in log.read()
    result = capture.result(validation)
    ok = validation.passed and validation.event_count == expected and not leaked and statuses == 6
    result.update({"passed": ok, "records_sent": sent, "secret_leaked": leaked})
    if args.json:
        print(json.dumps(result, sort_keys=True), file=env.stdout, flush=True)
    env.say(
        f"selftest {'passed' if ok else 'FAILED'}: {validation.event_count} of {expected} events written "
        f"from {sent} OTLP records (protobuf, JSON, gzip; chunked); secret "
        f"{'LEAKED' if leaked else 'redacted'}"
    )
    return EXIT_OK if ok else EXIT_ERROR


def _add_ci(subparsers: Any) -> None:
    p = subparsers.add_parser("ci", help="capture agent telemetry in a CI job")
    commands = p.add_subparsers(dest="ci_command", metavar="COMMAND")
    commands.required = True
    _add_exec(commands)
    _add_start(commands)
    _add_finish(commands)
    _add_serve(commands)
    _add_validate(commands)
    _add_selftest(commands)
    _add_summary(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="beacon", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"beacon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_ci(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None, env: Optional[Environment] = None) -> int:
    env = env or Environment()
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args, env))
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    except BeaconError as exc:
        env.say(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
