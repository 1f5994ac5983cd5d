"""The heart of beacon: real agent CLIs (npm) run under `beacon ci exec` through the scripted
session of tests/agents/, each against its strict fake model server on loopback.

Checked end to end: exit codes, the normalized events of every step (action, outcome, command,
file path, call id joins), usage tokens, that no secret reaches the log, and validation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from agents import claude, codex, gemini, run_in_group, session_dirs
from conftest import ROOT

pytestmark = pytest.mark.agents

SECRETS = ("ghp_BEACONe2eSECRET0123456789abcdefABCDEF", "sk-ant-api03-BEACONe2eFAKEKEY0123456789")
FAILING = "ls /nonexistent-beacon-dir"
RUN_TIMEOUT = 240.0  # beacon ci exec around a whole agent session


class Captured:
    def __init__(
        self, code: int, stderr: str, result: Dict[str, Any], log: Path, server: Any, workdir: Path
    ) -> None:
        self.code, self.stderr, self.result, self.log, self.server, self.workdir = (
            code,
            stderr,
            result,
            log,
            server,
            workdir,
        )
        self.events = [json.loads(line) for line in log.read_text().splitlines()]

    def tools(self) -> List[Dict[str, Any]]:
        """Tool results and decisions: the events that carry a tool name."""
        return [e for e in self.events if e.get("tool", {}).get("name")]


def capture(agent: Any, tmp_path: Path, protocol: str) -> Captured:
    executable = agent.install()
    home, work = session_dirs(tmp_path)
    with agent.scripted_server(work) as server:
        env = agent.agent_env(home, work, server.url)
        env["RUNNER_TEMP"] = str(tmp_path / "runner")
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
        code, out, err = run_in_group(argv, work, env, RUN_TIMEOUT)
    result = json.loads(out.strip().splitlines()[-1])
    return Captured(code, err, result, Path(result["log_path"]), server, work)


def check_common(run: Captured, harness: str) -> None:
    assert run.code == 0, run.stderr[-3000:]
    assert run.server.errors == []
    assert run.result["validation"]["status"] == "passed"
    assert run.result["harnesses"] == [harness.split("_")[0]]
    assert {e["capture"]["id"] for e in run.events} == {run.result["capture_id"]}
    assert {e["harness"]["name"] for e in run.events} == {harness}
    text = run.log.read_text()
    for secret in SECRETS:
        assert secret not in text and secret[6:24] not in text
    assert "[REDACTED]" in text
    assert all(e.get("content", {}).get("redacted") for e in run.events if "[REDACTED]" in json.dumps(e))
    assert (run.workdir / "beacon_e2e.txt").read_text().strip() == "BEACON_FILE_MARKER"


def summary(events: List[Dict[str, Any]]) -> List[Tuple[Any, ...]]:
    return [
        (
            e["event"]["action"],
            e["event"].get("outcome"),
            e.get("command", {}).get("command"),
            e.get("file", {}).get("path"),
        )
        for e in events
    ]


def redacted_secret_command(command: str) -> bool:
    return command.startswith("echo 'Authorization: Bearer [REDACTED]") and "[REDACTED]" in command[40:]


@pytest.mark.parametrize("protocol", ["protobuf", "json"])
def test_claude_code(tmp_path: Path, protocol: str) -> None:
    run = capture(claude, tmp_path, protocol)
    check_common(run, "claude_code")
    work = str(run.workdir)
    results = [e for e in run.tools() if e["message"] == "claude_code.tool_result"]
    assert summary(results)[:4] == [
        ("command.executed", "success", "echo BEACON_E2E_MARKER", None),
        ("file.modified", "success", None, f"{work}/beacon_e2e.txt"),
        ("file.read", "success", None, f"{work}/beacon_e2e.txt"),
        ("command.executed", "failure", FAILING, None),
    ]
    assert redacted_secret_command(results[4]["command"]["command"])
    decisions = [e for e in run.tools() if e["message"] == "claude_code.tool_decision"]
    assert [e["event"]["action"] for e in decisions] == ["approval.allowed"] * 3 + ["approval.denied"] + [
        "approval.allowed"
    ] * 2
    assert decisions[3]["command"]["command"] == f"rm -rf {work}/beacon_denied"
    # every result joins its decision through the tool call id
    ids = [e["gen_ai"]["tool"]["call"]["id"] for e in results]
    assert ids == [
        e["gen_ai"]["tool"]["call"]["id"] for e in decisions if e["event"]["action"] != "approval.denied"
    ]
    requests = [e for e in run.events if e["message"] == "claude_code.api_request"]
    assert sum(e["gen_ai"]["usage"]["input_tokens"] for e in requests) == 7 * 120
    assert sum(e["gen_ai"]["usage"]["output_tokens"] for e in requests) == 7 * 25
    assert (
        run.result["receiver"]["requests"][0]["content_type"]
        == f"application/{'x-protobuf' if protocol == 'protobuf' else 'json'}"
    )


@pytest.mark.parametrize("protocol", ["protobuf", "json"])
def test_codex(tmp_path: Path, protocol: str) -> None:
    run = capture(codex, tmp_path, protocol)
    check_common(run, "codex_cli")
    work = str(run.workdir)
    results = [e for e in run.tools() if e["raw"]["event_name"] == "codex.tool_result"]
    assert summary(results)[:5] == [
        ("command.executed", "success", "echo BEACON_E2E_MARKER", None),
        ("file.created", "success", None, f"{work}/beacon_e2e.txt"),
        ("command.executed", "success", f"cat {work}/beacon_e2e.txt", None),
        ("tool.failed", "failure", None, None),  # refused, never ran: the denial is its decision
        ("command.executed", "failure", FAILING, None),
    ]
    assert results[4]["command"]["exit_code"] == 2
    assert redacted_secret_command(results[5]["command"]["command"])
    decisions = [e for e in run.tools() if e["raw"]["event_name"] == "codex.tool_decision"]
    assert [e["event"]["action"] for e in decisions] == ["approval.allowed"] * 3 + ["approval.denied"] + [
        "approval.allowed"
    ] * 2
    assert [e["gen_ai"]["tool"]["call"]["id"] for e in decisions] == [
        e["gen_ai"]["tool"]["call"]["id"] for e in results
    ]
    usage = [e["gen_ai"]["usage"] for e in run.events if e["event"]["action"] == "token.usage"]
    assert sum(u.get("input_tokens", 0) for u in usage) == 7 * 120
    assert sum(u.get("output_tokens", 0) for u in usage) == 7 * 25


def test_gemini_cli(tmp_path: Path) -> None:
    run = capture(gemini, tmp_path, "protobuf")  # Gemini sends JSON whatever is asked
    check_common(run, "gemini_cli")
    work = str(run.workdir)
    calls = [e for e in run.tools() if e["raw"]["event_name"] == "gemini_cli.tool_call"]
    assert summary(calls)[:5] == [
        ("command.executed", "success", "echo BEACON_E2E_MARKER", None),
        ("file.modified", "success", None, f"{work}/beacon_e2e.txt"),
        ("file.read", "success", None, f"{work}/beacon_e2e.txt"),
        ("approval.denied", "failure", "curl -sS http://127.0.0.1:9/denied-by-policy", None),
        ("command.executed", "failure", FAILING, None),
    ]
    assert redacted_secret_command(calls[5]["command"]["command"])
    responses = [e for e in run.events if e["raw"].get("event_name") == "gemini_cli.api_response"]
    assert sum(e["gen_ai"]["usage"]["input_tokens"] for e in responses) == sum(range(1000, 1700, 100))
    assert run.result["receiver"]["requests"][0]["content_type"] == "application/json"
