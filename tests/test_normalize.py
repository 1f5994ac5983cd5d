"""Normalization against golden payloads recorded from the real agent CLIs (tests/fixtures/).

Each fixture set is one scripted session (tests/agents/<agent>.py): a shell command, a file
write and read, a denied tool, a failing command, and a command carrying secrets.
Protection is tested on its own (test_protect.py); here events are checked before it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from agents import claude, codex, gemini
from conftest import ROOT

from beacon_ci import __version__
from beacon_ci.agents.fields import approval_action, category_of
from beacon_ci.agents.normalizer import LOG_MAPPERS, Normalizer
from beacon_ci.context import CaptureContext
from beacon_ci.eventlog import event_line, schema_problem
from beacon_otlp import Batch, count_records, decode, decode_protobuf, encode_protobuf
from beacon_protect import Protector

FIXTURES = ROOT / "tests" / "fixtures"
AGENTS = ("claude", "codex", "gemini", "copilot")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CONTEXT = CaptureContext(
    "cap-test", "exec", {"provider": "github_actions", "run_id": "7"}, "host", "linux", "ci", TRACEPARENT
)


def session(agent: str) -> Dict[str, Any]:
    return json.loads((FIXTURES / agent / "session.json").read_text())


def normalized(agent: str, protocol: str) -> List[Dict[str, Any]]:
    """Every event of one recorded run, in arrival order."""
    run = next(r for r in session(agent)["runs"] if r["protocol"] == protocol)
    normalizer = Normalizer(CONTEXT, clock=lambda: 1_764_000_000.0)
    events: List[Dict[str, Any]] = []
    for entry in run["files"]:
        if "file" not in entry:
            continue  # recorded as skipped (too large)
        signal = entry["path"].rsplit("/", 1)[-1]
        request = decode(signal, entry["content_type"], (FIXTURES / agent / entry["file"]).read_bytes())
        events.extend(
            normalizer.events(
                Batch(signal, request, entry["content_type"], count_records(signal, request), 0.0)
            )
        )
    return events


def by_call(events: List[Dict[str, Any]], call_id: str) -> List[Dict[str, Any]]:
    return [e for e in events if e.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id") == call_id]


def workdir(agent: str, protocol: str) -> str:
    return next(r for r in session(agent)["runs"] if r["protocol"] == protocol)["workdir"]


def recorded_runs() -> List[Tuple[str, str]]:
    return [(agent, run["protocol"]) for agent in AGENTS for run in session(agent)["runs"]]


def log_events(
    service: str, *records: Dict[str, Any], context: CaptureContext = CONTEXT, **resource: Any
) -> List[Dict[str, Any]]:
    """The events of one logs export from `service`, each record given as the agent sends it."""
    request = {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": service, **resource}},
                "scope_logs": [{"log_records": list(records)}],
            }
        ]
    }
    request = decode_protobuf("logs", encode_protobuf("logs", request))  # the shape a receiver hands over
    normalizer = Normalizer(context, clock=lambda: 1_764_000_000.0)
    return list(normalizer.events(Batch("logs", request, "application/x-protobuf", len(records), 0.0)))


def only_event(service: str, name: str, **attributes: Any) -> Dict[str, Any]:
    """The one event of a single record: Claude's `claude_code.<name>` body with the short
    event.name, the full name elsewhere."""
    if service == "claude-code":
        record = {"body": f"claude_code.{name}", "attributes": {"event.name": name, **attributes}}
    else:
        record = {"body": name, "attributes": {"event.name": name, **attributes}}
    (event,) = log_events(service, record)
    return event


@pytest.mark.parametrize("agent, protocol", recorded_runs())
def test_every_event_is_a_valid_beacon_event_stamped_with_the_capture(agent: str, protocol: str) -> None:
    for event in normalized(agent, protocol):
        assert schema_problem(event) is None, event
        assert event["capture"] == {"id": "cap-test", "mode": "exec", "beacon_version": __version__}
        assert event["origin"] == "ci"
        assert event["run"] == {"provider": "github_actions", "run_id": "7", "ephemeral": True}
        assert event["trace"]["id"] == TRACE_ID  # the capture's trace, whatever the agent's own
        assert event["event"]["category"] == category_of(event["event"]["action"])
        assert len(event["event"]["id"]) == 32
        assert event["timestamp"].endswith("Z") and len(event["timestamp"]) == 24


# --- Claude Code ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_claude_session(protocol: str) -> None:
    events = normalized("claude", protocol)
    work = workdir("claude", protocol)
    calls = {step["name"]: step["call_id"] for step in session("claude")["steps"]}
    actions = Counter(e["event"]["action"] for e in events)
    assert actions == Counter(
        {
            "approval.allowed": 5,
            "approval.denied": 1,
            "command.executed": 3,
            "file.modified": 1,
            "file.read": 1,
            "prompt.submitted": 1,
            "session.activity": 8,
            "token.usage": 2,
            "cost.usage": 1,
        }
    )  # zero-valued cache points are skipped
    assert {e["harness"]["name"] for e in events} == {"claude_code"}
    assert {e["harness"]["version"] for e in events} == {"2.1.197"}
    assert [e["prompt"]["text"] for e in events if "prompt" in e] == ["Run the beacon end-to-end session."]

    decision, result = by_call(events, calls["shell"])
    assert decision["event"]["action"] == "approval.allowed"
    assert decision["approval"] == {"required": True, "decision": "accept", "reason": "config"}
    assert decision["command"] == {"command": "echo BEACON_E2E_MARKER"}
    assert result["event"]["action"] == "command.executed" and result["event"]["outcome"] == "success"
    assert result["command"]["command"] == "echo BEACON_E2E_MARKER"
    assert isinstance(result["command"]["duration_ms"], int)
    assert result["tool"] == {"name": "Bash", "command": "echo BEACON_E2E_MARKER"}

    _, write = by_call(events, calls["write"])
    assert (write["event"]["action"], write["file"]) == (
        "file.modified",
        {"path": f"{work}/beacon_e2e.txt", "operation": "create"},
    )
    _, read = by_call(events, calls["read"])
    assert (read["event"]["action"], read["file"]) == (
        "file.read",
        {"path": f"{work}/beacon_e2e.txt", "operation": "read"},
    )
    (denied,) = by_call(events, calls["denied"])  # a denied call has no result
    assert denied["event"]["action"] == "approval.denied"
    assert denied["approval"]["decision"] == "reject"
    assert denied["command"]["command"] == f"rm -rf {work}/beacon_denied"

    _, failing = by_call(events, calls["failing"])
    assert failing["event"]["action"] == "command.executed" and failing["event"]["outcome"] == "failure"
    assert failing["error"] == {"type": "ShellError", "message": "Shell command failed"}
    assert failing["severity"] == "medium"

    _, secret = by_call(events, calls["secret"])
    assert "ghp_BEACONe2eSECRET" in secret["command"]["command"]  # protection removes it later

    requests = [e for e in events if e["message"] == "claude_code.api_request"]
    assert len(requests) == 7
    assert requests[0]["gen_ai"]["usage"]["input_tokens"] == 120
    assert requests[0]["gen_ai"]["usage"]["output_tokens"] == 25
    assert requests[0]["gen_ai"]["usage"]["cost_usd"] == pytest.approx(0.001225)
    assert requests[0]["model"] == "claude-opus-4-8"

    usage = Counter()
    for e in events:
        if e["event"]["action"] == "token.usage":
            for key in ("input_tokens", "output_tokens"):
                usage[key] += e["gen_ai"]["usage"].get(key, 0)
    assert usage == Counter({"input_tokens": 840, "output_tokens": 175})  # 7 requests x 120 / 25


# What each Copilot step becomes: (action, outcome, exit code); Copilot sends only spans.
COPILOT_STEPS = {
    "shell": ("command.executed", "success", 0),
    "write": ("file.created", "success", None),
    "read": ("file.read", "success", None),
    "denied": ("approval.denied", None, None),
    "failing": ("command.executed", "failure", 2),
    "secret": ("command.executed", "success", 0),
}


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_copilot_session_from_its_spans(protocol: str) -> None:
    events = normalized("copilot", protocol)
    work = workdir("copilot", protocol)
    steps = [step for step in session("copilot")["steps"] if step["tool"]]  # the final answer is no call
    assert Counter(e["event"]["action"] for e in events) == Counter(
        {
            "prompt.submitted": 1,
            "token.usage": 7,
            "command.executed": 3,
            "file.created": 1,
            "file.read": 1,
            "approval.denied": 1,
        }
    )  # a tool call once each, a model call once each; the run's own usage and metrics not again
    assert {(e["harness"]["name"], e["harness"]["version"]) for e in events} == {("copilot_cli", "1.0.102")}
    assert len({e["session"]["id"] for e in events}) == 1  # from the run's span, on every event
    assert {e["trace"]["id"] for e in events} == {TRACE_ID}  # Copilot's own trace is another
    assert len({e["trace"]["source_id"] for e in events}) == 1
    (prompt,) = [e for e in events if e["event"]["action"] == "prompt.submitted"]
    assert prompt["prompt"]["text"].endswith("\n\nRun the beacon end-to-end session.")

    tool_events = [e for e in events if e["event"]["category"] != "metric" and e is not prompt]
    assert len(tool_events) == len(steps)
    for step in steps:
        (event,) = by_call(events, step["call_id"])
        action, outcome, exit_code = COPILOT_STEPS[step["name"]]
        target = step["input"].get("command") or step["input"].get("path")
        target = target.replace("<workdir>", work)
        assert (event["event"]["action"], event["event"].get("outcome")) == (action, outcome), step["name"]
        assert event["tool"]["name"] == step["tool"]
        assert isinstance(event["event"]["duration_ms"], int)
        if step["tool"] == "bash":
            assert event["command"].get("exit_code") == exit_code
            assert event["command"]["command"] == event["tool"]["command"] == target
        else:
            assert event["file"]["path"] == target
    denied = by_call(events, next(s["call_id"] for s in steps if s["denied"]))[0]
    assert denied["approval"]["required"] is True and denied["approval"]["decision"] == "denied"
    assert denied["approval"]["reason"]  # the refusal as Copilot words it

    usage = Counter()
    for e in events:
        if e["event"]["action"] == "token.usage":
            assert e["model"] == "claude-sonnet-4.5" and e["event"]["duration_ms"] >= 0
            for key in ("input_tokens", "output_tokens"):
                usage[key] += e["gen_ai"]["usage"][key]
    assert usage == Counter({"input_tokens": 840, "output_tokens": 175})  # the run's own totals
    raw = json.dumps([e["raw"] for e in events])
    assert "gen_ai.system_instructions" not in raw and "gen_ai.input.messages" not in raw


def tool_calls(events: List[Dict[str, Any]]) -> List[Tuple[str, str, str]]:
    return [
        (e["event"]["action"], e["tool"]["name"], e["gen_ai"]["tool"]["call"]["id"])
        for e in events
        if e.get("gen_ai", {}).get("tool", {}).get("call")
    ]


def test_claude_with_its_spans_reports_each_call_once_with_what_only_spans_know() -> None:
    """The recorded traced session (spans first, then the records): every tool call exactly as
    without spans, each result and the denial with its approval wait, no span written alone."""
    events = normalized("claude-traces", "http/protobuf")
    plain = normalized("claude", "http/protobuf")
    assert Counter(tool_calls(events)) == Counter(tool_calls(plain))
    assert not [e for e in events if e["raw"]["otel_signal"] == "traces"]
    joined = [e for e in events if e.get("gen_ai", {}).get("tool", {}).get("call")]
    for event in joined:
        if event["event"]["action"] != "approval.allowed":
            assert isinstance(event["approval"]["wait_ms"], int), event["event"]
            assert isinstance(event["event"]["duration_ms"], int), event["event"]
    assert all("span_id" in e["trace"] for e in joined)  # the records are in Claude's trace


def test_claude_protocols_give_the_same_events() -> None:
    """Two runs (JSON, protobuf) of one script: same events, up to run-specific values."""

    def shape(event: Dict[str, Any]) -> Any:
        return (
            event["event"]["action"],
            event["event"].get("outcome"),
            event.get("tool", {}).get("name"),
            event.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id"),
            event.get("error"),
        )

    runs = [
        sorted(map(shape, normalized("claude", protocol)), key=repr)
        for protocol in ("http/json", "http/protobuf")
    ]
    assert runs[0] == runs[1]


def claude_tool(tool: str, tool_input: Dict[str, Any]) -> Dict[str, Any]:
    return only_event(
        "claude-code",
        "tool_result",
        tool_name=tool,
        tool_use_id="toolu_1",
        success="true",
        tool_input=json.dumps(tool_input),
    )


@pytest.mark.parametrize(
    "tool, tool_input, action, file, tool_fields",
    [
        (
            "TodoWrite",
            {"todos": [{"content": "write the file", "status": "pending"}]},
            "tool.invoked",
            None,
            {},
        ),
        (
            "MultiEdit",
            {"file_path": "/w/a.py", "edits": [{"old_string": "a", "new_string": "b"}]},
            "file.modified",
            {"path": "/w/a.py", "operation": "modify"},
            {"path": "/w/a.py"},
        ),
        (
            "NotebookEdit",
            {"notebook_path": "/w/n.ipynb", "new_source": "x = 1", "cell_id": "c1"},
            "file.modified",
            {"path": "/w/n.ipynb", "operation": "modify"},
            {"path": "/w/n.ipynb"},
        ),
        (
            "Grep",
            {"pattern": "TODO", "path": "/w/src"},
            "tool.invoked",
            None,
            {"pattern": "TODO", "path": "/w/src"},
        ),
        (
            "Glob",
            {"pattern": "**/*.py", "path": "/w"},
            "tool.invoked",
            None,
            {"pattern": "**/*.py", "path": "/w"},
        ),
        ("LS", {"path": "/w"}, "tool.invoked", None, {"path": "/w"}),
        (
            "WebFetch",
            {"url": "https://example.com/doc", "prompt": "summarize"},
            "tool.invoked",
            None,
            {"url": "https://example.com/doc"},
        ),
        ("WebSearch", {"query": "otlp json"}, "tool.invoked", None, {"query": "otlp json"}),
        (
            "Task",
            {"description": "Find tests", "prompt": "look", "subagent_type": "Explore"},
            "tool.invoked",
            None,
            {"subagent_type": "Explore", "description": "Find tests"},
        ),
    ],
)
def test_claude_tools_are_classified_by_what_they_do(
    tool: str, tool_input: Dict[str, Any], action: str, file: Any, tool_fields: Dict[str, str]
) -> None:
    event = claude_tool(tool, tool_input)
    assert event["event"]["action"] == action
    assert event.get("file") == file
    assert event["tool"] == {"name": tool, **tool_fields}
    assert "command" not in event


# --- approvals: one vocabulary -------------------------------------------------------------------

# Every decision word the agents send (agents/*.md, their telemetry code), and what it means.
DECISIONS = [
    ("accept", "approval.allowed"),  # Claude, Gemini
    ("reject", "approval.denied"),  # Claude, Gemini
    ("approved", "approval.allowed"),  # Codex ReviewDecision, lowercased
    ("approved_for_session", "approval.allowed"),
    ("approved_execpolicy_amendment", "approval.allowed"),
    ("approved_mcp_policy_amendment", "approval.allowed"),
    ("denied", "approval.denied"),
    ("abort", "approval.denied"),
    ("timed_out", "approval.denied"),
    ("network_policy_amendment", "approval.requested"),  # allows or denies: it does not say
    ("auto_accept", "approval.allowed"),  # Gemini
    ("modify", "approval.requested"),
    ("proceed_once", "approval.allowed"),  # Gemini outcomes behind its decisions
    ("proceed_always", "approval.allowed"),
    ("proceed_always_server", "approval.allowed"),
    ("proceed_always_tool", "approval.allowed"),
    ("cancel", "approval.denied"),
    ("Approved", "approval.allowed"),  # any case
    ("DENIED", "approval.denied"),
    ("allow", "approval.allowed"),
    ("allowed", "approval.allowed"),
    ("approve", "approval.allowed"),
    ("rejected", "approval.denied"),
    ("deny", "approval.denied"),
    ("ask", "approval.requested"),
    ("", "approval.requested"),
]


@pytest.mark.parametrize("decision, action", DECISIONS)
def test_every_decision_word_has_one_meaning(decision: str, action: str) -> None:
    assert approval_action(decision) == action


@pytest.mark.parametrize("decision, action", DECISIONS)
def test_each_agent_decision_record_uses_the_vocabulary(decision: str, action: str) -> None:
    claude_decision = only_event(
        "claude-code", "tool_decision", decision=decision, source="user_temporary", tool_name="Bash"
    )
    codex_decision = only_event(
        "codex_exec", "codex.tool_decision", decision=decision, source="User", tool_name="exec_command"
    )
    assert claude_decision["event"]["action"] == codex_decision["event"]["action"] == action
    assert claude_decision["approval"] == {"required": True, "decision": decision, "reason": "user_temporary"}
    assert codex_decision["approval"] == {"required": True, "decision": decision, "reason": "User"}
    gemini_call = only_event(
        "gemini-cli", "gemini_cli.tool_call", function_name="list_directory", decision=decision, success=True
    )
    assert gemini_call["event"]["action"] == (
        "approval.denied" if action == "approval.denied" else "tool.invoked"
    )


@pytest.mark.parametrize(
    "source", ["config", "hook", "user_permanent", "user_temporary", "user_abort", "unknown"]
)
def test_a_claude_decision_source_is_its_reason_not_its_meaning(source: str) -> None:
    event = only_event("claude-code", "tool_decision", decision="accept", source=source, tool_name="Read")
    assert event["event"]["action"] == "approval.allowed" and event["approval"]["reason"] == source


# --- Codex ------------------------------------------------------------------------------------


def test_codex_session() -> None:
    events = normalized("codex", "binary")
    work = workdir("codex", "binary")
    calls = {step["name"]: step["call_id"] for step in session("codex")["steps"]}
    assert {e["harness"]["name"] for e in events} == {"codex_cli"}
    assert not [
        e
        for e in events
        if e["message"] == "codex.sse_event" or "sse_event" in e["raw"].get("event_name", "")
    ]
    actions = Counter(e["event"]["action"] for e in events)
    assert actions["session.started"] == 2  # the session and the approval reviewer's
    assert actions["prompt.submitted"] == 1

    decision, shell = by_call(events, calls["shell"])
    assert decision["event"]["action"] == "approval.allowed"
    assert decision["approval"] == {"required": True, "decision": "approved", "reason": "Config"}
    assert shell["event"]["action"] == "command.executed" and shell["event"]["outcome"] == "success"
    assert shell["command"]["command"] == "echo BEACON_E2E_MARKER" and shell["command"]["exit_code"] == 0

    _, write = by_call(events, calls["write"])
    assert (write["event"]["action"], write["file"]) == (
        "file.created",
        {"path": f"{work}/beacon_e2e.txt", "operation": "create"},
    )
    decision, denied = by_call(events, calls["denied"])  # the hook's denial, then the refused call
    assert decision["event"]["action"] == "approval.denied" and decision["approval"]["decision"] == "denied"
    assert (denied["event"]["action"], denied["event"]["outcome"]) == ("tool.failed", "failure")
    assert denied["error"] == {"type": "rejected", "message": "beacon e2e: git push is not allowed in CI"}
    assert "command" not in denied and denied["tool"]["command"] == "git push --force origin main"
    assert actions["approval.denied"] == 1

    _, failing = by_call(events, calls["failing"])
    assert failing["event"]["action"] == "command.executed"
    assert failing["event"]["outcome"] == "failure"  # Codex said success="true"; the exit code says no
    assert failing["command"]["exit_code"] == 2

    usage = Counter()
    for e in events:
        if e["event"]["action"] == "token.usage":
            for key in ("input_tokens", "output_tokens"):
                usage[key] += e["gen_ai"]["usage"].get(key, 0)
    assert usage == Counter({"input_tokens": 840, "output_tokens": 175})


def codex_call(tool: str, arguments: str, **attributes: Any) -> Dict[str, Any]:
    fields = {"tool_name": tool, "call_id": "call_1", "arguments": arguments, "success": "true"}
    return only_event("codex_exec", "codex.tool_result", **{**fields, **attributes})


@pytest.mark.parametrize(
    "tool, arguments, command",
    [
        ("exec_command", '{"cmd": "echo hi", "workdir": "/w", "yield_time_ms": 10000}', "echo hi"),
        ("shell", '{"command": ["bash", "-lc", "ls -la | head"], "workdir": "/w"}', "ls -la | head"),
        ("shell", '{"command": ["git", "commit", "-m", "a message"]}', "git commit -m 'a message'"),
        ("shell_command", '{"command": "npm test -- --watch=false"}', "npm test -- --watch=false"),
        ("local_shell", "make -j4 check", "make -j4 check"),
    ],
    ids=["cmd-string", "command-array-shell", "command-array-argv", "command-string", "raw-shell"],
)
def test_codex_shell_calls_in_every_argument_shape(tool: str, arguments: str, command: str) -> None:
    event = codex_call(tool, arguments, output="Process exited with code 0\nOutput:\n", duration_ms="31")
    assert event["event"]["action"] == "command.executed"
    assert event["command"] == {"command": command, "exit_code": 0, "duration_ms": 31}
    assert event["tool"] == {"name": tool, "command": command, "arguments": arguments}


ADD = "*** Begin Patch\n*** Add File: /w/new.txt\n+hello\n*** End Patch\n"
UPDATE = "*** Begin Patch\n*** Update File: /w/a.py\n@@\n-old\n+new\n*** End Patch\n"
DELETE = "*** Begin Patch\n*** Delete File: /w/old.txt\n*** End Patch\n"
MOVE = "*** Begin Patch\n*** Update File: /w/a.py\n*** Move to: /w/b.py\n@@\n-x\n+y\n*** End Patch\n"
SEVERAL = (
    "*** Begin Patch\n*** Update File: /w/a.py\n@@\n-a\n+b\n*** Add File: /w/c.py\n+c\n"
    "*** Delete File: /w/d.py\n*** End Patch\n"
)


@pytest.mark.parametrize(
    "patch, action, file",
    [
        (ADD, "file.created", {"path": "/w/new.txt", "operation": "create"}),
        (UPDATE, "file.modified", {"path": "/w/a.py", "operation": "modify"}),
        (DELETE, "file.modified", {"path": "/w/old.txt", "operation": "modify", "deleted": True}),
        (
            MOVE,
            "file.modified",
            {"path": "/w/a.py", "operation": "modify", "count": 2, "paths": ["/w/a.py", "/w/b.py"]},
        ),
        (
            SEVERAL,
            "file.modified",
            {
                "path": "/w/a.py",
                "operation": "modify",
                "count": 3,
                "paths": ["/w/a.py", "/w/c.py", "/w/d.py"],
            },
        ),
    ],
    ids=["add", "update", "delete", "move", "several"],
)
@pytest.mark.parametrize(
    "tool, form",
    [
        ("apply_patch", lambda patch: patch),  # the freeform custom tool
        ("apply_patch", lambda patch: json.dumps({"input": patch})),  # the JSON function tool
        ("exec_command", lambda patch: json.dumps({"cmd": ["apply_patch", patch]})),
        ("shell", lambda patch: json.dumps({"command": ["apply_patch", patch]})),
        ("exec_command", lambda patch: json.dumps({"cmd": f"apply_patch <<'EOF'\n{patch}EOF\n"})),
        (
            "shell",
            lambda patch: json.dumps(
                {"command": ["bash", "-lc", f"cd /w && apply_patch <<'EOF'\n{patch}EOF"]}
            ),
        ),
    ],
    ids=["freeform", "json-input", "exec-argv", "shell-argv", "exec-heredoc", "shell-heredoc"],
)
def test_codex_patches_are_file_events_in_every_form(
    patch: str, action: str, file: Dict[str, Any], tool: str, form: Any
) -> None:
    arguments = form(patch)
    event = codex_call(tool, arguments, output="Exit code: 0\nOutput:\nSuccess.\n")
    assert event["event"]["action"] == action and event["event"]["outcome"] == "success"
    assert event["file"] == file
    assert event["tool"] == {"name": tool, "path": file["path"], "arguments": arguments}
    assert "command" not in event or set(event["command"]) == {"exit_code"}


def test_a_heredoc_that_is_not_apply_patch_stays_a_command() -> None:
    command = f"cat > notes.txt <<'EOF'\n{ADD}EOF"
    event = codex_call("exec_command", json.dumps({"cmd": command}), output="Process exited with code 0\n")
    assert event["event"]["action"] == "command.executed" and "file" not in event


REFUSED = 'exec_command failed: CreateProcess { message: "Rejected(\\"{}\\")" }'


def test_a_codex_call_refused_by_a_rule_is_a_denial_not_an_executed_command() -> None:
    """An exec-policy rule that forbids the command: no decision record, only the result."""
    reason = "`/bin/bash -lc 'git push --force origin main'` rejected: CI agents must not push"
    event = codex_call(
        "exec_command",
        '{"cmd": "git push --force origin main"}',
        success="false",
        output=REFUSED.replace("{}", reason),
    )
    assert (event["event"]["action"], event["event"]["outcome"]) == ("approval.denied", "failure")
    assert event["approval"] == {"required": True, "decision": "rejected", "reason": reason}
    assert event["error"] == {"type": "rejected", "message": reason}
    assert "command" not in event and event["tool"]["command"] == "git push --force origin main"


def test_a_codex_call_denied_by_its_decision_is_one_denial_then_a_failed_call() -> None:
    reason = "beacon e2e: git push is not allowed in CI"
    fields = {"tool_name": "exec_command", "call_id": "call_9", "conversation.id": "c1"}
    decision, result = log_events(
        "codex_exec",
        {
            "attributes": {
                "event.name": "codex.tool_decision",
                "decision": "denied",
                "source": "Config",
                **fields,
            }
        },
        {
            "attributes": {
                "event.name": "codex.tool_result",
                "arguments": '{"cmd": "git push --force origin main"}',
                "success": "false",
                "output": REFUSED.replace("{}", reason),
                **fields,
            }
        },
    )
    assert decision["event"]["action"] == "approval.denied"
    assert (result["event"]["action"], result["event"]["category"]) == ("tool.failed", "tool")
    assert result["event"]["outcome"] == "failure" and "approval" not in result
    assert result["error"] == {"type": "rejected", "message": reason}
    assert "command" not in result


def test_a_codex_patch_rejected_by_the_user_changes_no_file() -> None:
    event = codex_call("apply_patch", ADD, success="false", output="patch rejected by user")
    assert event["event"]["action"] == "approval.denied" and "file" not in event
    assert event["tool"]["path"] == "/w/new.txt"


@pytest.mark.parametrize(
    "name, attributes, error, severity",
    [
        (
            "codex.api_request",
            {
                "http.response.status_code": "503",
                "attempt": "0",
                "error.message": "http 503 Service Unavailable",
            },
            {"type": "api_error", "message": "http 503 Service Unavailable", "status_code": 503},
            "medium",  # Codex retries server errors
        ),
        (
            "codex.api_request",
            {"http.response.status_code": "429", "attempt": "2"},
            {"type": "api_error", "status_code": 429},
            "medium",
        ),
        (
            "codex.api_request",
            {"http.response.status_code": "401", "attempt": "0", "error.message": "unauthorized"},
            {"type": "api_error", "message": "unauthorized", "status_code": 401},
            "high",  # not retried: the key is wrong
        ),
        (
            "codex.api_request",
            {"attempt": "1", "error.message": "error sending request: connection refused"},
            {"type": "api_error", "message": "error sending request: connection refused"},
            "high",
        ),
        (
            "codex.sse_event",
            {"event.kind": "response.failed", "duration_ms": "3", "error.message": "Rate limit reached"},
            {"type": "stream_error", "message": "Rate limit reached"},
            "high",
        ),
        (
            "codex.websocket_connect",
            {"success": "false", "http.response.status_code": "502", "error.message": "bad gateway"},
            {"type": "websocket_error", "message": "bad gateway", "status_code": 502},
            "medium",
        ),
    ],
    ids=["5xx", "429", "401", "transport", "stream", "websocket"],
)
def test_codex_api_errors_are_session_errors(
    name: str, attributes: Dict[str, str], error: Dict[str, Any], severity: str
) -> None:
    event = only_event("codex_exec", name, **attributes)
    assert (event["event"]["action"], event["event"]["category"]) == ("session.error", "session")
    assert event["event"]["outcome"] == "failure"
    assert (event["error"], event["severity"]) == (error, severity)


def test_a_successful_codex_api_request_is_activity() -> None:
    event = only_event(
        "codex_exec", "codex.api_request", **{"http.response.status_code": "200", "attempt": "0"}
    )
    assert event["event"]["action"] == "session.activity" and event["severity"] == "info"
    assert "error" not in event and "outcome" not in event["event"]


# --- metrics ------------------------------------------------------------------------------------


def metric_batch(service: str, metric: Dict[str, Any], points: int) -> Batch:
    """One metrics export of `service` holding `metric`, in the shape a receiver hands over."""
    request = {
        "resource_metrics": [
            {
                "resource": {"attributes": {"service.name": service}},
                "scope_metrics": [{"metrics": [metric]}],
            }
        ]
    }
    request = decode_protobuf("metrics", encode_protobuf("metrics", request))
    return Batch("metrics", request, "application/x-protobuf", points, 0.0)


def sum_metric(name: str, temporality: int, points: List[float], attrs: Dict[str, Any]) -> Batch:
    data_points = [
        {"as_int": int(p), "attributes": attrs, "start_time_unix_nano": 1, "time_unix_nano": 2}
        for p in points
    ]
    metric = {
        "name": name,
        "sum": {"aggregation_temporality": temporality, "is_monotonic": True, "data_points": data_points},
    }
    return metric_batch("gemini-cli", metric, len(points))


def codex_token_usage(*points: Tuple[str, str, int]) -> Batch:
    """Codex's codex.turn.token_usage: a delta histogram, one point per model and token_type of
    a turn, given as (model, token_type, tokens)."""
    data_points = [
        {
            "attributes": {"model": model, "token_type": token_type},
            "start_time_unix_nano": 1,
            "time_unix_nano": 2,
            "count": 1,
            "sum": float(tokens),
        }
        for model, token_type, tokens in points
    ]
    metric = {
        "name": "codex.turn.token_usage",
        "histogram": {"aggregation_temporality": 1, "data_points": data_points},
    }
    return metric_batch("codex_exec", metric, len(data_points))


def test_cumulative_usage_becomes_increments() -> None:
    normalizer = Normalizer(CONTEXT)
    totals = []
    for cumulative in (100, 100, 250, 40):  # unchanged, grew by 150, then the counter was reset
        for event in normalizer.events(
            sum_metric("gemini_cli.token.usage", 2, [cumulative], {"type": "input"})
        ):
            totals.append(event["gen_ai"]["usage"]["input_tokens"])
    assert totals == [100, 150, 40]


def test_delta_usage_is_taken_as_is() -> None:
    normalizer = Normalizer(CONTEXT)
    events = list(normalizer.events(sum_metric("claude_code.cost.usage", 1, [3, 3], {"model": "m"})))
    assert [e["gen_ai"]["usage"]["cost_usd"] for e in events] == [3.0, 3.0]
    assert {e["event"]["action"] for e in events} == {"cost.usage"}


# --- Gemini CLI -------------------------------------------------------------------------------


def test_gemini_session() -> None:
    events = normalized("gemini", "http/json")
    work = workdir("gemini", "http/json")
    tools = [e for e in events if e["raw"].get("event_name") == "gemini_cli.tool_call"]
    assert {e["harness"]["name"] for e in events} == {"gemini_cli"}
    assert "version" not in events[0]["harness"]  # Gemini reports only the Node.js version
    assert [e["prompt"]["text"] for e in events if "prompt" in e] == ["Run the beacon end-to-end session."]
    summary = [
        (
            e["event"]["action"],
            e["event"].get("outcome"),
            e.get("command", {}).get("command"),
            e.get("file", {}).get("path"),
        )
        for e in tools
    ]
    assert summary == [
        ("command.executed", "success", "echo BEACON_E2E_MARKER", None),
        ("file.modified", "success", None, f"{work}/beacon_e2e.txt"),
        ("file.read", "success", None, f"{work}/beacon_e2e.txt"),
        ("approval.denied", "failure", "curl -sS http://127.0.0.1:9/denied-by-policy", None),
        ("command.executed", "failure", "ls /nonexistent-beacon-dir", None),
        ("command.executed", "success", summary[5][2], None),
    ]
    assert "ghp_BEACONe2eSECRET" in summary[5][2]
    denied, failing = tools[3], tools[4]
    assert denied["approval"] == {"required": True, "decision": "deny", "reason": "policy_violation"}
    assert denied["error"]["type"] == "policy_violation"
    assert failing["command"]["exit_code"] == 2 and failing["error"]["type"] == "tool_error"
    assert sum(e["event"]["action"] == "session.started" for e in events) == 1

    responses = [e for e in events if e["raw"].get("event_name") == "gemini_cli.api_response"]
    assert [e["gen_ai"]["usage"]["input_tokens"] for e in responses] == [
        1000,
        1100,
        1200,
        1300,
        1400,
        1500,
        1600,
    ]
    usage = Counter()
    for e in events:
        if e["event"]["action"] == "token.usage":  # cumulative metric: one export, so its values
            for key in ("input_tokens", "output_tokens"):
                usage[key] += e["gen_ai"]["usage"].get(key, 0)
    assert usage == Counter({"input_tokens": 9100, "output_tokens": 91})


def test_gemini_writes_one_file_event_per_operation() -> None:
    """file_operation (no path) and tool_call of the same call: the tool_call is the file event."""
    events = normalized("gemini", "http/json")
    work = workdir("gemini", "http/json")
    files = [
        (e["event"]["action"], e["file"].get("path")) for e in events if e["event"]["category"] == "file"
    ]
    assert files == [("file.modified", f"{work}/beacon_e2e.txt"), ("file.read", f"{work}/beacon_e2e.txt")]
    operations = [e for e in events if e["raw"].get("event_name") == "gemini_cli.file_operation"]
    assert [e["raw"]["attributes"]["operation"] for e in operations] == ["create", "read"]
    assert {e["event"]["action"] for e in operations} == {"session.activity"}


@pytest.mark.parametrize(
    "operation, action, schema_operation",
    [
        ("create", "file.created", "create"),
        ("update", "file.modified", "modify"),
        ("read", "file.read", "read"),
    ],
)
def test_a_gemini_file_operation_of_another_tool_is_the_file_event(
    operation: str, action: str, schema_operation: str
) -> None:
    event = only_event(
        "gemini-cli", "gemini_cli.file_operation", tool_name="edit_notebook", operation=operation, lines=3
    )
    assert event["event"]["action"] == action and event["file"] == {"operation": schema_operation}
    assert event["tool"] == {"name": "edit_notebook"}
    with_path = only_event(
        "gemini-cli", "gemini_cli.file_operation", tool_name="x", operation=operation, file_path="/w/a"
    )
    assert with_path["file"] == {"path": "/w/a", "operation": schema_operation}


def test_gemini_replace_and_read_many_files() -> None:
    replace = only_event(
        "gemini-cli",
        "gemini_cli.tool_call",
        function_name="replace",
        function_args=json.dumps({"file_path": "/w/a.py", "old_string": "a", "new_string": "b"}, indent=2),
        success=True,
        decision="accept",
    )
    assert replace["event"]["action"] == "file.modified" and replace["event"]["outcome"] == "success"
    assert replace["file"] == {"path": "/w/a.py", "operation": "modify"}
    many = only_event(
        "gemini-cli",
        "gemini_cli.tool_call",
        function_name="read_many_files",
        function_args=json.dumps({"paths": ["/w/a.py", "/w/b.py"]}),
        success=True,
    )
    assert many["event"]["action"] == "file.read"
    assert many["file"] == {
        "path": "/w/a.py",
        "operation": "read",
        "count": 2,
        "paths": ["/w/a.py", "/w/b.py"],
    }


# --- API errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, severity",
    [(503, "medium"), (429, "medium"), (499, "medium"), (400, "high"), (403, "high"), (None, "high")],
)
def test_gemini_api_errors_are_failures_retries_medium(status: Any, severity: str) -> None:
    attributes: Dict[str, Any] = {
        "error": "got status: UNAVAILABLE",
        "error.message": "got status: UNAVAILABLE",
        "error.type": "ApiError",
        "model": "gemini-2.5-flash",
        "duration_ms": 12,
    }
    if status is not None:
        attributes.update(status_code=status, **{"http.status_code": status})
    event = only_event("gemini-cli", "gemini_cli.api_error", **attributes)
    assert (event["event"]["action"], event["event"]["outcome"]) == ("session.error", "failure")
    assert event["severity"] == severity
    expected = {"type": "ApiError", "message": "got status: UNAVAILABLE"}
    assert event["error"] == ({**expected, "status_code": status} if status else expected)


@pytest.mark.parametrize("name", ["api_error", "api_retries_exhausted"])
def test_claude_api_errors_are_failures_after_its_retries(name: str) -> None:
    event = only_event(
        "claude-code",
        name,
        model="claude-opus-4-8",
        error="Overloaded",
        status_code="529",
        attempt=11,
        duration_ms=350,
    )
    assert (event["event"]["action"], event["event"]["outcome"]) == ("session.error", "failure")
    assert event["severity"] == "high"  # logged once, after Claude's own retries
    assert event["error"] == {"type": name, "message": "Overloaded", "status_code": 529}
    assert event["model"] == "claude-opus-4-8"


# --- schema 1.0: names, values and where they go ---------------------------------------------


@pytest.mark.parametrize(
    "service, harness",
    [
        # What each agent sends as service.name (Codex: its originator), and the canonical names.
        ("claude-code", "claude_code"),
        ("claude_code", "claude_code"),
        ("codex_exec", "codex_cli"),
        ("codex_cli_rs", "codex_cli"),
        ("codex-tui", "codex_cli"),
        ("codex_github_action", "codex_cli"),
        ("codex_cli", "codex_cli"),
        ("gemini-cli", "gemini_cli"),
        ("gemini_cli", "gemini_cli"),
        # Other products are other harnesses: 1.0 keeps their names verbatim.
        ("claude-cowork", "claude-cowork"),
        ("claude_agent_sdk", "claude_agent_sdk"),
        ("claude_web", "claude_web"),
        ("claude-web", "claude-web"),
        ("claude.ai", "claude.ai"),
        ("my-codex-wrapper", "my-codex-wrapper"),
        ("gemini-proxy", "gemini-proxy"),
        ("", "otel"),
    ],
)
def test_only_an_agents_own_service_names_are_its_harness(service: str, harness: str) -> None:
    (event,) = log_events(service, {"body": "x", "attributes": {"event.name": "x"}})
    assert event["harness"]["name"] == harness


@pytest.mark.parametrize("service", ["claude-cowork", "claude_agent_sdk", "claude.ai"])
def test_another_products_records_get_the_generic_mapping_not_claudes(service: str) -> None:
    record = {
        "body": "claude_code.tool_result",
        "attributes": {
            "event.name": "tool_result",
            "tool_name": "Bash",
            "success": "true",
            "tool_input": json.dumps({"command": "ls"}),
        },
    }
    (event,) = log_events(service, record)
    assert (event["harness"]["name"], event["event"]["action"]) == (service, "session.activity")
    assert "command" not in event and "tool" not in event


def test_codex_input_tokens_exclude_the_cached_input_as_claudes_do() -> None:
    """Codex's `input` counts the cached input too; 1.0's input_tokens does not (Claude's never
    does): input minus cached, per turn and model, never below 0."""
    batch = codex_token_usage(
        ("gpt-5.5", "input", 120),
        ("gpt-5.5", "cached_input", 90),
        ("gpt-5.5", "output", 25),
        ("gpt-5-mini", "input", 100),  # another model, nothing cached
        ("o3", "input", 50),
        ("o3", "cached_input", 60),  # more cached than input: none left
    )
    usage: Dict[Tuple[str, str], Any] = {}
    for event in Normalizer(CONTEXT).events(batch):
        for slot in ("input_tokens", "cache_read"):
            if slot in event["gen_ai"]["usage"]:
                usage[(event["model"], slot)] = event["gen_ai"]["usage"][slot]
    assert usage == {
        ("gpt-5.5", "input_tokens"): 30,
        ("gpt-5.5", "cache_read"): {"input_tokens": 90},
        ("gpt-5-mini", "input_tokens"): 100,
        ("o3", "cache_read"): {"input_tokens": 60},
    }


def gemini_call(tool: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    return only_event(
        "gemini-cli",
        "gemini_cli.tool_call",
        function_name=tool,
        function_args=json.dumps(arguments),
        success=True,
        call_id="g1",
    )


def gemini_file_operation(operation: str) -> Dict[str, Any]:
    return only_event(
        "gemini-cli", "gemini_cli.file_operation", tool_name="x", operation=operation, file_path="/w/a"
    )


@pytest.mark.parametrize(
    "make, operation",
    [
        (lambda: claude_tool("Read", {"file_path": "/w/a"}), "read"),
        (lambda: claude_tool("Write", {"file_path": "/w/a", "content": "x"}), "create"),
        (lambda: claude_tool("Edit", {"file_path": "/w/a", "old_string": "a", "new_string": "b"}), "modify"),
        (lambda: claude_tool("MultiEdit", {"file_path": "/w/a", "edits": []}), "modify"),
        (lambda: claude_tool("NotebookEdit", {"notebook_path": "/w/n.ipynb", "new_source": ""}), "modify"),
        (lambda: codex_call("apply_patch", ADD), "create"),
        (lambda: codex_call("apply_patch", UPDATE), "modify"),
        (lambda: codex_call("apply_patch", DELETE), "modify"),
        (lambda: codex_call("apply_patch", MOVE), "modify"),
        (lambda: gemini_call("read_file", {"file_path": "/w/a"}), "read"),
        (lambda: gemini_call("read_many_files", {"paths": ["/w/a", "/w/b"]}), "read"),
        (lambda: gemini_call("write_file", {"file_path": "/w/a", "content": "x"}), "create"),
        (lambda: gemini_call("replace", {"file_path": "/w/a", "old_string": "a"}), "modify"),
        (lambda: gemini_file_operation("create"), "create"),
        (lambda: gemini_file_operation("update"), "modify"),
        (lambda: gemini_file_operation("read"), "read"),
    ],
    ids=[
        "claude-read",
        "claude-write",
        "claude-edit",
        "claude-multiedit",
        "claude-notebookedit",
        "codex-add",
        "codex-update",
        "codex-delete",
        "codex-move",
        "gemini-read_file",
        "gemini-read_many_files",
        "gemini-write_file",
        "gemini-replace",
        "gemini-op-create",
        "gemini-op-update",
        "gemini-op-read",
    ],
)
def test_file_operations_are_the_schemas_read_create_modify(make: Any, operation: str) -> None:
    assert make()["file"]["operation"] == operation


@pytest.mark.parametrize("agent, protocol", recorded_runs())
def test_every_recorded_file_operation_is_a_schema_value(agent: str, protocol: str) -> None:
    operations = {e["file"]["operation"] for e in normalized(agent, protocol) if "file" in e}
    assert operations and operations <= {"read", "create", "modify"}


def test_a_codex_deletion_stays_visible_beside_its_schema_operation() -> None:
    event = codex_call("apply_patch", DELETE, output="Exit code: 0\nOutput:\nSuccess.\n")
    assert event["file"] == {"path": "/w/old.txt", "operation": "modify", "deleted": True}


def test_a_ci_captures_run_is_ephemeral_and_a_local_one_has_no_run() -> None:
    record = {"body": "claude_code.user_prompt", "attributes": {"event.name": "user_prompt"}}
    (event,) = log_events("claude-code", record)
    assert event["run"] == {"provider": "github_actions", "run_id": "7", "ephemeral": True}
    local = CaptureContext("cap-local", "exec", {}, "host", "linux", "dev", TRACEPARENT)
    (event,) = log_events("claude-code", record, context=local)
    assert "run" not in event


@pytest.mark.parametrize(
    "token_type, usage",
    [
        ("input", {"input_tokens": 7}),
        ("cacheRead", {"cache_read": {"input_tokens": 7}}),
        ("total", {"total_tokens": 7}),  # Codex's turn total
        ("tool", {"tokens": 7}),  # a type we do not know keeps its count
    ],
)
def test_a_points_token_type_is_gen_ai_token_type(token_type: str, usage: Dict[str, Any]) -> None:
    (event,) = Normalizer(CONTEXT).events(
        sum_metric("codex.turn.token_usage", 1, [7], {"token_type": token_type})
    )
    assert event["event"]["action"] == "token.usage"
    assert event["gen_ai"] == {"token": {"type": token_type}, "usage": usage}


def gauge_metric(name: str, value: float) -> Batch:
    point = {"as_double": value, "attributes": {"model": "m"}, "time_unix_nano": 2}
    return metric_batch("claude-code", {"name": name, "gauge": {"data_points": [point]}}, 1)


@pytest.mark.parametrize(
    "batch, raw",
    [
        (
            sum_metric("claude_code.token.usage", 1, [7], {"type": "input"}),
            {"metric_type": "Sum", "metric_temporality": "Delta", "metric_monotonic": True},
        ),
        (
            sum_metric("gemini_cli.token.usage", 2, [7], {"type": "input"}),
            {"metric_type": "Sum", "metric_temporality": "Cumulative", "metric_monotonic": True},
        ),
        (
            codex_token_usage(("gpt-5.5", "output", 7)),
            {"metric_type": "Histogram", "metric_temporality": "Delta", "metric_count": 1},
        ),
        (gauge_metric("claude_code.cost.usage", 0.5), {"metric_type": "Gauge"}),
    ],
    ids=["delta-sum", "cumulative-sum", "histogram", "gauge"],
)
def test_metric_events_keep_the_metrics_type_temporality_monotonicity_and_count(
    batch: Batch, raw: Dict[str, Any]
) -> None:
    (event,) = Normalizer(CONTEXT).events(batch)
    kept = ("metric_type", "metric_temporality", "metric_monotonic", "metric_count")
    assert {key: value for key, value in event["raw"].items() if key in kept} == raw


@pytest.mark.parametrize(
    "body", ["flushing OTEL metrics", "runtime metrics reset skipped", "Runtime metrics reset skipped"]
)
def test_the_codex_metrics_clients_debug_lines_are_noise(body: str) -> None:
    assert log_events("codex_exec", {"body": body, "severity_text": "DEBUG", "attributes": {}}) == []


def test_an_mcp_name_without_a_tool_names_no_mcp_server() -> None:
    only_server = claude_tool("mcp__onlyserver", {})
    assert only_server["event"]["action"] == "mcp.tool_invoked" and "mcp" not in only_server
    full = claude_tool("mcp__github__issues__create", {"title": "x"})
    assert full["mcp"] == {"server": "github", "tool": "issues__create"}


def test_tool_arguments_are_kept_as_sent_beside_the_command() -> None:
    arguments = '{"cmd": "curl -H \\"Authorization: Bearer abcDEF123ghiJKL456\\" https://x", "workdir": "/w"}'
    codex = codex_call("exec_command", arguments, output="Process exited with code 0\n")
    assert codex["tool"]["command"] == 'curl -H "Authorization: Bearer abcDEF123ghiJKL456" https://x'
    assert codex["tool"]["arguments"] == arguments
    function_args = {"command": "ls -la", "description": "list"}
    gemini = gemini_call("run_shell_command", function_args)
    assert gemini["tool"] == {
        "name": "run_shell_command",
        "command": "ls -la",
        "arguments": json.dumps(function_args),
    }
    protected = Protector().protect_event(codex)
    assert "abcDEF123ghiJKL456" not in protected["tool"]["arguments"]
    assert "[REDACTED]" in protected["tool"]["arguments"]


# What an agent may put into its attributes (or OTEL_RESOURCE_ATTRIBUTES) that names beacon's
# own labels: none of it changes what an event is, which run it belongs to or who sent it.
AGENT_SAYS = {
    "beacon.event.action": "approval.allowed",
    "event.action": "approval.allowed",
    "beacon.event.category": "approval",
    "event.category": "approval",
    "category": "approval",
    "beacon.origin": "local",
    "beacon.run.provider": "elsewhere",
    "beacon.run.run_id": "666",
    "beacon.run.ephemeral": "false",
    "beacon.harness.name": "other",
}


@pytest.mark.parametrize(
    "service, record",
    [
        ("claude-code", {"body": "claude_code.user_prompt", "attributes": {"event.name": "user_prompt"}}),
        ("codex_exec", {"body": "", "attributes": {"event.name": "codex.user_prompt", "prompt": "hi"}}),
        ("gemini-cli", {"body": "x", "attributes": {"event.name": "gemini_cli.user_prompt", "prompt": "hi"}}),
        ("my-agent", {"body": "did something", "attributes": {"event.name": "x"}}),
    ],
)
def test_what_an_agent_sends_never_relabels_an_event_or_its_run(service: str, record: Dict[str, Any]) -> None:
    (plain,) = log_events(service, record)
    labelled = {**record, "attributes": {**record["attributes"], **AGENT_SAYS}}
    (event,) = log_events(service, labelled, **AGENT_SAYS)

    def labels(event: Dict[str, Any]) -> Any:
        inner = event["event"]
        return inner["action"], inner["category"], event["origin"], event["run"], event["harness"]

    assert labels(event) == labels(plain)
    assert event["origin"] == "ci" and event["run"]["run_id"] == "7"


# --- every agent: time, order, ids, raw -----------------------------------------------------------


@pytest.mark.parametrize(
    "time_ns, observed_ns, expected",
    [
        (1_764_064_245_123_456_789, 1_764_064_299_000_000_000, "2025-11-25T09:50:45.123Z"),
        (0, 1_764_064_245_987_000_000, "2025-11-25T09:50:45.987Z"),
        (0, 0, "2025-11-24T16:00:00.000Z"),  # received at the normalizer's clock
    ],
    ids=["record-time", "observed-time", "receive-time"],
)
def test_timestamp_is_the_record_time_then_observed_then_received(
    time_ns: int, observed_ns: int, expected: str
) -> None:
    record = {
        "time_unix_nano": time_ns,
        "observed_time_unix_nano": observed_ns,
        "attributes": {"event.name": "x"},
    }
    (event,) = log_events("claude-code", record)
    assert event["timestamp"] == expected


def test_event_sequence_is_the_agents_own() -> None:
    events = normalized("claude", "http/json")
    logs = [e for e in events if e["raw"]["otel_signal"] == "logs"]
    assert [e["event"]["sequence"] for e in logs] == list(range(len(logs)))
    assert not [e for e in events if e["raw"]["otel_signal"] == "metrics" and "sequence" in e["event"]]


def test_event_ids_are_unique_128_bit_hex() -> None:
    records = [{"body": "claude_code.api_request", "attributes": {"event.name": "api_request"}}] * 1000
    ids = [e["event"]["id"] for e in log_events("claude-code", *records)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)


def test_raw_keeps_only_the_resource_attributes_that_identify_the_source() -> None:
    (event,) = log_events(
        "gemini-cli",
        {"body": "User prompt.", "attributes": {"event.name": "gemini_cli.user_prompt", "prompt": "hi"}},
        **{
            "service.version": "v20.20.2",
            "service.instance.id": "i-1",
            "process.command_args": ["node", "gemini", "-p", "the prompt"],
            "user.email": "dev@example.com",
            "host.name": "runner-7",
        },
    )
    assert event["raw"]["attributes"] == {
        "service.name": "gemini-cli",
        "service.version": "v20.20.2",
        "service.instance.id": "i-1",
        "event.name": "gemini_cli.user_prompt",
        "prompt": "hi",
    }
    for event in normalized("gemini", "http/json"):  # the real resource carries process.command_args
        assert "process.command_args" not in event["raw"]["attributes"]


# --- the recorded sessions through protection ----------------------------------------------------

# What the scripted sessions put into tool arguments (tests/agents/*.py).
SESSION_SECRETS = {
    "claude": (claude.SECRET_TOKEN, claude.SECRET_BEARER),
    "codex": (codex.SECRET_TOKEN, codex.SECRET_BEARER),
    "gemini": (gemini.GITHUB_TOKEN, gemini.BEARER.rsplit(" ", 1)[1]),
    "copilot": (claude.SECRET_TOKEN, claude.SECRET_BEARER),  # the same scripted command
}


@pytest.mark.parametrize("agent, protocol", recorded_runs())
def test_no_session_secret_survives_protection(agent: str, protocol: str) -> None:
    """The pipeline's order, normalize then protect, with no secret known beforehand."""
    protector = Protector()
    secrets = SESSION_SECRETS[agent]
    carried = 0
    for event in normalized(agent, protocol):
        had_secret = any(secret in json.dumps(event) for secret in secrets)
        protected = protector.protect_event(event)
        line = event_line(protected).decode()
        assert not [secret for secret in secrets if secret in line or secret[6:24] in line], line
        if had_secret:
            carried += 1
            assert protected["content"]["redacted"] is True
    assert carried >= 1  # the secret command's events (arguments, output, the model's request)


def test_a_record_that_cannot_be_mapped_is_still_written(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: Dict[str, Any], name: str, attrs: Any) -> None:
        raise KeyError("surprise")

    monkeypatch.setitem(LOG_MAPPERS, "claude_code", broken)
    request = {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": "claude-code"}},
                "scope_logs": [
                    {
                        "log_records": [
                            {"body": "claude_code.tool_result", "attributes": {"tool_name": "Bash"}}
                        ]
                    }
                ],
            }
        ]
    }
    request = decode_protobuf("logs", encode_protobuf("logs", request))
    normalizer = Normalizer(CONTEXT)
    (event,) = normalizer.events(Batch("logs", request, "application/x-protobuf", 1, 0.0))
    assert schema_problem(event) is None
    assert event["error"] == {"type": "beacon_normalize_error", "message": "KeyError: 'surprise'"}
    assert event["raw"]["attributes"] == {"tool_name": "Bash"}
    assert normalizer.unmapped == 1


# --- any input: every record becomes a valid, writable event -----------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KNOWN_NAMES = [
    "user_prompt",
    "tool_decision",
    "tool_result",
    "api_request",
    "api_error",
    "mcp_server_connection",
    "codex.tool_result",
    "codex.tool_decision",
    "codex.user_prompt",
    "codex.sse_event",
    "gemini_cli.tool_call",
    "gemini_cli.api_response",
    "gemini_cli.api_error",
    "anything",
]
KNOWN_KEYS = [
    "tool_name",
    "tool_input",
    "tool_parameters",
    "success",
    "decision",
    "source",
    "duration_ms",
    "arguments",
    "output",
    "call_id",
    "function_name",
    "function_args",
    "metadata",
    "error_type",
    "status_code",
    "input_tokens",
    "cost_usd",
    "prompt",
    "model",
    "event.sequence",
    "session.id",
]
ANY = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.text(max_size=30),
        st.binary(max_size=8),
        st.sampled_from(
            [
                '{"command": "ls"}',
                '{"file_path": 3}',
                "[1, 2]",
                '{"cmd": ["bash", "-lc", "x"]}',
                "*** Add File: /x\n",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=st.sampled_from(["claude-code", "codex_exec", "gemini-cli", "something-else"]),
    name=st.sampled_from(KNOWN_NAMES),
    body=ANY,
    attributes=st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10)), ANY, max_size=8),
)
def test_any_record_becomes_a_valid_writable_event(
    service: str, name: str, body: Any, attributes: Dict[str, Any]
) -> None:
    attributes = {**attributes, "event.name": name}
    request = {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": service}},
                "scope_logs": [{"log_records": [{"body": body, "attributes": attributes}]}],
            }
        ]
    }
    request = decode_protobuf("logs", encode_protobuf("logs", request))  # the shape a receiver hands over
    normalizer = Normalizer(CONTEXT)
    events = list(normalizer.events(Batch("logs", request, "application/x-protobuf", 1, 0.0)))
    assert len(events) + normalizer.dropped == 1
    assert normalizer.unmapped == 0  # the mappers themselves cope with any value types
    protector = Protector()
    for event in events:
        assert schema_problem(event) is None
        line = event_line(protector.protect_event(event))
        assert len(line) <= 65537 and schema_problem(json.loads(line)) is None
