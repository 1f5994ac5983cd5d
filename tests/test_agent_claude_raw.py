"""The real Claude Code CLI through the scripted session, its raw OTLP export checked exactly.

Claude (tests/agents/claude.py) runs `claude -p` against the scripted fake Messages API,
with telemetry configured the way beacon will configure it, pointed at a beacon_otlp.Receiver.
Runs: http/json, http/protobuf, and http/protobuf with the beta traces switched on (beacon
does not switch them on; the run shows what they hold). Everything the receiver decoded is
checked against the script: event names, tool names, call ids, decisions, success flags,
arguments, and the planted secrets (which later redaction tests must remove).

Run it with only loopback networking, as tools/test.sh does:

    unshare -rn sh -c 'ip link set lo up &&
        exec .venv/default/bin/python -m pytest -q tests/test_agent_claude_raw.py'

Golden fixtures: with BEACON_RECORD_FIXTURES=1 in the environment of that command, the
http/json and http/protobuf runs (beacon's configuration, no traces) also save the raw OTLP
request bodies, byte for byte as Claude sent them (the shared `raw_exports` fixture keeps
them), to tests/fixtures/claude/`<nn>-<signal>.<json|pb>` in arrival order, and describe the
runs in tests/fixtures/claude/session.json (CLI version, protocol, workdir, session id, files,
steps).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import pytest
from agents import (
    FIXTURES,
    RECORD_FIXTURES,
    RawExport,
    claude,
    drain,
    install_or_skip,
    run_in_group,
    save_bodies,
    session_dirs,
    update_session_index,
)
from conftest import TOKEN, Collector, scoped

from beacon_otlp import JSON, PROTOBUF, Receiver

pytestmark = pytest.mark.agents

FIXTURE_DIR = FIXTURES / claude.NAME
RUN_TIMEOUT = 120.0  # a healthy run takes about one second
CONTENT_TYPES = {"http/json": JSON, "http/protobuf": PROTOBUF}
EXTENSIONS = {"http/json": "json", "http/protobuf": "pb"}
RESOURCE = {"beacon.capture.id": "claude-e2e"}  # run metadata, as beacon will add it
DELTA = 1  # AggregationTemporality.DELTA
METRICS = {
    "claude_code.session.count",
    "claude_code.lines_of_code.count",
    "claude_code.cost.usage",
    "claude_code.token.usage",
    "claude_code.code_edit_tool.decision",
    "claude_code.active_time.total",
}
SCOPES = {
    "logs": "com.anthropic.claude_code.events",
    "metrics": "com.anthropic.claude_code",
    "traces": "com.anthropic.claude_code.tracing",
}
COMMON_ATTRIBUTES = (
    "user.id",
    "session.id",
    "terminal.type",
    "event.name",
    "event.timestamp",
    "event.sequence",
    "prompt.id",
)


class Run(NamedTuple):
    """One finished CLI run and everything observed around it."""

    returncode: int
    result: Dict[str, Any]  # the `--output-format json` document
    stderr: str
    wall_seconds: float
    server: claude.ScriptedServer
    workdir: Path
    batches: List[Any]
    stats: Dict[str, Any]
    bodies: List[RawExport]  # the raw export bodies, as sent


@pytest.fixture(scope="module")
def claude_executable() -> Path:
    return install_or_skip(claude)


def run_session(
    tmp_path: Path,
    executable: Path,
    receiver: Receiver,
    collector: Collector,
    protocol: str,
    traces: bool,
    bodies: List[RawExport],
) -> Run:
    """Run `claude -p` once through the scripted session; stop the receiver once drained."""
    home, workdir = session_dirs(tmp_path)
    (workdir / claude.DENIED_DIR).mkdir()  # the denied `rm -rf` must leave it alone
    server = claude.scripted_server(workdir)
    with server:
        env = claude.agent_env(home, workdir, server.url)
        env.update(
            claude.telemetry_env(receiver.url, TOKEN, protocol, traces=traces, resource_attributes=RESOURCE)
        )
        started = time.monotonic()
        returncode, stdout, stderr = run_in_group(
            claude.command(executable=executable), workdir, env, RUN_TIMEOUT
        )
        wall = time.monotonic() - started
    drain(receiver, quiet=0.3)
    result = json.loads(stdout) if stdout.strip().startswith("{") else {"stdout": stdout}
    return Run(
        returncode,
        result,
        stderr,
        wall,
        server,
        workdir,
        list(collector.batches),
        receiver.stats.snapshot(),
        list(bodies),
    )


# --- reading the decoded exports ----------------------------------------------------------


def log_records(run: Run) -> List[Dict[str, Any]]:
    """Every log record of the run (all batches merged), in Claude's event.sequence order."""
    records = [record for _, _, record in scoped(run.batches, "logs")]
    return sorted(records, key=lambda r: int(r["attributes"]["event.sequence"]))


def metric_points(run: Run) -> List[Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]]:
    """(metric, sum, data point) for every metric data point of the run."""
    return [
        (metric, metric["sum"], point)
        for _, _, metric in scoped(run.batches, "metrics")
        for point in (metric["sum"] or {"data_points": []})["data_points"]
    ]


def spans(run: Run) -> List[Dict[str, Any]]:
    return [span for _, _, span in scoped(run.batches, "traces")]


def scopes_and_resources(run: Run, signal_name: str) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
    kind = {
        "logs": ("resource_logs", "scope_logs"),
        "metrics": ("resource_metrics", "scope_metrics"),
        "traces": ("resource_spans", "scope_spans"),
    }[signal_name]
    return [
        (resource["resource"], scoped["scope"])
        for batch in run.batches
        if batch.signal == signal_name
        for resource in batch.request[kind[0]]
        for scoped in resource[kind[1]]
    ]


def expected_tool_events(steps: List[claude.Step]) -> List[Tuple[str, str, str, str]]:
    """(event, tool_name, tool_use_id, decision or success) for every scripted tool call.

    Claude logs tool_decision for each call and tool_result for each call it ran; a call that
    the permission rules refuse gets tool_decision(reject) and no tool_result.
    """
    events = []
    for step in steps:
        if step.tool is None:
            continue
        events.append(("tool_decision", step.tool, step.call_id, "reject" if step.denied else "accept"))
        if not step.denied:
            events.append(("tool_result", step.tool, step.call_id, "false" if step.fails else "true"))
    return events


# --- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol,traces",
    [("http/json", False), ("http/protobuf", False), ("http/protobuf", True)],
    ids=["json", "protobuf", "protobuf-traces"],
)
def test_scripted_session(
    tmp_path: Path,
    claude_executable: Path,
    make_receiver: Any,
    collector: Collector,
    raw_exports: List[RawExport],
    protocol: str,
    traces: bool,
) -> None:
    run = run_session(tmp_path, claude_executable, make_receiver(), collector, protocol, traces, raw_exports)
    steps = run.server.steps()

    check_cli_result(run, steps)
    check_model_server(run, steps)
    check_effects(run)
    check_exports(run, CONTENT_TYPES[protocol], traces)
    check_log_events(run, steps, traces)
    check_secrets_present(run, steps)
    check_metrics(run)
    if traces:
        check_spans(run, steps)
    if RECORD_FIXTURES and not traces:
        record_fixtures(run, protocol, steps)


def check_cli_result(run: Run, steps: List[claude.Step]) -> None:
    assert run.returncode == 0, (run.result, run.stderr[-2000:])
    assert run.result.get("is_error") is False, run.result
    assert run.result["result"] == claude.FINAL_TEXT
    assert run.result["num_turns"] == len(steps)
    denied = [s for s in steps if s.denied]
    denials = run.result["permission_denials"]
    assert [(d["tool_name"], d["tool_use_id"], d["tool_input"]) for d in denials] == [
        (s.tool, s.call_id, s.input) for s in denied
    ]


def check_model_server(run: Run, steps: List[claude.Step]) -> None:
    server = run.server
    assert server.errors == []
    assert server.turns == list(range(len(steps)))  # each step answered exactly once, in order
    assert server.side_requests == []
    assert Counter((r.method, r.path) for r in server.requests) == Counter(
        {("HEAD", "/"): 1, ("POST", "/v1/messages?beta=true"): len(steps)}
    )
    assert server.workdir == str(run.workdir.resolve())
    results = server.tool_results
    assert set(results) == {s.call_id for s in steps if s.tool}
    for step in steps:
        if step.tool:
            assert results[step.call_id].is_error == step.fails, (step.name, results[step.call_id])
    by_name = {s.name: results[s.call_id].text for s in steps if s.tool}
    assert by_name["shell"] == "BEACON_E2E_MARKER"
    assert by_name["read"] == f"1\t{claude.FILE_CONTENT}"  # Read numbers the lines
    denied = next(s for s in steps if s.denied).input["command"]
    assert by_name["denied"] == f"Permission to use Bash with command {denied} has been denied."
    assert by_name["failing"].startswith("Exit code 2\n") and "/nonexistent-beacon-dir" in by_name["failing"]
    assert by_name["secret"] == f"Authorization: Bearer {claude.SECRET_BEARER} {claude.SECRET_TOKEN}"


def check_effects(run: Run) -> None:
    assert (run.workdir / claude.FILE_NAME).read_text() == claude.FILE_CONTENT
    assert (run.workdir / claude.DENIED_DIR).is_dir(), "the denied rm -rf ran"


def check_exports(run: Run, content_type: str, traces: bool) -> None:
    signals = {"logs", "metrics"} | ({"traces"} if traces else set())
    assert run.stats["rejected"] == {} and run.stats["consumer_errors"] == 0
    assert {r["status"] for r in run.stats["requests"]} == {200}
    assert {r["content_type"] for r in run.stats["requests"]} == {content_type}
    assert {r["signal"] for r in run.stats["requests"]} == signals
    assert {b.signal for b in run.batches} == signals
    for name in signals:
        for resource, scope in scopes_and_resources(run, name):
            attributes = resource["attributes"]
            assert attributes["service.name"] == "claude-code"
            assert attributes["service.version"] == claude.VERSION
            assert attributes["beacon.capture.id"] == RESOURCE["beacon.capture.id"]
            assert scope["name"] == SCOPES[name]


def check_log_events(run: Run, steps: List[claude.Step], traces: bool) -> None:
    records = log_records(run)
    attributes = [r["attributes"] for r in records]
    names = [a["event.name"] for a in attributes]

    # Every record: body claude_code.<event.name>, contiguous event.sequence, one session and prompt.
    assert [r["body"] for r in records] == [f"claude_code.{n}" for n in names]
    assert [a["event.sequence"] for a in attributes] == list(range(len(records)))
    assert Counter(names) == Counter(
        {
            "user_prompt": 1,
            "api_request": len(steps),
            "tool_decision": 6,
            "tool_result": 5,
            "assistant_response": 1,
        }
    )
    assert names[0] == "user_prompt" and names[-1] == "assistant_response"
    for a in attributes:
        assert set(COMMON_ATTRIBUTES) <= set(a), a
        assert a["beacon.capture.id"] == RESOURCE["beacon.capture.id"]  # copied from the resource
    assert {a["session.id"] for a in attributes} == {run.result["session_id"]}
    assert len({a["prompt.id"] for a in attributes}) == 1
    assert {a["terminal.type"] for a in attributes} == {"non-interactive"}
    # Log records carry a trace context only when the beta traces are on.
    assert all(bool(r["trace_id"]) == traces for r in records)

    prompt = attributes[0]
    assert (prompt["prompt"], prompt["prompt_length"]) == (claude.PROMPT, str(len(claude.PROMPT)))

    requests = [a for a in attributes if a["event.name"] == "api_request"]
    assert [a["request_id"] for a in requests] == [claude.request_id(n) for n in range(1, len(steps) + 1)]
    for a in requests:
        assert (a["model"], a["input_tokens"], a["output_tokens"], a["query_source"]) == (
            "claude-opus-4-8",
            claude.USAGE_IN,
            claude.USAGE_OUT,
            "sdk",
        )

    final = attributes[-1]
    assert (final["response"], final["response_length"], final["request_id"]) == (
        claude.FINAL_TEXT,
        len(claude.FINAL_TEXT),
        claude.request_id(len(steps)),
    )

    tool_events = [a for a in attributes if a["event.name"] in ("tool_decision", "tool_result")]
    assert [
        (a["event.name"], a["tool_name"], a["tool_use_id"], a.get("decision", a.get("success")))
        for a in tool_events
    ] == expected_tool_events(steps)
    by_call = {s.call_id: s for s in steps}
    for a in tool_events:
        check_tool_event(a, by_call[a["tool_use_id"]])


def check_tool_event(a: Dict[str, Any], step: claude.Step) -> None:
    """Arguments and outcome of one tool_decision / tool_result record (OTEL_LOG_TOOL_DETAILS=1)."""
    if a["event.name"] == "tool_decision":
        assert a["source"] == "config"  # the --allowedTools / --disallowedTools rules decided
    else:
        assert json.loads(a["tool_input"]) == step.input
        assert a["tool_input_size_bytes"] == str(len(json.dumps(step.input, separators=(",", ":"))))
        assert int(a["duration_ms"]) >= 0
        if step.fails:
            assert (a["error_type"], a["error"]) == ("ShellError", "Shell command failed")
            assert "tool_result_size_bytes" not in a
        else:
            assert "error" not in a and int(a["tool_result_size_bytes"]) > 0
    if step.tool == "Bash":  # only Bash carries tool_parameters
        command = step.input["command"]
        assert json.loads(a["tool_parameters"]) == {
            "bash_command": command.split()[0],
            "full_command": command,
            "description": step.input["description"],
        }
    else:
        assert "tool_parameters" not in a


def check_secrets_present(run: Run, steps: List[claude.Step]) -> None:
    """The planted secrets reach the raw telemetry unredacted (beacon's redaction must remove them)."""
    secret = next(s for s in steps if s.name == "secret")
    carriers = [
        (a["event.name"], field)
        for a in (r["attributes"] for r in log_records(run))
        if a.get("tool_use_id") == secret.call_id
        for field in ("tool_parameters", "tool_input")
        if field in a
        if claude.SECRET_TOKEN in a[field] and claude.SECRET_BEARER in a[field]
    ]
    assert carriers == [
        ("tool_decision", "tool_parameters"),
        ("tool_result", "tool_parameters"),
        ("tool_result", "tool_input"),
    ]


def check_metrics(run: Run) -> None:
    points = metric_points(run)
    assert {m["name"] for m, _, _ in points} == METRICS
    assert all(s["aggregation_temporality"] == DELTA and s["is_monotonic"] for _, s, _ in points)

    def total(name: str, **match: str) -> float:
        return sum(
            p["as_double"]
            for m, _, p in points
            if m["name"] == name and all(p["attributes"].get(k) == v for k, v in match.items())
        )

    turns = len(claude.steps(""))
    assert total("claude_code.session.count", start_type="fresh") == 1
    assert total("claude_code.token.usage", type="input") == turns * claude.USAGE_IN
    assert total("claude_code.token.usage", type="output") == turns * claude.USAGE_OUT
    assert total("claude_code.cost.usage") == pytest.approx(turns * 0.001225)
    assert total("claude_code.lines_of_code.count", type="added") == 1
    assert (
        total("claude_code.code_edit_tool.decision", decision="accept", source="config", tool_name="Write")
        == 1
    )
    assert total("claude_code.active_time.total", type="cli") > 0


def check_spans(run: Run, steps: List[claude.Step]) -> None:
    """Beta traces: one interaction, an llm_request per turn, a tool span per call."""
    all_spans = spans(run)
    names = Counter(s["name"] for s in all_spans)
    calls = [s for s in steps if s.tool]
    assert names == Counter(
        {
            "claude_code.interaction": 1,
            "claude_code.llm_request": len(steps),
            "claude_code.tool": len(calls),
            "claude_code.tool.blocked_on_user": len(calls),
            "claude_code.tool.execution": len(calls) - 1,
        }
    )
    assert len({s["trace_id"] for s in all_spans}) == 1
    by_name = {name: [s["attributes"] for s in all_spans if s["name"] == name] for name in names}
    tools = {a["tool_use_id"]: a for a in by_name["claude_code.tool"]}
    for step in calls:
        attributes = tools[step.call_id]
        assert attributes["tool_name"] == step.tool
        detail = "full_command" if step.tool == "Bash" else "file_path"
        assert attributes[detail] == step.input["command" if step.tool == "Bash" else "file_path"]
    blocked = [a["decision"] for a in by_name["claude_code.tool.blocked_on_user"]]
    assert sorted(blocked) == ["reject"] + ["unknown"] * (len(calls) - 1)


# --- golden fixtures ------------------------------------------------------------------------


def record_fixtures(run: Run, protocol: str, steps: List[claude.Step]) -> None:
    """Save this run's raw export bodies and describe the run in session.json."""
    files, _ = save_bodies(FIXTURE_DIR, run.bodies, EXTENSIONS[protocol])
    update_session_index(
        FIXTURE_DIR,
        {
            "cli": claude.NAME,
            "package": claude.PACKAGE,
            "version": claude.VERSION,
            "command": ["claude", *claude.command(executable=Path("claude"))[1:]],
            "prompt": claude.PROMPT,
            "workdir_placeholder": "<workdir>",
            "steps": [
                {
                    "name": s.name,
                    "tool": s.tool,
                    "call_id": s.call_id or None,
                    "input": json.loads(json.dumps(s.input).replace(run.server.workdir or "", "<workdir>")),
                    "fails": s.fails,
                    "denied": s.denied,
                }
                for s in steps
            ],
            "final_text": claude.FINAL_TEXT,
        },
        {
            "protocol": protocol,
            "workdir": run.server.workdir,
            "session_id": run.result["session_id"],
            "exit_code": run.returncode,
            "wall_seconds": round(run.wall_seconds, 2),
            "telemetry_env": claude.telemetry_env(
                "<receiver-url>", "<token>", protocol, resource_attributes=RESOURCE
            ),
            "files": files,
        },
    )
