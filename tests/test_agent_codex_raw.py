"""The real Codex CLI through the scripted session, its raw OTLP export checked exactly.

Codex (tests/agents/codex.py) runs `codex exec` against the scripted fake Responses API, with
telemetry configured the way beacon will configure it (a generated CODEX_HOME whose
config.toml is the user's plus an `[otel]` table), pointed at a beacon_otlp.Receiver. Runs:
OTLP/HTTP JSON and protobuf (`protocol = "json"` / `"binary"`) with the denial by a
PermissionRequest hook, and protobuf with the denial by a `forbidden` exec-policy rule
(which leaves no `codex.tool_decision` for the refused call). Everything the receiver
decoded is checked against the script: event names, tool names, call ids, decisions,
success flags, arguments and outputs, token counts, metrics, spans, and the planted secrets
(which later redaction tests must remove).

A fourth run (protobuf, hook denial) has TRACEPARENT set, as beacon will set it. What the
spans of Codex 0.169.0 hold (about 1,200 `tracing` spans of some 140 names a run, every one
with `code.*`, `thread.*`, `busy_ns`, `idle_ns`; status UNSET throughout), as these runs prove:

- TRACEPARENT is honoured: `codex.exec` and the app-server request spans (`turn/start`, ...)
  take its trace id and have its span id as parent, so every span of the turn joins the CI
  run's trace (without it, `codex.exec` and `turn/start` root two traces of their own);
  background spans (`auth`, `get_model_info`, `session_loop`, ...) keep traces of their own.
  One DEBUG log record (scope codex_otel::trace_context) says the trace was continued.
- A tool call: a span named after the tool (`exec_command`, `apply_patch`) with
  `codex.tool.phase=dispatch`, `call_id` (the log records' `call_id`, which ties them),
  `tool_name`, `tool_source`, `aborted`, `conversation.id`, `turn.id`, and a span event
  `codex.tool_result_ready` (`dispatch_to_result_ready_ms`); its duration is the span's own.
  Its child `dispatch_tool_call_with_state` carries the span event `codex.tool_result`
  (`call_id`, `success`, `duration_ms`, argument and output lengths: never the arguments
  or output) and is the span of the call's `codex.tool_result` record. For exec_command,
  below it `unified_exec.exec_command` (`call_id`, `outcome`: `exited` for a command that
  ran, whatever its exit code; `failed` for a refused one), `unified_exec.open_session`
  (the span of the `codex.tool_decision` record; apply_patch's decision record has the
  dispatch_tool_call_with_state span) and, only when a process started, `codex.process.spawn`.
- No span holds a command, a path, an exit code or a decision: those stay in the log records.
- The refused call has its dispatch span too (named `exec_command`, status UNSET), with
  `success=false` on its `codex.tool_result` span event, `outcome=failed` and no
  `codex.process.spawn`; the hook's verdict shows as a `codex.hooks.command` span
  (`hook.event_name=PermissionRequest`, `hook.command_outcome`).
- Model calls: under each `try_run_sampling_request`, a `codex.sampling` span
  (`codex.turn.phase=sampling`) per request, beside `stream_request` (the HTTP request) and
  `receiving_stream` (the answer); the turn's usage is on
  `session_task.turn` (`codex.turn.token_usage.input_tokens`, `output_tokens`,
  `cached_input_tokens`, `reasoning_output_tokens`, `total_tokens`); the time the turn waited
  on each tool is a `codex.tool_blocking` span (`codex.turn.phase=tool_blocking`).

Run it with only loopback networking, as tools/test.sh does:

    unshare -rn sh -c 'ip link set lo up &&
        exec .venv/default/bin/python -m pytest -q tests/test_agent_codex_raw.py'

Golden fixtures: with BEACON_RECORD_FIXTURES=1 in the environment of that command, the JSON
and protobuf runs with the hook denial also save the raw OTLP request bodies, byte for byte
as Codex sent them, to tests/fixtures/codex/`<nn>-<signal>.<json|pb>` in arrival order
(bodies over FIXTURE_LIMIT, the JSON traces, are left out and listed as skipped), and
describe the runs in tests/fixtures/codex/session.json (CLI version, protocol, workdir,
conversation id, files, steps); the run with TRACEPARENT to tests/fixtures/codex-traces/.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import pytest
from agents import (
    FIXTURES,
    RECORD_FIXTURES,
    RawExport,
    codex,
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

FIXTURE_DIR = FIXTURES / codex.NAME
TRACES_FIXTURE_DIR = FIXTURES / "codex-traces"
TRACE_ID, PARENT_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"  # given to one run, as beacon will
FIXTURE_LIMIT = 300 * 1024  # bodies larger than this stay out of the fixtures
RUN_TIMEOUT = 120.0  # a healthy run takes well under a second
CONTENT_TYPES = {"json": JSON, "binary": PROTOBUF}
EXTENSIONS = {"json": "json", "binary": "pb"}
DELTA = 1  # AggregationTemporality.DELTA: every Codex metric
STATUS_UNSET = 0
SCOPES = {
    "logs": {"codex_otel.log_only", "codex_otel::metrics::client"},
    "traces": {"codex_exec"},
    "metrics": {"codex"},
}
# The log records without an event name: the metrics client's, and with TRACEPARENT set
# one more (of the scope codex_otel::trace_context) that says it was taken up.
DEBUG_RECORDS = [
    ("DEBUG", "flushing OTEL metrics"),
    ("DEBUG", "TRACEPARENT detected; continuing trace from parent context"),
]
TRACE_CONTEXT_SCOPE = {"codex_otel::trace_context"}
COMMON_ATTRIBUTES = (
    "conversation.id",
    "app.version",
    "originator",
    "terminal.type",
    "model",
    "slug",
    "event.name",
    "event.timestamp",
)
# What exec_command answers the model (and logs as the tool_result output).
EXEC_OUTPUT = re.compile(
    r"Chunk ID: \w+\nWall time: [\d.]+ seconds\nProcess exited with code (\d+)\n"
    r"Original token count: \d+\nOutput:\n(.*)\Z",
    re.DOTALL,
)


class Run(NamedTuple):
    """One finished CLI run and everything observed around it."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    denial: str
    traced: bool  # run with TRACEPARENT set
    server: codex.ScriptedServer
    workdir: Path
    batches: List[Any]
    stats: Dict[str, Any]
    bodies: List[RawExport]  # the raw export bodies, as sent


@pytest.fixture(scope="module")
def codex_executable() -> Path:
    return install_or_skip(codex)


def run_session(
    tmp_path: Path,
    executable: Path,
    receiver: Receiver,
    collector: Collector,
    protocol: str,
    denial: str,
    bodies: List[RawExport],
    traced: bool = False,
) -> Run:
    """Run `codex exec` once through the scripted session (`traced`: with TRACEPARENT set);
    stop the receiver once drained."""
    home, workdir = session_dirs(tmp_path)
    server = codex.scripted_server(workdir)
    with server:
        env = codex.agent_env(home, workdir, server.url, denial)
        env.update(
            codex.telemetry_config(
                codex.user_codex_home(env), tmp_path / "beacon-codex-home", receiver.url, TOKEN, protocol
            )
        )
        assert not any(name.startswith("OTEL_") for name in env)  # compression would mute Codex
        if traced:
            env["TRACEPARENT"] = TRACEPARENT
        started = time.monotonic()
        returncode, stdout, stderr = run_in_group(
            codex.command(executable=executable, denial=denial), workdir, env, RUN_TIMEOUT
        )
        wall = time.monotonic() - started
    drain(receiver, quiet=0.3)
    return Run(
        returncode,
        stdout,
        stderr,
        wall,
        denial,
        traced,
        server,
        workdir,
        list(collector.batches),
        receiver.stats.snapshot(),
        list(bodies),
    )


# --- reading the decoded exports ----------------------------------------------------------


def log_records(run: Run) -> List[Dict[str, Any]]:
    """Every log record of the run (Codex sends no sequence number; arrival order is emission order)."""
    return [record for _, _, record in scoped(run.batches, "logs")]


def events(run: Run, name: str) -> List[Dict[str, Any]]:
    return [r["attributes"] for r in log_records(run) if r["attributes"].get("event.name") == name]


def metric_points(run: Run, name: str) -> List[Tuple[str, Dict[str, Any], Dict[str, Any]]]:
    """(kind, metric body, data point) for every data point of the named metric."""
    return [
        (kind, metric[kind], point)
        for _, _, metric in scoped(run.batches, "metrics")
        if metric["name"] == name
        for kind in ("sum", "histogram", "gauge")
        if metric.get(kind)
        for point in metric[kind]["data_points"]
    ]


def expected_tool_events(steps: List[codex.Step], denial: str) -> List[Tuple[str, str, str, str]]:
    """(event, tool_name, call_id, decision or success) for every scripted tool call.

    Codex logs tool_decision and tool_result for each call, except that a call refused by a
    `forbidden` rule never reaches the approval step and gets only the (failed) tool_result.
    A command that runs and exits non-zero is still a successful tool call.
    """
    expected = []
    for step in steps:
        if step.tool is None:
            continue
        denied = step.name == "denied"
        if not (denied and denial == codex.DENIAL_RULE):
            decision = "denied" if denied else "approved"
            expected.append(("codex.tool_decision", step.tool, step.call_id, decision))
        expected.append(("codex.tool_result", step.tool, step.call_id, "false" if denied else "true"))
    return expected


def denied_output(denial: str) -> str:
    """The tool output (to the model and in telemetry) of the refused `git push`."""
    if denial == codex.DENIAL_HOOK:
        reason = codex.HOOK_MESSAGE
    else:
        reason = f"`/bin/bash -lc '{codex.DENIED_COMMAND}'` rejected: {codex.RULE_JUSTIFICATION}"
    return f'exec_command failed: CreateProcess {{ message: "Rejected(\\"{reason}\\")" }}'


# --- the test -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol,denial,traced",
    [
        ("json", codex.DENIAL_HOOK, False),
        ("binary", codex.DENIAL_HOOK, False),
        ("binary", codex.DENIAL_RULE, False),
        ("binary", codex.DENIAL_HOOK, True),
    ],
    ids=["json", "binary", "binary-forbidden-rule", "binary-traceparent"],
)
def test_scripted_session(
    tmp_path: Path,
    codex_executable: Path,
    make_receiver: Any,
    collector: Collector,
    raw_exports: List[RawExport],
    protocol: str,
    denial: str,
    traced: bool,
) -> None:
    run = run_session(
        tmp_path, codex_executable, make_receiver(), collector, protocol, denial, raw_exports, traced
    )
    steps = run.server.steps()

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == codex.FINAL_TEXT  # exec prints the last agent message
    check_model_server(run, steps)
    assert (run.workdir / codex.FILE_NAME).read_text() == codex.FILE_CONTENT + "\n"  # apply_patch adds \n
    check_exports(run, CONTENT_TYPES[protocol])
    conversation = check_session_events(run, steps)
    check_tool_events(run, steps, conversation)
    check_secrets_present(run, steps)
    check_metrics(run, steps)
    check_spans(run, steps)
    if RECORD_FIXTURES and denial == codex.DENIAL_HOOK:
        record_fixtures(run, protocol, steps, traced)


def check_model_server(run: Run, steps: List[codex.Step]) -> None:
    server = run.server
    assert server.errors == []
    assert server.turns == list(range(len(steps)))  # each step answered exactly once, in order
    assert Counter((r.method, r.path) for r in server.requests) == Counter(
        {("POST", "/v1/responses"): len(steps), ("POST", "/v1/analytics/codex/turn-costs"): 1}
    )
    assert len(server.side_requests) == 1
    assert server.workdir == str(run.workdir.resolve())
    outputs = server.outputs
    assert set(outputs) == {s.call_id for s in steps if s.tool}
    by_name = {s.name: outputs[s.call_id] for s in steps if s.tool}
    assert exec_result(by_name["shell"]) == (0, "BEACON_E2E_MARKER\n")
    path = f"{server.workdir}/{codex.FILE_NAME}"
    assert re.fullmatch(
        r"Exit code: 0\nWall time: \d+ seconds\nOutput:\n"
        rf"Success\. Updated the following files:\nA {re.escape(path)}\n",
        by_name["write"],
    )
    assert exec_result(by_name["read"]) == (0, codex.FILE_CONTENT + "\n")
    assert by_name["denied"] == denied_output(run.denial)
    assert exec_result(by_name["failing"]) == (
        2,
        "ls: cannot access '/nonexistent-beacon-dir': No such file or directory\n",
    )
    assert exec_result(by_name["secret"]) == (
        0,
        f"Authorization: Bearer {codex.SECRET_BEARER} {codex.SECRET_TOKEN}\n",
    )


def exec_result(output: str) -> Tuple[int, str]:
    """(exit code, command output) from an exec_command tool output."""
    match = EXEC_OUTPUT.fullmatch(output)
    assert match, output
    return int(match.group(1)), match.group(2)


def check_exports(run: Run, content_type: str) -> None:
    """Every signal arrived, answered 200, in the configured encoding, from codex_exec."""
    signals = {"logs", "traces", "metrics"}
    assert run.stats["rejected"] == {} and run.stats["consumer_errors"] == 0
    assert {r["status"] for r in run.stats["requests"]} == {200}
    assert {r["content_type"] for r in run.stats["requests"]} == {content_type}
    assert {r["signal"] for r in run.stats["requests"]} == signals
    for name in signals:
        seen_scopes = set()
        for resource, scope, _ in scoped(run.batches, name):
            attributes = resource["attributes"]
            assert attributes["service.name"] == "codex_exec"
            assert attributes["service.version"] == codex.VERSION
            assert (attributes["telemetry.sdk.language"], attributes["env"]) == ("rust", "dev")
            seen_scopes.add(scope["name"])
        assert seen_scopes == SCOPES[name] | (TRACE_CONTEXT_SCOPE if run.traced and name == "logs" else set())


def check_session_events(run: Run, steps: List[codex.Step]) -> str:
    """Event names and counts, the session-level events; returns the main conversation id."""
    records = log_records(run)
    names = Counter(r["attributes"].get("event.name") for r in records)
    tool_calls = sum(1 for s in steps if s.tool)
    hook = run.denial == codex.DENIAL_HOOK
    assert names == Counter(
        {
            "codex.conversation_starts": 2 if hook else 1,  # + the automatic reviewer's thread
            "codex.startup_phase": 2,
            "codex.user_prompt": 1,
            "codex.turn_ttft": 1,
            "codex.api_request": len(steps),
            "codex.sse_event": 5 * len(steps) + 1,
            "codex.tool_decision": tool_calls if hook else tool_calls - 1,
            "codex.tool_result": tool_calls,
            None: 2 if run.traced else 1,  # DEBUG_RECORDS
        }
    )
    for record in records:
        attributes = record["attributes"]
        if "event.name" not in attributes:
            continue
        assert set(COMMON_ATTRIBUTES) <= set(attributes), attributes
        assert (attributes["app.version"], attributes["originator"], attributes["model"]) == (
            codex.VERSION,
            "codex_exec",
            codex.MODEL,
        )
        assert record["event_name"].startswith("event ")  # a source location, not the event name
        assert (record["severity_text"], record["body"]) == ("INFO", None)
    unnamed = [(r["severity_text"], r["body"]) for r in records if "event.name" not in r["attributes"]]
    assert sorted(unnamed) == sorted(DEBUG_RECORDS[: 2 if run.traced else 1])

    (prompt,) = events(run, "codex.user_prompt")
    assert (prompt["prompt"], prompt["prompt_length"]) == (codex.PROMPT, str(len(codex.PROMPT)))
    conversation = prompt["conversation.id"]
    starts = events(run, "codex.conversation_starts")
    main = [a for a in starts if a["conversation.id"] == conversation]
    assert [(a["provider_name"], a["approval_policy"], a["sandbox_policy"]) for a in main] == [
        ("beacon fake Responses API", "on-request" if hook else "never", "danger-full-access")
    ]
    reviewer = [(a["approval_policy"], a["sandbox_policy"]) for a in starts if a not in main]
    assert reviewer == ([("never", "read-only")] if hook else [])
    assert {
        r["attributes"]["conversation.id"]
        for r in records
        if r["attributes"].get("event.name") not in (None, "codex.conversation_starts")
    } == {conversation}

    requests = events(run, "codex.api_request")
    assert [(a["endpoint"], a["http.response.status_code"], a["attempt"]) for a in requests] == [
        ("/responses", 200, 0)
    ] * len(steps)
    kinds = Counter(a["event.kind"] for a in events(run, "codex.sse_event"))
    assert kinds == Counter(
        {
            "response.created": len(steps),
            "response.output_item.added": len(steps),
            "response.output_item.done": len(steps),
            "response.output_text.delta": 1,
            "response.completed": 2 * len(steps),
        }
    )
    usage = [
        (
            a["input_token_count"],
            a["output_token_count"],
            a["cached_token_count"],
            a["reasoning_token_count"],
            a["tool_token_count"],
        )
        for a in events(run, "codex.sse_event")
        if "input_token_count" in a
    ]
    assert usage == [
        (str(codex.USAGE_IN), str(codex.USAGE_OUT), 0, 0, str(codex.USAGE_IN + codex.USAGE_OUT))
    ] * len(steps)
    return conversation


def check_tool_events(run: Run, steps: List[codex.Step], conversation: str) -> None:
    """tool_decision / tool_result per call: ids, decisions, success, arguments and outputs."""
    tool_events = [
        a
        for a in (r["attributes"] for r in log_records(run))
        if a.get("event.name") in ("codex.tool_decision", "codex.tool_result")
    ]
    assert [
        (a["event.name"], a["tool_name"], a["call_id"], a.get("decision", a.get("success")))
        for a in tool_events
    ] == expected_tool_events(steps, run.denial)
    by_call = {s.call_id: s for s in steps}
    results = [a for a in tool_events if a["event.name"] == "codex.tool_result"]
    for a in tool_events:
        assert (a["tool_namespace"], a["conversation.id"]) == ("functions", conversation)
        if a["event.name"] == "codex.tool_decision":
            assert a["source"] == "Config"  # the config decided (or the hook, reported as Config)
    for seq, a in enumerate(results, 1):
        step = by_call[a["call_id"]]
        assert a["tool_result_seq"] == seq
        assert a["arguments"] == step.arguments  # exec_command: the JSON string; apply_patch: the patch
        assert a["output"] == run.server.outputs[step.call_id]
        assert (a["output_truncated"], a["agent_name"], a["mcp_server"]) == (False, "/root", "")
        assert int(a["duration_ms"]) >= 0
    write = next(a for a in results if a["tool_name"] == "apply_patch")
    assert f"*** Add File: {run.server.workdir}/{codex.FILE_NAME}\n" in write["arguments"]


def check_secrets_present(run: Run, steps: List[codex.Step]) -> None:
    """The planted secrets reach the raw telemetry unredacted (beacon's redaction must remove them).

    Only the secret call's tool_result carries them (arguments and output); no span or metric does.
    """
    secret = next(s for s in steps if s.name == "secret")
    carriers = [
        (a["event.name"], field)
        for a in (r["attributes"] for r in log_records(run))
        if a.get("call_id") == secret.call_id
        for field, value in sorted(a.items())
        if isinstance(value, str)
        if codex.SECRET_TOKEN in value and codex.SECRET_BEARER in value
    ]
    assert carriers == [("codex.tool_result", "arguments"), ("codex.tool_result", "output")]
    for signal_name in ("traces", "metrics"):
        text = json.dumps([item for _, _, item in scoped(run.batches, signal_name)], default=repr)
        assert codex.SECRET_TOKEN not in text and codex.SECRET_BEARER not in text


def check_metrics(run: Run, steps: List[codex.Step]) -> None:
    names = {metric["name"] for _, _, metric in scoped(run.batches, "metrics")}
    assert {
        "codex.api_request",
        "codex.tool.call",
        "codex.turn.token_usage",
        "codex.conversation.turn.count",
        "codex.sse_event",
        "codex.thread.started",
    } <= names
    for _, _, metric in scoped(run.batches, "metrics"):
        for kind in ("sum", "histogram"):
            if metric.get(kind):
                assert metric[kind]["aggregation_temporality"] == DELTA, metric["name"]

    def total(name: str, **match: str) -> float:
        return sum(
            point.get("as_int") or point.get("as_double") or point.get("sum") or 0
            for kind, _, point in metric_points(run, name)
            if all(point["attributes"].get(k) == v for k, v in match.items())
        )

    assert total("codex.api_request", status="200", success="true") == len(steps)
    assert total("codex.tool.call", tool="exec_command", success="true") == 4  # the failing ls included
    assert total("codex.tool.call", tool="exec_command", success="false") == 1  # the denied push
    assert total("codex.tool.call", tool="apply_patch", success="true") == 1
    assert total("codex.turn.token_usage", token_type="input") == len(steps) * codex.USAGE_IN
    assert total("codex.turn.token_usage", token_type="output") == len(steps) * codex.USAGE_OUT
    assert total("codex.conversation.turn.count", session_source="exec") == 1
    hook_runs = total("codex.hooks.run", hook_name="PermissionRequest", status="blocked")
    assert hook_runs == (1 if run.denial == codex.DENIAL_HOOK else 0)


def check_spans(run: Run, steps: List[codex.Step]) -> None:
    """One dispatch span per call, named after the tool and carrying its call_id, with what ran
    or was refused below it; logs link to spans; TRACEPARENT continues the trace."""
    spans = [span for _, _, span in scoped(run.batches, "traces")]
    names = Counter(s["name"] for s in spans)
    assert names["codex.sampling"] == len(steps)
    dispatch = {
        s["attributes"]["call_id"]: s for s in spans if s["attributes"].get("codex.tool.phase") == "dispatch"
    }
    assert sorted((s["name"], call_id) for call_id, s in dispatch.items()) == sorted(
        (s.tool, s.call_id) for s in steps if s.tool
    )
    children: Dict[str, List[Dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_span_id"], []).append(span)
    for step in steps:
        if step.tool:
            check_tool_call_spans(run, step, dispatch[step.call_id], children)
    span_ids = {(s["trace_id"], s["span_id"]) for s in spans}
    linked = [r for r in log_records(run) if r["trace_id"]]
    assert linked and all((r["trace_id"], r["span_id"]) in span_ids for r in linked)
    # codex.sse_event records and the DEBUG records carry no trace context.
    assert {r["attributes"].get("event.name") for r in log_records(run) if not r["trace_id"]} == {
        "codex.sse_event",
        None,
    }
    check_trace_context(run, spans, list(dispatch.values()))


def descendants(
    span: Dict[str, Any], children: Dict[str, List[Dict[str, Any]]], name: str
) -> List[Dict[str, Any]]:
    """The spans named `name` anywhere below `span`."""
    found = []
    for child in children.get(span["span_id"], []):
        if child["name"] == name:
            found.append(child)
        found.extend(descendants(child, children, name))
    return found


def check_tool_call_spans(
    run: Run, step: codex.Step, dispatch: Dict[str, Any], children: Dict[str, List[Dict[str, Any]]]
) -> None:
    """The spans of one call: its outcome, whether a process ran, the hook, the records' spans."""
    denied = step.name == "denied"
    assert dispatch["status"]["code"] == STATUS_UNSET and dispatch["attributes"]["aborted"] is False
    (state,) = descendants(dispatch, children, "dispatch_tool_call_with_state")
    (result,) = [
        e["attributes"] for e in state["events"] if e["attributes"].get("event.name") == "codex.tool_result"
    ]
    assert (result["call_id"], result["success"]) == (step.call_id, "false" if denied else "true")
    assert not any(key in result for key in ("arguments", "output"))
    decision_span = state
    if step.tool == "exec_command":
        (unified,) = descendants(dispatch, children, "unified_exec.exec_command")
        assert (unified["attributes"]["call_id"], unified["attributes"]["outcome"]) == (
            step.call_id,
            "failed" if denied else "exited",
        )
        assert len(descendants(unified, children, "codex.process.spawn")) == (0 if denied else 1)
        (decision_span,) = descendants(unified, children, "unified_exec.open_session")
    hooks = [
        h["attributes"]["hook.event_name"] for h in descendants(dispatch, children, "codex.hooks.command")
    ]
    assert hooks == (["PermissionRequest"] if denied and run.denial == codex.DENIAL_HOOK else [])
    for record in log_records(run):
        a = record["attributes"]
        if a.get("call_id") == step.call_id:
            expected = decision_span if a["event.name"] == "codex.tool_decision" else state
            assert record["span_id"] == expected["span_id"], a["event.name"]


def check_trace_context(run: Run, spans: List[Dict[str, Any]], dispatch: List[Dict[str, Any]]) -> None:
    """With TRACEPARENT, codex.exec and the turn join its trace, under its span; without it,
    each roots a trace of its own."""
    (exec_span,) = [s for s in spans if s["name"] == "codex.exec"]
    (turn,) = [s for s in spans if s["name"] == "turn/start"]
    sampling = [s for s in spans if s["name"] == "codex.sampling"]
    assert {s["trace_id"] for s in dispatch + sampling} == {turn["trace_id"]}
    if run.traced:
        assert (exec_span["trace_id"], exec_span["parent_span_id"]) == (TRACE_ID, PARENT_SPAN_ID)
        assert (turn["trace_id"], turn["parent_span_id"]) == (TRACE_ID, PARENT_SPAN_ID)
    else:
        assert exec_span["parent_span_id"] == turn["parent_span_id"] == ""
        assert exec_span["trace_id"] != turn["trace_id"]
        assert TRACE_ID not in {s["trace_id"] for s in spans}


# --- golden fixtures ------------------------------------------------------------------------


def record_fixtures(run: Run, protocol: str, steps: List[codex.Step], traced: bool) -> None:
    """Save this run's raw export bodies (up to FIXTURE_LIMIT each) and describe the run in
    session.json: in tests/fixtures/codex, or codex-traces for the run with TRACEPARENT."""
    directory = TRACES_FIXTURE_DIR if traced else FIXTURE_DIR
    files, skipped = save_bodies(directory, run.bodies, EXTENSIONS[protocol], FIXTURE_LIMIT)
    workdir = run.server.workdir or ""
    update_session_index(
        directory,
        {
            "cli": codex.NAME,
            "package": codex.PACKAGE,
            "version": codex.VERSION,
            "model": codex.MODEL,
            "command": ["codex", *codex.command(executable=Path("codex"))[1:]],
            "prompt": codex.PROMPT,
            "denial": "PermissionRequest hook (see tests/agents/codex.py)",
            "workdir_placeholder": "<workdir>",
            "steps": [
                {
                    "name": s.name,
                    "tool": s.tool,
                    "item_type": s.item_type,
                    "call_id": s.call_id or None,
                    "arguments": s.arguments.replace(workdir, "<workdir>") if workdir else s.arguments,
                }
                for s in steps
            ],
            "final_text": codex.FINAL_TEXT,
            "tool_events": [list(e) for e in expected_tool_events(steps, codex.DENIAL_HOOK)],
            "fixture_limit_bytes": FIXTURE_LIMIT,
        },
        {
            "protocol": protocol,
            "content_type": CONTENT_TYPES[protocol],
            "workdir": workdir,
            "conversation_id": events(run, "codex.user_prompt")[0]["conversation.id"],
            "exit_code": run.returncode,
            "wall_seconds": round(run.wall_seconds, 2),
            "otel_table": codex.otel_table("<receiver-url>", "<token>", protocol),
            **({"env": {"TRACEPARENT": TRACEPARENT}} if traced else {}),
            "files": files,
            "skipped_over_limit": skipped,
        },
    )
