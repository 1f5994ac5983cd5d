"""The real Gemini CLI through the scripted session, exporting OTLP into a beacon_otlp.Receiver.

What this proves, before any normalization exists: the CLI runs offline against the fake
Gemini API (tests/agents/gemini.py) with telemetry configured the way beacon will configure
it (environment only), every export reaches the receiver and is accepted, and the raw log
records carry what beacon's Gemini mapping relies on, step by step (event names, tool names,
arguments, success, decision, the policy denial, call ids) and the fake secrets that the
redaction tests must remove.

Runs: beacon's configuration, and the same with GEMINI_TELEMETRY_TRACES_ENABLED=true (the
switch `resolveTelemetrySettings` reads in 0.61.0, or `telemetry.traces` in settings.json)
and a W3C TRACEPARENT. What the spans of Gemini CLI 0.61.0 hold, as these runs prove it:

- Spans are sent whenever telemetry is on; the traces switch only adds their content. Each
  `llm_call` and each `schedule_tool_calls` is the root of a trace of its own: no span joins
  another's trace, and TRACEPARENT is ignored (nothing in the CLI reads it).
- `llm_call`, one per model call: `gen_ai.request.model`, `gen_ai.prompt.name`,
  `gen_ai.conversation.id` (the session id); with the switch also `gen_ai.usage.input_tokens`,
  `gen_ai.usage.output_tokens`, `gen_ai.input.messages`, `gen_ai.output.messages` (the
  functionCall with its id). The api_request and request-details log records carry its
  span id; api_response records carry no trace context.
- `schedule_tool_calls`, one per batch of calls the model asked for; the call's
  `gemini_cli.tool_call` log record carries its span id. With the switch its
  `gen_ai.output.messages` lists each call's outcome: for the denied call `status: "error"`
  and the policy's message (the denied call has no `tool_call` span).
- `tool_call` (child of schedule_tool_calls), one per call that ran: `gen_ai.tool.name`,
  `gen_ai.tool.call_id` (`<tool>__<the model's functionCall id>`); the call's
  file_operation record carries its span id. With the switch `gen_ai.input.messages` (the
  request: callId, name, args) and `gen_ai.output.messages` (JSON: `status`, `durationMs`,
  `request.args`, `response.data.exitCode` when the command exited non-zero).
- No duration attribute on any span (the span's own start and end give it); every span's
  status is OK, the denied call's schedule span included.

The CLI exports straight to the receiver; the shared `raw_exports` fixture taps the
receiver's body reader, so the test can check the headers the exporter sends, the status
each export got, and keep the bodies byte for byte.

Golden fixtures: with BEACON_RECORD_FIXTURES=1 each run also rewrites tests/fixtures/gemini/
(beacon's configuration) or tests/fixtures/gemini-traces/ (with the traces switch):
the raw request bodies as `<nn>-<signal>.json` in arrival order (Gemini CLI has no OTLP/HTTP
protobuf exporter, so JSON only; its three exporters flush concurrently at exit, so the order
of traces, logs and metrics varies between runs) and `session.json` describing the run (its
workdir, home and OTLP endpoint are recorded there; the bodies are kept byte-exact; a body
over MAX_FIXTURE_BYTES would be listed as skipped). Only a run that passes every check is
recorded. Regenerate with

    BEACON_RECORD_FIXTURES=1 unshare -rn sh -c 'ip link set lo up && exec \
        .venv/default/bin/python -m pytest -q tests/test_agent_gemini_raw.py'
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
from agents import (
    FIXTURES,
    RECORD_FIXTURES,
    RawExport,
    drain,
    gemini,
    install_or_skip,
    run_in_group,
    save_bodies,
    session_dirs,
)
from conftest import TOKEN, Collector, scoped

from beacon_otlp import TOKEN_HEADER, Receiver

pytestmark = pytest.mark.agents

FIXTURE_DIR = FIXTURES / gemini.NAME
TRACES_FIXTURE_DIR = FIXTURES / "gemini-traces"
RUN_TIMEOUT = 180.0
MAX_FIXTURE_BYTES = 300 * 1024
RESOURCE_ATTRIBUTES = {"beacon.capture.id": "gemini-e2e"}
TRACE_ID, PARENT_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
STATUS_OK = 1

# Log events per run, exactly. The api_* pairs and GenAI details come once per model turn (7).
EXPECTED_EVENTS = Counter(
    {
        "gemini_cli.config": 1,
        "gemini_cli.startup_stats": 1,
        "gemini_cli.user_prompt": 1,
        "gemini_cli.model_routing": 1,
        "gemini_cli.api_request": 7,
        "gemini_cli.api_response": 7,
        "gen_ai.client.inference.operation.details": 14,  # one for each request and each response
        "gemini_cli.tool_call": 6,
        "gemini_cli.file_operation": 2,
        "gemini_cli.plan.approval_mode_duration": 1,
    }
)
# Present only when no trusted `rg` is installed (the CLI then registers its grep fallback).
OPTIONAL_EVENTS = {"gemini_cli.ripgrep_fallback"}
TOOL_SPANS = ("shell", "write", "read", "failing", "secret")  # the denied call never executes


# --- one run of the scripted session ----------------------------------------------------


class Run(NamedTuple):
    protocol: str
    traces: bool  # GEMINI_TELEMETRY_TRACES_ENABLED and TRACEPARENT set
    workdir: Path
    home: Path
    env: Dict[str, str]
    process: subprocess.CompletedProcess[str]
    wall_seconds: float
    server: gemini.GeminiServer
    exports: List[RawExport]  # as the CLI sent them, with the receiver's answer
    collector: Collector
    stats: Dict[str, Any]
    receiver_url: str


@pytest.fixture(scope="module")
def installed() -> Path:
    return install_or_skip(gemini)


@pytest.fixture(params=[False, True], ids=["json", "json-traces"])
def run(
    request: pytest.FixtureRequest,
    installed: Path,
    tmp_path: Path,
    collector: Collector,
    make_receiver: Callable[..., Receiver],
    raw_exports: List[RawExport],
) -> Iterator[Run]:
    protocol, traces = "http/json", request.param
    home, workdir = session_dirs(tmp_path)
    workdir = workdir.resolve()  # the CLI reports the real path
    receiver = make_receiver(token=TOKEN)
    server = gemini.scripted_server(workdir)
    with server:
        env = gemini.agent_env(home, workdir, server.url)
        env.update(
            gemini.telemetry_env(
                receiver.url, TOKEN, protocol, resource_attributes=RESOURCE_ATTRIBUTES, traces=traces
            )
        )
        if traces:
            env["TRACEPARENT"] = TRACEPARENT
        started = time.monotonic()
        argv = gemini.command(executable=installed)
        process = subprocess.CompletedProcess(argv, *run_in_group(argv, workdir, env, RUN_TIMEOUT))
        wall = time.monotonic() - started
    assert drain(receiver, quiet=0.25)
    yield Run(
        protocol,
        traces,
        workdir,
        home,
        env,
        process,
        wall,
        server,
        list(raw_exports),
        collector,
        receiver.stats.snapshot(),
        receiver.url,
    )


# --- views of the decoded telemetry ----------------------------------------------------


def log_records(collector: Collector) -> List[Dict[str, Any]]:
    """Every decoded log record, in record time order (batches may interleave)."""
    records = [record for _, _, record in scoped(collector.batches, "logs")]
    return sorted(records, key=lambda r: r["time_unix_nano"])


def spans(collector: Collector) -> List[Dict[str, Any]]:
    return [span for _, _, span in scoped(collector.batches, "traces")]


def metric_names(collector: Collector) -> List[str]:
    return [
        metric["name"]
        for batch in collector.batches
        if batch.signal == "metrics"
        for resource in batch.request["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    ]


def resources(collector: Collector) -> List[Dict[str, Any]]:
    keys = {"logs": "resource_logs", "traces": "resource_spans", "metrics": "resource_metrics"}
    return [
        resource["resource"]["attributes"]
        for batch in collector.batches
        for resource in batch.request[keys[batch.signal]]
    ]


def events(records: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    return [r["attributes"] for r in records if r["attributes"].get("event.name") == name]


def tool_activity(records: List[Dict[str, Any]]) -> List[Tuple[Any, ...]]:
    """The tool_call and file_operation records as comparable tuples, in order."""
    view: List[Tuple[Any, ...]] = []
    for record in records:
        a = record["attributes"]
        if a.get("event.name") == "gemini_cli.tool_call":
            view.append(
                (
                    "tool_call",
                    a["function_name"],
                    json.loads(a["function_args"]),
                    a["success"],
                    a.get("decision"),
                    a.get("error_type"),
                    json.loads(a.get("metadata") or "{}"),
                )
            )
        elif a.get("event.name") == "gemini_cli.file_operation":
            view.append(
                ("file_operation", a["tool_name"], a["operation"], a.get("lines"), a.get("extension"))
            )
    return view


def expected_tool_activity(steps: List[gemini.Step]) -> List[Tuple[Any, ...]]:
    by_key = {step.key: step for step in steps}
    write_metadata = {
        "model_added_lines": 1,
        "model_removed_lines": 0,
        "model_added_chars": len(gemini.FILE_MARKER),
        "model_removed_chars": 0,
        "user_added_lines": 0,
        "user_removed_lines": 0,
        "user_added_chars": 0,
        "user_removed_chars": 0,
    }

    def call(
        key: str,
        success: bool = True,
        decision: Optional[str] = "accept",
        error_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> Tuple[Any, ...]:
        step = by_key[key]
        return ("tool_call", step.name, step.args, success, decision, error_type, metadata or {})

    return [
        call("shell"),
        ("file_operation", "write_file", "create", 1, ".txt"),
        call("write", metadata=write_metadata),
        ("file_operation", "read_file", "read", 1, ".txt"),
        call("read"),
        call("denied", success=False, decision=None, error_type="policy_violation"),
        # A non-zero exit is not a failed tool call for Gemini: only the metadata says so.
        call("failing", metadata={"exitCode": 2, "isError": True}),
        call("secret"),
    ]


# --- the test ----------------------------------------------------------------------------


def test_scripted_session(run: Run) -> None:
    process, server = run.process, run.server
    assert process.returncode == 0, process.stderr
    assert gemini.FINAL_TEXT in process.stdout
    assert "Tool execution denied by policy." in process.stderr

    # The fake API saw exactly the scripted turns, each one a valid request.
    assert server.errors == []
    assert server.turns == list(range(len(server.steps)))
    assert {(r.method, r.path) for r in server.requests} == {("POST", gemini.GENERATE_PATH)}
    assert len(server.requests) == len(server.turns)
    assert (run.workdir / gemini.FILE_NAME).read_text() == gemini.FILE_MARKER

    check_exports(run)
    records = log_records(run.collector)
    check_events(records)
    assert tool_activity(records) == expected_tool_activity(server.steps)
    check_denial(records)
    check_call_ids(run, records)
    check_secrets(run, records)
    check_resource(run, records)
    check_span_trees(run)
    check_span_content(run, records)
    if RECORD_FIXTURES:  # only a run that passed every check becomes the golden fixtures
        record_fixtures(run)


def check_exports(run: Run) -> None:
    """Every export arrived as OTLP/HTTP JSON with the token header, and got 200."""
    assert run.exports, "no OTLP export reached the receiver"
    assert {e.signal for e in run.exports} == {"logs", "traces", "metrics"}
    for export in run.exports:
        assert export.status == 200, export
        assert export.headers.get(TOKEN_HEADER) == TOKEN
        assert export.headers.get("content-type") == "application/json"
        assert export.headers.get("user-agent", "").startswith("OTel-OTLP-Exporter-JavaScript/")
        assert "content-encoding" not in export.headers
    statuses = {(r["signal"], r["content_type"], r["status"]) for r in run.stats["requests"]}
    assert statuses == {(s, "application/json", 200) for s in ("logs", "traces", "metrics")}
    assert run.stats["rejected"] == {} and run.stats["consumer_errors"] == 0
    assert run.stats["records"]["logs"] == sum(EXPECTED_EVENTS.values()) + len(optional_events(run.collector))
    assert sorted(s["name"] for s in spans(run.collector)) == sorted(
        ["llm_call"] * 7 + ["schedule_tool_calls"] * 6 + ["tool_call"] * len(TOOL_SPANS)
    )
    assert {
        "gemini_cli.tool.call.count",
        "gemini_cli.file.operation.count",
        "gemini_cli.token.usage",
        "gemini_cli.api.request.count",
    } <= set(metric_names(run.collector))


def optional_events(collector: Collector) -> List[str]:
    names = [r["attributes"].get("event.name") for r in log_records(collector)]
    return [n for n in names if n in OPTIONAL_EVENTS]


def check_events(records: List[Dict[str, Any]]) -> None:
    names = Counter(r["attributes"].get("event.name") for r in records)
    for name in OPTIONAL_EVENTS:
        assert names.pop(name, 0) <= 1
    assert names == EXPECTED_EVENTS
    prompt = events(records, "gemini_cli.user_prompt")[0]
    assert prompt["prompt"] == gemini.PROMPT and prompt["prompt_length"] == len(gemini.PROMPT)
    config = events(records, "gemini_cli.config")[0]
    assert config["approval_mode"] == "default" and config["model"] == gemini.MODEL
    assert config["log_user_prompts_enabled"] is True
    responses = events(records, "gemini_cli.api_response")
    assert [r["status_code"] for r in responses] == [200] * 7
    assert [r["input_token_count"] for r in responses] == [1000 + 100 * turn for turn in range(7)]


def check_denial(records: List[Dict[str, Any]]) -> None:
    """The policy denial: success false, no decision attribute value, the policy's own message."""
    denied = [a for a in events(records, "gemini_cli.tool_call") if a.get("error_type") == "policy_violation"]
    assert len(denied) == 1
    attributes = denied[0]
    assert "decision" in attributes and attributes["decision"] is None  # sent as an empty AnyValue
    message = f"Tool execution denied by policy. {gemini.DENY_MESSAGE}"
    assert attributes["error"] == attributes["error.message"] == message
    assert attributes["error.type"] == "policy_violation"
    assert json.loads(attributes["function_args"]) == {"command": gemini.DENIED_COMMAND}


def telemetry_call_id(step: gemini.Step) -> str:
    """The CLI keeps the model's functionCall.id as its call id, prefixed with `<tool>__`."""
    return f"{step.name}__{step.call_id}"


def check_call_ids(run: Run, records: List[Dict[str, Any]]) -> None:
    """Where the call ids are, since no log record carries one as an attribute.

    - every executed call has a tool_call span with gen_ai.tool.call_id;
    - a tool_call log record's span_id is the schedule_tool_calls span whose child is that
      tool_call span (the denied call's schedule span has no child: it never executed);
    - a file_operation record's span_id is the tool_call span itself;
    - the logged model responses (api_response response_text) carry every call's id.
    """
    by_args = {json.dumps(step.args, sort_keys=True): step for step in run.server.steps if step.name}
    all_spans = spans(run.collector)
    by_span_id = {span["span_id"]: span for span in all_spans}
    tool_spans = [span for span in all_spans if span["name"] == "tool_call"]
    assert sorted(span["attributes"]["gen_ai.tool.call_id"] for span in tool_spans) == sorted(
        telemetry_call_id(step) for step in run.server.steps if step.key in TOOL_SPANS
    )
    for attributes, span_id in [(r["attributes"], r["span_id"]) for r in records]:
        if attributes.get("event.name") == "gemini_cli.tool_call":
            step = by_args[json.dumps(json.loads(attributes["function_args"]), sort_keys=True)]
            assert by_span_id[span_id]["name"] == "schedule_tool_calls"
            children = [
                s["attributes"]["gen_ai.tool.call_id"] for s in tool_spans if s["parent_span_id"] == span_id
            ]
            assert children == ([] if step.key == "denied" else [telemetry_call_id(step)])
        elif attributes.get("event.name") == "gemini_cli.file_operation":
            span = by_span_id[span_id]
            assert span["name"] == "tool_call"
            assert span["attributes"]["gen_ai.tool.name"] == attributes["tool_name"]
    logged_calls = [
        first_part(a["response_text"]).get("functionCall") for a in events(records, "gemini_cli.api_response")
    ]
    assert [call["id"] if call else None for call in logged_calls] == [
        telemetry_call_id(step) if step.name else None for step in run.server.steps
    ]


def check_span_trees(run: Run) -> None:
    """Every llm_call and schedule_tool_calls span is a root of its own trace, TRACEPARENT or not."""
    all_spans = spans(run.collector)
    roots = [s for s in all_spans if s["parent_span_id"] == ""]
    assert sorted(s["name"] for s in roots) == sorted(["llm_call"] * 7 + ["schedule_tool_calls"] * 6)
    assert len({s["trace_id"] for s in roots}) == len(roots)
    assert TRACE_ID not in {s["trace_id"] for s in all_spans}
    assert {s["status"]["code"] for s in all_spans} == {STATUS_OK}


def check_span_content(run: Run, records: List[Dict[str, Any]]) -> None:
    """Usage, messages and tool outcomes are span attributes only with the traces switch; the
    request-details log records gain the messages with it too."""
    all_spans = spans(run.collector)
    content = ("gen_ai.input.messages", "gen_ai.output.messages")
    if not run.traces:
        assert not any(key in s["attributes"] for s in all_spans for key in content)
        assert not any("gen_ai.usage.input_tokens" in s["attributes"] for s in all_spans)
        return
    details = events(records, "gen_ai.client.inference.operation.details")
    assert sum("gen_ai.input.messages" in a for a in details) == 14
    steps = run.server.steps
    calls = sorted((s for s in all_spans if s["name"] == "llm_call"), key=lambda s: s["start_time_unix_nano"])
    assert [
        (s["attributes"]["gen_ai.usage.input_tokens"], s["attributes"]["gen_ai.usage.output_tokens"])
        for s in calls
    ] == [(1000 + 100 * turn, 10 + turn) for turn in range(len(steps))]
    assert [json.loads(s["attributes"]["gen_ai.output.messages"])[0]["parts"][0] for s in calls] == [
        telemetry_part(step) for step in steps
    ]
    outcomes = {}
    for span in all_spans:
        if span["name"] == "tool_call":
            outcome = json.loads(span["attributes"]["gen_ai.output.messages"])
            outcomes[outcome["request"]["callId"]] = outcome
    ran = [step for step in steps if step.name and step.key != "denied"]
    assert sorted(outcomes) == sorted(telemetry_call_id(step) for step in ran)
    for step in ran:
        outcome = outcomes[telemetry_call_id(step)]
        assert (outcome["status"], outcome["request"]["args"]) == ("success", step.args)
        assert isinstance(outcome["durationMs"], int) and outcome["durationMs"] >= 0
        exit_code = {"exitCode": 2, "isError": True} if step.key == "failing" else None
        assert outcome["response"].get("data") == exit_code
    check_denied_schedule(run, all_spans)


def telemetry_part(step: gemini.Step) -> Dict[str, Any]:
    """The model's answer as an llm_call span logs it: the call under its telemetry id, or text."""
    part = step.part()
    if "functionCall" in part:
        part["functionCall"]["id"] = telemetry_call_id(step)
    return part


def check_denied_schedule(run: Run, all_spans: List[Dict[str, Any]]) -> None:
    """The denied call: a schedule_tool_calls span whose outcome is the policy's refusal."""
    denied = next(step for step in run.server.steps if step.key == "denied")
    outcomes = [
        outcome
        for span in all_spans
        if span["name"] == "schedule_tool_calls"
        for outcome in json.loads(span["attributes"]["gen_ai.output.messages"])
        if outcome["request"]["callId"] == telemetry_call_id(denied)
    ]
    assert [(o["status"], o["request"]["args"]) for o in outcomes] == [("error", denied.args)]
    (part,) = outcomes[0]["response"]["responseParts"]
    assert part["functionResponse"]["response"] == {
        "error": f"Tool execution denied by policy. {gemini.DENY_MESSAGE}"
    }


def first_part(response_text: str) -> Dict[str, Any]:
    """The first part of the first candidate of a logged response (a JSON list of chunks)."""
    return json.loads(response_text)[0]["candidates"][0]["content"]["parts"][0]


def check_secrets(run: Run, records: List[Dict[str, Any]]) -> None:
    """The fake secrets reach the raw telemetry unredacted: the redaction tests need them there."""
    secret_call = [
        a
        for a in events(records, "gemini_cli.tool_call")
        if json.loads(a["function_args"]) == {"command": gemini.SECRET_COMMAND}
    ]
    assert len(secret_call) == 1
    raw_logs = b"".join(e.body for e in run.exports if e.signal == "logs")
    for secret in (gemini.GITHUB_TOKEN, gemini.BEARER):
        assert secret.encode() in raw_logs
    assert TOKEN.encode() not in b"".join(e.body for e in run.exports)


def check_resource(run: Run, records: List[Dict[str, Any]]) -> None:
    session_ids = {r["attributes"]["session.id"] for r in records}
    assert len(session_ids) == 1
    for attributes in resources(run.collector):
        assert attributes["service.name"] == "gemini-cli"
        assert attributes["service.version"].startswith("v")  # the Node version, not the CLI's
        assert attributes["session.id"] in session_ids
        assert attributes["beacon.capture.id"] == "gemini-e2e"  # OTEL_RESOURCE_ATTRIBUTES is honoured
        assert attributes["process.command_args"][-1] == gemini.PROMPT  # the prompt leaks via argv


# --- golden fixtures ---------------------------------------------------------------------


def record_fixtures(run: Run) -> None:
    """Rewrite tests/fixtures/gemini (or gemini-traces) from this run: raw bodies in arrival
    order, and session.json."""
    directory = TRACES_FIXTURE_DIR if run.traces else FIXTURE_DIR
    files, over_limit = save_bodies(directory, run.exports, "json", MAX_FIXTURE_BYTES)
    skipped = [dict(entry, reason=f"larger than {MAX_FIXTURE_BYTES} bytes") for entry in over_limit]
    document = session_document(run, files, skipped)
    (directory / "session.json").write_text(json.dumps(document, indent=2) + "\n")


def session_document(run: Run, files: List[Dict[str, Any]], skipped: List[Dict[str, Any]]) -> Dict[str, Any]:
    placeholder = "<workdir>"
    steps = []
    for step in run.server.steps:
        args = json.loads(json.dumps(step.args).replace(str(run.workdir), placeholder))
        steps.append(
            {
                "name": step.key,
                "tool": step.name,
                "call_id": step.call_id if step.name else None,
                "telemetry_call_id": telemetry_call_id(step) if step.name else None,
                "input": args,
                "fails": step.key in ("denied", "failing"),
                "denied": step.key == "denied",
            }
        )
    telemetry_env = {
        k: v for k, v in run.env.items() if k.startswith(("GEMINI_TELEMETRY_", "OTEL_", "TRACEPARENT"))
    }
    telemetry_env["GEMINI_TELEMETRY_OTLP_ENDPOINT"] = "<receiver-url>"
    telemetry_env["OTEL_EXPORTER_OTLP_HEADERS"] = f"{TOKEN_HEADER}=<token>"
    return {
        "cli": gemini.NAME,
        "package": gemini.PACKAGE,
        "version": gemini.VERSION,
        "model": gemini.MODEL,
        "command": ["gemini", *gemini.command(executable=Path("gemini"))[1:]],
        "prompt": gemini.PROMPT,
        "workdir_placeholder": placeholder,
        "settings": gemini.SETTINGS,
        "policy": gemini.POLICY,
        "system_prompt": gemini.SYSTEM_PROMPT,
        "steps": steps,
        "final_text": gemini.FINAL_TEXT,
        "runs": [
            {
                "protocol": run.protocol,
                "workdir": str(run.workdir),
                "home": str(run.home),
                "otlp_endpoint": run.receiver_url,
                "session_id": log_records(run.collector)[0]["attributes"]["session.id"],
                "exit_code": run.process.returncode,
                "wall_seconds": round(run.wall_seconds, 2),
                "agent_env": {
                    k: v.replace(str(run.home), "<home>")
                    for k, v in run.env.items()
                    if k.startswith(("GEMINI_API_KEY", "GEMINI_SYSTEM_MD"))
                },
                "telemetry_env": telemetry_env,
                "files": files,
                "skipped": skipped,
            }
        ],
    }


def test_fake_api_is_strict(tmp_path: Path) -> None:
    """The fake API answers a well-formed first turn and records violations instead of playing along."""
    workdir = tmp_path.resolve()
    first_turn = {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": f"Workspace Directories:\n  - {workdir}"}, {"text": gemini.PROMPT}],
            }
        ],
        "systemInstruction": {"parts": [{"text": "system"}]},
        "tools": [{"functionDeclarations": [{"name": name} for name in gemini.TOOLS_USED]}],
    }
    unscripted_call = {"id": "other", "name": "read_file", "args": {}}
    unscripted_result = {"id": "other", "name": "read_file", "response": {}}
    wrong_history = dict(
        first_turn,
        contents=first_turn["contents"]
        + [
            {"role": "model", "parts": [{"functionCall": unscripted_call}]},
            {"role": "user", "parts": [{"functionResponse": unscripted_result}]},
        ],
    )
    key = {"x-goog-api-key": gemini.API_KEY}
    server = gemini.scripted_server(workdir)
    with server:
        status, body = post(server.url, gemini.GENERATE_PATH, first_turn, key)
        assert status == 200 and body.startswith(b"data: ")
        first = json.loads(body[len(b"data: ") :])
        assert first["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "run_shell_command"
        assert server.errors == []
        assert post(server.url, gemini.GENERATE_PATH, first_turn, {"x-goog-api-key": "wrong"})[0] == 400
        assert post(server.url, gemini.GENERATE_PATH.replace("?alt=sse", ""), first_turn, key)[0] == 400
        assert post(server.url, gemini.GENERATE_PATH, wrong_history, key)[0] == 400
        assert post(server.url, "/v1beta/models", first_turn, key, method="GET")[0] == 404
    assert len(server.errors) == 4
    assert server.turns == [0]


def post(
    url: str, path: str, document: Dict[str, Any], headers: Dict[str, str], method: str = "POST"
) -> Tuple[int, bytes]:
    connection = http.client.HTTPConnection(url.split("//", 1)[1], timeout=10)
    try:
        connection.request(
            method, path, json.dumps(document).encode(), dict(headers, **{"Content-Type": "application/json"})
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
