"""The heart of beacon: real agent CLIs (npm) run under `beacon ci exec` through the scripted
session of tests/agents/, each against its strict fake model server on loopback.

Checked end to end: exit codes (the agent's own when it fails), the normalized tool events of
the whole session against one expected table per agent (action, tool, outcome, command, file
path, exit code, call ids that join a decision to its result, redaction), usage tokens, that
no secret reaches the log (the value of a secret-looking environment variable included), and
validation.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import pytest
from agents import (
    FakeModelServer,
    claude,
    codex,
    copilot,
    gemini,
    install_or_skip,
    run_in_group,
    session_dirs,
)
from conftest import ROOT

from beacon_protect import Protector

pytestmark = pytest.mark.agents

SECRETS = ("ghp_BEACONe2eSECRET0123456789abcdefABCDEF", "sk-ant-api03-BEACONe2eFAKEKEY0123456789")
FAILING = "ls /nonexistent-beacon-dir"
SECRET_COMMAND_REDACTED = "echo 'Authorization: Bearer [REDACTED]' [REDACTED]"
RUN_TIMEOUT = 240.0  # beacon ci exec around a whole agent session


@dataclass
class Captured:
    """One `beacon ci exec` run: its exit code, output, result document and written events."""

    code: int
    stdout: str  # the agent's own stdout, then beacon's --json result on the last line
    stderr: str
    server: Any
    workdir: Path
    result: Dict[str, Any] = field(init=False)
    events: List[Dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.result = json.loads(self.stdout.strip().splitlines()[-1])
        self.events = [json.loads(line) for line in self.log.read_text().splitlines()]

    @property
    def log(self) -> Path:
        return Path(self.result["log_path"])

    def tools(self) -> List[Dict[str, Any]]:
        """Tool results and decisions: the events that carry a tool name."""
        return [e for e in self.events if e.get("tool", {}).get("name")]

    def named(self, message: str) -> List[Dict[str, Any]]:
        """The events of one record type (its event name)."""
        return [e for e in self.events if e["raw"].get("event_name") == message]


def capture(
    agent: Any,
    tmp_path: Path,
    protocol: str,
    server: Optional[Callable[[Path], FakeModelServer]] = None,
    env: Optional[Dict[str, str]] = None,
) -> Captured:
    """Run the agent under `beacon ci exec --json` against `server` (default: the scripted
    session's), with `env` added to the agent's environment."""
    executable = install_or_skip(agent)
    home, work = session_dirs(tmp_path)
    with (server or agent.scripted_server)(work) as api:
        child_env = {**agent.agent_env(home, work, api.url), **(env or {})}
        child_env["RUNNER_TEMP"] = str(tmp_path / "runner")
        argv = [
            sys.executable,
            str(ROOT / "beacon.py"),
            "ci",
            "exec",
            "--json",
            "--otlp-protocol",
            protocol,
            "--",
            *agent.command(executable=executable),
        ]
        code, out, err = run_in_group(argv, work, child_env, RUN_TIMEOUT)
    return Captured(code, out, err, api, work)


def check_capture(run: Captured, harness: str) -> None:
    """What every capture must be: valid, one capture id, all events from the agent's harness."""
    assert run.server.errors == []
    assert run.result["validation"]["status"] == "passed"
    assert run.result["harnesses"] == [harness.split("_")[0]]
    assert {e["capture"]["id"] for e in run.events} == {run.result["capture_id"]}
    assert {e["harness"]["name"] for e in run.events} == {harness}


def check_session(run: Captured, harness: str) -> None:
    """A whole scripted session: exit 0, the file written, no secret left, redactions flagged."""
    assert run.code == 0, run.stderr[-3000:]
    check_capture(run, harness)
    text = run.log.read_text()
    for secret in SECRETS:
        assert secret not in text and secret[6:24] not in text
    assert all(e.get("content", {}).get("redacted") for e in run.events if "[REDACTED]" in json.dumps(e))
    assert (run.workdir / "beacon_e2e.txt").read_text().strip() == "BEACON_FILE_MARKER"


class Row(NamedTuple):
    """One tool event as an expected table lists it; None where the event has no such field."""

    action: str
    tool: str
    outcome: Optional[str] = None
    command: Optional[str] = None
    path: Optional[str] = None
    exit_code: Optional[int] = None
    call_id: Optional[str] = None  # the same id on a decision and its result joins them
    redacted: bool = False


def row(event: Dict[str, Any]) -> Row:
    return Row(
        event["event"]["action"],
        event["tool"]["name"],
        event["event"].get("outcome"),
        event.get("command", {}).get("command"),
        event.get("file", {}).get("path"),
        event.get("command", {}).get("exit_code"),
        event.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id"),
        event.get("content", {}).get("redacted", False),
    )


def check_tool_events(run: Captured, expected: List[Row]) -> None:
    assert [row(e) for e in run.tools()] == expected


def token_totals(run: Captured) -> Dict[str, int]:
    """The token counts of the token.usage events (metric points) per token type, summed: each
    point counts what is new since the last, so the sums are the session's totals."""
    totals: Dict[str, int] = {}
    for event in run.events:
        gen_ai = event.get("gen_ai", {})
        token_type = gen_ai.get("token", {}).get("type")
        count = gen_ai.get("usage", {}).get(f"{token_type}_tokens")
        if event["event"]["action"] == "token.usage" and count is not None:
            totals[token_type] = totals.get(token_type, 0) + count
    return totals


def random_secret() -> str:
    """A fresh 24-character value no secret format matches: only its exact value can find it."""
    value = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
    command = claude.env_secret_command(value)
    assert Protector().redact_text(command) == command
    return value


# --- Claude Code ------------------------------------------------------------------------------


def claude_expected(work: str, env_secret: str) -> List[Row]:
    """Claude logs a tool_decision, then (unless denied) a tool_result, both with the call id."""
    ids = {step.name: step.call_id for step in claude.steps(work, env_secret)}
    path, denied = f"{work}/{claude.FILE_NAME}", f"rm -rf {work}/{claude.DENIED_DIR}"
    marker, secret = claude.MARKER_COMMAND, SECRET_COMMAND_REDACTED
    hidden = claude.env_secret_command("[REDACTED]")  # the environment secret's value redacted
    return [
        Row("approval.allowed", "Bash", command=marker, call_id=ids["shell"]),
        Row("command.executed", "Bash", "success", command=marker, call_id=ids["shell"]),
        Row("approval.allowed", "Write", call_id=ids["write"]),
        Row("file.modified", "Write", "success", path=path, call_id=ids["write"]),
        Row("approval.allowed", "Read", call_id=ids["read"]),
        Row("file.read", "Read", "success", path=path, call_id=ids["read"]),
        Row("approval.denied", "Bash", command=denied, call_id=ids["denied"]),  # and no result
        Row("approval.allowed", "Bash", command=FAILING, call_id=ids["failing"]),
        Row("command.executed", "Bash", "failure", command=FAILING, call_id=ids["failing"]),
        Row("approval.allowed", "Bash", command=secret, call_id=ids["secret"], redacted=True),
        Row("command.executed", "Bash", "success", command=secret, call_id=ids["secret"], redacted=True),
        Row("approval.allowed", "Bash", command=hidden, call_id=ids["env_secret"], redacted=True),
        Row("command.executed", "Bash", "success", command=hidden, call_id=ids["env_secret"], redacted=True),
    ]


@pytest.mark.parametrize("protocol", ["protobuf", "json"])
def test_claude_code(tmp_path: Path, protocol: str) -> None:
    env_secret = random_secret()
    run = capture(
        claude,
        tmp_path,
        protocol,
        server=lambda work: claude.scripted_server(work, env_secret),
        env={claude.ENV_SECRET_NAME: env_secret},
    )
    check_session(run, "claude_code")
    assert env_secret not in run.log.read_text()
    # with its spans on, still each call once (the table), and each result timed by them too
    check_tool_events(run, claude_expected(str(run.workdir), env_secret))
    assert run.result["spans_received"] > 0 and {e["trace"]["id"] for e in run.events} == {
        run.result["trace_id"]
    }
    for event in run.tools():
        if event["event"]["action"] != "approval.allowed":
            assert isinstance(event["event"]["duration_ms"], int), event
            assert isinstance(event["approval"]["wait_ms"], int), event  # only a span says this
    turns = len(claude.steps(str(run.workdir), env_secret))
    usage = [e["gen_ai"]["usage"] for e in run.named("claude_code.api_request")]
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [
        (claude.USAGE_IN, claude.USAGE_OUT)
    ] * turns
    assert token_totals(run) == {"input": turns * claude.USAGE_IN, "output": turns * claude.USAGE_OUT}
    assert (
        run.result["receiver"]["requests"][0]["content_type"]
        == f"application/{'x-protobuf' if protocol == 'protobuf' else 'json'}"
    )


def test_claude_code_model_error_exits_with_its_code(tmp_path: Path) -> None:
    """The API refuses the first request: Claude exits 1, and so does beacon, after writing and
    validating what Claude did report (the prompt and the API error)."""
    run = capture(claude, tmp_path, "protobuf", server=lambda work: claude.refusing_server())
    assert run.code == 1, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-2])  # Claude's own --output-format json
    assert (answer["is_error"], answer["api_error_status"]) == (True, 400)
    check_capture(run, "claude_code")
    assert [e["event"]["action"] for e in run.events] == ["prompt.submitted", "session.error"]
    error = run.events[1]
    assert (error["severity"], error["error"]) == (
        "high",
        {"type": "api_error", "message": claude.PROMPT_TOO_LONG, "status_code": 400},
    )
    assert [(r.method, r.path) for r in run.server.requests] == [
        ("HEAD", "/"),
        ("POST", "/v1/messages?beta=true"),
    ]


# --- Codex ------------------------------------------------------------------------------------


def codex_expected(work: str) -> List[Row]:
    """Codex logs a tool_decision, then a tool_result with the exit code, both with the call id.

    Its denial is a PermissionRequest hook (tests/agents/codex.py): a decision `denied`, then a
    failed result that is no executed command (the command never ran), only a failed call.
    """
    ids = {step.name: step.call_id for step in codex.steps(work)}
    path, read = f"{work}/{codex.FILE_NAME}", f"cat {work}/{codex.FILE_NAME}"
    marker, secret = codex.MARKER_COMMAND, SECRET_COMMAND_REDACTED
    shell, patch = "exec_command", "apply_patch"
    return [
        Row("approval.allowed", shell, call_id=ids["shell"]),
        Row("command.executed", shell, "success", command=marker, exit_code=0, call_id=ids["shell"]),
        Row("approval.allowed", patch, call_id=ids["write"]),
        Row("file.created", patch, "success", path=path, exit_code=0, call_id=ids["write"]),
        Row("approval.allowed", shell, call_id=ids["read"]),
        Row("command.executed", shell, "success", command=read, exit_code=0, call_id=ids["read"]),
        Row("approval.denied", shell, call_id=ids["denied"]),
        Row("tool.failed", shell, "failure", call_id=ids["denied"]),  # refused: no command ran
        Row("approval.allowed", shell, call_id=ids["failing"]),
        Row("command.executed", shell, "failure", command=FAILING, exit_code=2, call_id=ids["failing"]),
        Row("approval.allowed", shell, call_id=ids["secret"]),
        Row(
            "command.executed",
            shell,
            "success",
            command=secret,
            exit_code=0,
            call_id=ids["secret"],
            redacted=True,
        ),
    ]


@pytest.mark.parametrize("protocol", ["protobuf", "json"])
def test_codex(tmp_path: Path, protocol: str) -> None:
    run = capture(codex, tmp_path, protocol)
    check_session(run, "codex_cli")
    check_tool_events(run, codex_expected(str(run.workdir)))
    turns = len(codex.steps(str(run.workdir)))
    usage_in, usage_out = turns * codex.USAGE_IN, turns * codex.USAGE_OUT
    assert token_totals(run) == {"input": usage_in, "output": usage_out, "total": usage_in + usage_out}
    assert (
        run.result["receiver"]["requests"][0]["content_type"]
        == f"application/{'x-protobuf' if protocol == 'protobuf' else 'json'}"
    )


# --- Gemini CLI -------------------------------------------------------------------------------


def gemini_expected(work: str) -> List[Row]:
    """Gemini logs one tool_call per call, after it ran, with no call id; the exit code only
    when the command failed (from the record's metadata); a call its policy refused as denied."""
    path = f"{work}/{gemini.FILE_NAME}"
    shell = "run_shell_command"
    return [
        Row("command.executed", shell, "success", command=f"echo {gemini.SHELL_MARKER}"),
        Row("file.modified", "write_file", "success", path=path),
        Row("file.read", "read_file", "success", path=path),
        Row("approval.denied", shell, "failure", command=gemini.DENIED_COMMAND),
        Row("command.executed", shell, "failure", command=FAILING, exit_code=2),
        Row("command.executed", shell, "success", command=SECRET_COMMAND_REDACTED, redacted=True),
    ]


def test_gemini_cli(tmp_path: Path) -> None:
    run = capture(gemini, tmp_path, "protobuf")  # Gemini sends JSON whatever is asked
    check_session(run, "gemini_cli")
    check_tool_events(run, gemini_expected(str(run.workdir)))
    # The fake API reports 1000 + 100 n prompt and 10 + n output tokens for its n-th answer.
    turns = range(len(gemini.script(run.workdir)))
    usage = [e["gen_ai"]["usage"] for e in run.named("gemini_cli.api_response")]
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [
        (1000 + 100 * n, 10 + n) for n in turns
    ]
    assert token_totals(run) == {
        "input": sum(1000 + 100 * n for n in turns),
        "output": sum(10 + n for n in turns),
    }
    assert run.result["receiver"]["requests"][0]["content_type"] == "application/json"


# --- GitHub Copilot CLI -----------------------------------------------------------------------


def copilot_expected(work: str) -> List[Row]:
    """Copilot sends only spans: one execute_tool span per call, the denied one included (status
    error, never executed), in the order the calls ended."""
    ids = {step.name: step.call_id for step in copilot.steps(work)}
    path, denied = f"{work}/{claude.FILE_NAME}", f"rm -rf {work}/{claude.DENIED_DIR}"
    marker, secret = claude.MARKER_COMMAND, SECRET_COMMAND_REDACTED
    return [
        Row("command.executed", "bash", "success", command=marker, exit_code=0, call_id=ids["shell"]),
        Row("file.created", "create", "success", path=path, call_id=ids["write"]),
        Row("file.read", "view", "success", path=path, call_id=ids["read"]),
        Row("approval.denied", "bash", command=denied, call_id=ids["denied"]),
        Row("command.executed", "bash", "failure", command=FAILING, exit_code=2, call_id=ids["failing"]),
        Row(
            "command.executed",
            "bash",
            "success",
            command=secret,
            exit_code=0,
            call_id=ids["secret"],
            redacted=True,
        ),
    ]


def check_copilot(run: Captured) -> None:
    check_session(run, "copilot_cli")
    validate = [sys.executable, str(ROOT / "beacon.py"), "ci", "validate", "--harness", "copilot"]
    code, _, err = run_in_group([*validate, "--log-path", str(run.log)], run.workdir, {}, 60)
    assert code == 0, err
    check_tool_events(run, copilot_expected(str(run.workdir)))
    assert {e["trace"]["id"] for e in run.events} == {run.result["trace_id"]}  # stamped: Copilot ignores ours
    assert all(isinstance(e["event"].get("duration_ms"), int) for e in run.tools())
    turns = len([step for step in copilot.steps(str(run.workdir)) if step.tool]) + 1
    usage = [e["gen_ai"]["usage"] for e in run.events if e["event"]["action"] == "token.usage"]
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [
        (claude.USAGE_IN, claude.USAGE_OUT)
    ] * turns
    (prompt,) = [e for e in run.events if e["event"]["action"] == "prompt.submitted"]
    assert prompt["prompt"]["text"].endswith(claude.PROMPT)


@pytest.mark.parametrize("protocol", ["protobuf", "json"])
def test_copilot_cli(tmp_path: Path, protocol: str) -> None:
    run = capture(copilot, tmp_path, protocol)
    check_copilot(run)
    assert (
        run.result["receiver"]["requests"][0]["content_type"]
        == f"application/{'x-protobuf' if protocol == 'protobuf' else 'json'}"
    )
    assert run.result["records_dropped_as_noise"] == 0 and run.result["spans_received"] > len(run.tools())


def test_copilot_cli_is_captured_whatever_tls_settings_the_job_has(tmp_path: Path) -> None:
    """Copilot exports nothing over http:// while an OTLP certificate variable is set; beacon
    clears them for the child, so a job that sets one for its own collector is still captured."""
    certificate = tmp_path / "collector-ca.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    run = capture(copilot, tmp_path, "protobuf", env={"OTEL_EXPORTER_OTLP_CERTIFICATE": str(certificate)})
    check_copilot(run)
