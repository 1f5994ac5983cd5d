"""The real Claude Code CLI through the scripted session, its raw OTLP export checked exactly.

Claude (tests/agents/claude.py) runs `claude -p` against the scripted fake Messages API,
with telemetry configured the way beacon will configure it, pointed at a beacon_otlp.Receiver.
Runs: http/json, http/protobuf, and http/protobuf with the beta traces switched on
(CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1, OTEL_TRACES_EXPORTER=otlp) and a W3C TRACEPARENT in
the environment. Everything the receiver decoded is checked against the script: event names,
tool names, call ids, decisions, success flags, arguments, and the planted secrets (which
later redaction tests must remove).

What the beta traces of Claude Code 2.1.197 hold, as the traces run proves it (all spans of
kind INTERNAL, scope com.anthropic.claude_code.tracing; every span also carries `session.id`,
`user.id`, `terminal.type`, `span.type` and the OTEL_RESOURCE_ATTRIBUTES keys):

- TRACEPARENT is honoured in -p mode: every span and every log record carries its trace id,
  and the root span's parent is its span id.
- `claude_code.interaction` (the root): `user_prompt`, `user_prompt_length`,
  `interaction.sequence`, `interaction.duration_ms`.
- `claude_code.llm_request` (child of the interaction), one per model call: `model`,
  `gen_ai.request.model`, `duration_ms`, `ttft_ms`, `input_tokens`, `output_tokens`,
  `cache_read_tokens`, `cache_creation_tokens`, `stop_reason`, `success`, `attempt`,
  `llm_request.context`, and `request_id` (also as `gen_ai.response.id`): the api_request
  record's `request_id`, which ties the two.
- `claude_code.tool` (child of the interaction), one per tool call, whether it ran or not:
  `tool_name`, `tool_use_id` (also as `gen_ai.tool.call.id`): the tool_decision and
  tool_result records' `tool_use_id`, which ties them; `full_command` (Bash) or `file_path`
  (Write, Read); `duration_ms` (the whole call, permission check and execution).
- `claude_code.tool.blocked_on_user` (child of the tool span), one per call: `duration_ms`
  (how long the call waited on its permission decision), `decision` (`reject` for the denied
  call, `unknown` for the calls the --allowedTools rules allowed), `source` (`unknown`, where
  the log record says `config`). It has no tool_use_id: the call's tool_decision record
  carries this span's span_id (every other record carries the interaction's).
- `claude_code.tool.execution` (child of the tool span), only for a call that ran:
  `tool_use_id`, `duration_ms`, `success`; for the failing command `success=false`,
  `error="Shell command failed"` and status ERROR.
- The denied call has its `claude_code.tool` span (with its `full_command`) and a
  blocked_on_user child with `decision=reject`, but no execution span and status UNSET: a
  mapping that makes a command of every tool span would count a command that never ran.
- Subagents (not in this session; from the CLI's code): `claude_code.tool` and
  `claude_code.llm_request` spans of a subagent carry `agent_id` and `parent_agent_id`, and its
  llm_request spans `llm_request.context=tool`.

Run it with only loopback networking, as tools/test.sh does:

    unshare -rn sh -c 'ip link set lo up &&
        exec .venv/default/bin/python -m pytest -q tests/test_agent_claude_raw.py'

Golden fixtures: with BEACON_RECORD_FIXTURES=1 in the environment of that command, each run
also saves the raw OTLP request bodies, byte for byte as Claude sent them (the shared
`raw_exports` fixture keeps them), in arrival order as `<nn>-<signal>.<json|pb>`, and
describes itself in session.json (CLI version, protocol, workdir, session id, files, steps):
the http/json and http/protobuf runs (beacon's configuration, no traces) to
tests/fixtures/claude/, the traces run to tests/fixtures/claude-traces/.
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
TRACES_FIXTURE_DIR = FIXTURES / "claude-traces"
RUN_TIMEOUT = 120.0  # a healthy run takes about one second
CONTENT_TYPES = {"http/json": JSON, "http/protobuf": PROTOBUF}
EXTENSIONS = {"http/json": "json", "http/protobuf": "pb"}
RESOURCE = {"beacon.capture.id": "claude-e2e"}  # run metadata, as beacon will add it
TRACE_ID, PARENT_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"  # given to the traces run, as beacon will
DELTA = 1  # AggregationTemporality.DELTA
KIND_INTERNAL = 1
STATUS_UNSET, STATUS_ERROR = 0, 2
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
        if traces:
            env["TRACEPARENT"] = TRACEPARENT
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
    if RECORD_FIXTURES:
        record_fixtures(run, protocol, steps, traces)


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
    # Log records carry a trace context only when the beta traces are on: TRACEPARENT's trace.
    assert {r["trace_id"] for r in records} == {TRACE_ID if traces else ""}

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
    """Beta traces: the span tree under TRACEPARENT, and what ties spans to log records."""
    all_spans = spans(run)
    calls = [s for s in steps if s.tool]
    assert Counter(s["name"] for s in all_spans) == Counter(
        {
            "claude_code.interaction": 1,
            "claude_code.llm_request": len(steps),
            "claude_code.tool": len(calls),
            "claude_code.tool.blocked_on_user": len(calls),
            "claude_code.tool.execution": len(calls) - 1,  # the denied call never ran
        }
    )
    assert {s["trace_id"] for s in all_spans} == {TRACE_ID}
    assert all(s["kind"] == KIND_INTERNAL for s in all_spans)
    for span in all_spans:
        check_duration(span)
    (interaction,) = [s for s in all_spans if s["name"] == "claude_code.interaction"]
    assert interaction["parent_span_id"] == PARENT_SPAN_ID
    assert (interaction["attributes"]["user_prompt"], interaction["attributes"]["interaction.sequence"]) == (
        claude.PROMPT,
        1,
    )
    children = {
        s["span_id"]: [c for c in all_spans if c["parent_span_id"] == s["span_id"]] for s in all_spans
    }
    top = sorted(children[interaction["span_id"]], key=lambda s: s["start_time_unix_nano"])
    assert [s["name"] for s in top] == ["claude_code.llm_request", "claude_code.tool"] * len(calls) + [
        "claude_code.llm_request"
    ]
    check_llm_request_spans([s for s in top if s["name"] == "claude_code.llm_request"], steps)
    tools = {s["attributes"]["tool_use_id"]: s for s in top if s["name"] == "claude_code.tool"}
    assert list(tools) == [s.call_id for s in calls]
    blocked = {}
    for step in calls:
        blocked[step.call_id] = check_tool_span(tools[step.call_id], children, step)
    check_span_ids_of_records(run, interaction, blocked)


def check_duration(span: Dict[str, Any]) -> None:
    """A span's duration_ms attribute is its own duration. Claude reads its clock for the
    attribute apart from the span's start and end (46.16 ms of span once said 45): within 5 ms."""
    key = "interaction.duration_ms" if span["name"] == "claude_code.interaction" else "duration_ms"
    elapsed = (span["end_time_unix_nano"] - span["start_time_unix_nano"]) / 1e6
    assert abs(span["attributes"][key] - elapsed) <= 5, (span["name"], span["attributes"][key], elapsed)


def check_llm_request_spans(requests: List[Dict[str, Any]], steps: List[claude.Step]) -> None:
    """One llm_request per turn, carrying the request id the api_request record logs."""
    assert [(s["attributes"]["request_id"], s["attributes"]["gen_ai.response.id"]) for s in requests] == [
        (claude.request_id(n), claude.request_id(n)) for n in range(1, len(steps) + 1)
    ]
    assert [s["attributes"]["stop_reason"] for s in requests] == [
        "end_turn" if step.tool is None else "tool_use" for step in steps
    ]
    for span in requests:
        a = span["attributes"]
        assert (a["input_tokens"], a["output_tokens"], a["success"], a["attempt"]) == (
            claude.USAGE_IN,
            claude.USAGE_OUT,
            True,
            1,
        )
        assert (a["llm_request.context"], a["gen_ai.system"]) == ("interaction", "anthropic")


def check_tool_span(
    tool: Dict[str, Any], children: Dict[str, List[Dict[str, Any]]], step: claude.Step
) -> str:
    """One call's claude_code.tool span and its children; returns its blocked_on_user span id."""
    a = tool["attributes"]
    assert (a["tool_name"], a["gen_ai.tool.call.id"]) == (step.tool, step.call_id)
    detail = "full_command" if step.tool == "Bash" else "file_path"
    assert a[detail] == step.input["command" if step.tool == "Bash" else "file_path"]
    assert tool["status"]["code"] == STATUS_UNSET  # also for the denied call
    kids = {c["name"]: c for c in children[tool["span_id"]]}
    expected = {"claude_code.tool.blocked_on_user"} | (
        set() if step.denied else {"claude_code.tool.execution"}
    )
    assert set(kids) == expected
    blocked = kids["claude_code.tool.blocked_on_user"]["attributes"]
    assert (blocked["decision"], blocked["source"]) == ("reject" if step.denied else "unknown", "unknown")
    assert "tool_use_id" not in blocked
    if not step.denied:
        execution = kids["claude_code.tool.execution"]
        e = execution["attributes"]
        assert (e["tool_use_id"], e["gen_ai.tool.call.id"], e["success"]) == (
            step.call_id,
            step.call_id,
            not step.fails,
        )
        if step.fails:
            assert e["error"] == "Shell command failed"
            assert execution["status"] == {"code": STATUS_ERROR, "message": "Shell command failed"}
        else:
            assert "error" not in e and execution["status"]["code"] == STATUS_UNSET
    return str(kids["claude_code.tool.blocked_on_user"]["span_id"])


def check_span_ids_of_records(run: Run, interaction: Dict[str, Any], blocked: Dict[str, str]) -> None:
    """A tool_decision record's span is its call's blocked_on_user span; every other record's
    is the interaction."""
    for record in log_records(run):
        a = record["attributes"]
        expected = blocked[a["tool_use_id"]] if a["event.name"] == "tool_decision" else interaction["span_id"]
        assert record["span_id"] == expected, a["event.name"]


# --- golden fixtures ------------------------------------------------------------------------


def record_fixtures(run: Run, protocol: str, steps: List[claude.Step], traces: bool) -> None:
    """Save this run's raw export bodies and describe the run in session.json."""
    directory = TRACES_FIXTURE_DIR if traces else FIXTURE_DIR
    files, _ = save_bodies(directory, run.bodies, EXTENSIONS[protocol])
    telemetry_env = claude.telemetry_env(
        "<receiver-url>", "<token>", protocol, traces=traces, resource_attributes=RESOURCE
    )
    if traces:
        telemetry_env["TRACEPARENT"] = TRACEPARENT
    update_session_index(
        directory,
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
            "telemetry_env": telemetry_env,
            "files": files,
        },
    )
