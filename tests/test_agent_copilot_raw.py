"""The real GitHub Copilot CLI through the scripted session, its raw OTLP export checked exactly.

Copilot (tests/agents/copilot.py) runs `copilot -p` offline against the scripted fake Messages
API, with telemetry configured the way beacon will configure it (`copilot.telemetry_env`) and
a W3C TRACEPARENT (and COPILOT_TRACEPARENT) in its environment, pointed at a
beacon_otlp.Receiver. Runs: http/json and http/protobuf, and one with
OTEL_EXPORTER_OTLP_CERTIFICATE set. Everything the receiver decoded is checked against the
script. What Copilot CLI 1.0.102 sends, as these checks prove it:

- No logs at all: one POST /v1/traces and one POST /v1/metrics, both at exit (in either
  order), resource `service.name=github-copilot`, `service.version=1.0.102`,
  `service.instance.id`, plus OTEL_RESOURCE_ATTRIBUTES; scope `github.copilot`.
- One trace of its own per run: TRACEPARENT and COPILOT_TRACEPARENT are ignored in -p mode
  (the root span has no parent and another trace id), so beacon must stamp the capture's
  trace id on Copilot's events itself.
- `invoke_agent` (the root, kind INTERNAL): `gen_ai.conversation.id` (the session id),
  `gen_ai.usage.input_tokens` / `output_tokens` (the run's sums), `github.copilot.turn_count`,
  `gen_ai.response.finish_reasons`; with content capture `gen_ai.input.messages` (the prompt)
  and `gen_ai.output.messages` (the final answer).
- `chat <model>` (kind CLIENT), one per model call, a child of invoke_agent:
  `gen_ai.request.model`, `gen_ai.response.id` (the API's message id), `gen_ai.usage.*`,
  `github.copilot.cost` (0 for a bring-your-own provider), `github.copilot.server_duration`
  (ms), `github.copilot.turn_id` (0, 1, ...), `github.copilot.initiator` (`user` for the first
  call, `agent` after); with content capture `gen_ai.output.messages` holds the tool call
  asked for (id, name, arguments) and `gen_ai.input.messages` the tool result sent back.
- `execute_tool <tool>` (kind INTERNAL), one per tool call, a child of invoke_agent (not of
  the chat span that asked for it): `gen_ai.tool.name`, `gen_ai.tool.call.id` (the model's
  tool_use id: the only link to the chat span's messages); a shell command that ran is named
  `execute_tool bash bash` (the executable appended) and has `process.executable.name`,
  `process.executable.path`, `process.exit.code`; with content capture
  `gen_ai.tool.call.arguments` (JSON), `gen_ai.tool.call.result`, and
  `github.copilot.tool.parameters.command` (bash) or `github.copilot.tool.parameters.file_path`
  (create, view). Its duration is the span's own (millisecond resolution). A command that
  exits non-zero: status UNSET and `process.exit.code` 2. The denied call: `execute_tool
  bash`, status ERROR with the refusal as message, `error.type=denied`, no `process.*` and no
  result, and a span event `gen_ai.client.operation.exception`.
- Metrics, CUMULATIVE: token counters, tool calls by (tool, success), lines added,
  histograms of durations; `github.copilot.tool.call.count` counts the denied call as
  `success=false` and the failing command as `success=true`.
- With OTEL_EXPORTER_OTLP_CERTIFICATE set, Copilot exports nothing to an http:// endpoint
  and says so only in its process log (~/.copilot/logs); the run itself succeeds.

Run it with only loopback networking, as tools/test.sh does:

    unshare -rn sh -c 'ip link set lo up &&
        exec .venv/default/bin/python -m pytest -q tests/test_agent_copilot_raw.py'

Golden fixtures: with BEACON_RECORD_FIXTURES=1 in the environment of that command, the
http/json and http/protobuf runs also save the raw OTLP request bodies, byte for byte as
Copilot sent them, to tests/fixtures/copilot/`<nn>-<signal>.<json|pb>` in arrival order, and
describe the runs in tests/fixtures/copilot/session.json (CLI version, protocol, workdir,
session id, files, steps).
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest
from agents import (
    FIXTURES,
    RECORD_FIXTURES,
    RawExport,
    copilot,
    drain,
    install_or_skip,
    run_in_group,
    save_bodies,
    session_dirs,
    update_session_index,
)
from agents._anthropic import USAGE_IN, USAGE_OUT, Step, message_id
from agents.claude import SECRET_BEARER, SECRET_TOKEN
from conftest import TOKEN, Collector, scoped

from beacon_otlp import JSON, PROTOBUF, TOKEN_HEADER, Receiver

pytestmark = pytest.mark.agents

FIXTURE_DIR = FIXTURES / copilot.NAME
RUN_TIMEOUT = 120.0  # a healthy run takes about one second
CONTENT_TYPES = {"http/json": JSON, "http/protobuf": PROTOBUF}
EXTENSIONS = {"http/json": "json", "http/protobuf": "pb"}
RESOURCE = {"beacon.capture.id": "copilot-e2e"}  # run metadata, as beacon will add it
TRACE_ID, PARENT_SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
SCOPE = {"name": "github.copilot", "version": copilot.VERSION}
CUMULATIVE = 2  # AggregationTemporality.CUMULATIVE: every Copilot metric
KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_UNSET, STATUS_ERROR = 0, 2
DENIAL = f"Permission to run this tool was denied due to the following rules: `{copilot.DENY_RULE}`"
# What the bash tool answers the model: the output, then the shell id and exit code.
SHELL_RESULT = re.compile(r"(.*)<shellId: \d+ completed with exit code (\d+)>\Z", re.DOTALL)
METRICS = {
    "gen_ai.client.operation.duration",
    "gen_ai.client.inference.duration",
    "gen_ai.client.inference.operation.input_tokens",
    "gen_ai.client.inference.operation.output_tokens",
    "gen_ai.client.inference.usage.input_tokens",
    "gen_ai.client.inference.usage.output_tokens",
    "gen_ai.client.inference.usage.cache_read.input_tokens",
    "gen_ai.client.inference.usage.cache_write.input_tokens",
    "gen_ai.client.inference.usage.reasoning.output_tokens",
    "gen_ai.client.inference.time_to_first_chunk",
    "gen_ai.client.inference.time_per_output_chunk",
    "gen_ai.invoke_agent.duration",
    "gen_ai.invoke_agent.inference_calls",
    "gen_ai.invoke_agent.tool_calls",
    "gen_ai.execute_tool.duration",
    "github.copilot.tool.call.count",
    "github.copilot.tool.call.duration",
    "github.copilot.agent.turn.count",
    "github.copilot.sandbox.operation.count",
    "github.copilot.code.lines_added",
}


class Run(NamedTuple):
    """One finished CLI run and everything observed around it."""

    returncode: int
    output: List[Dict[str, Any]]  # the `--output-format json` lines
    stderr: str
    wall_seconds: float
    server: copilot.ScriptedServer
    home: Path
    workdir: Path
    batches: List[Any]
    stats: Dict[str, Any]
    bodies: List[RawExport]  # the raw export bodies, as sent


@pytest.fixture(scope="module")
def copilot_executable() -> Path:
    return install_or_skip(copilot)


def run_session(
    tmp_path: Path,
    executable: Path,
    receiver: Receiver,
    collector: Collector,
    protocol: str,
    bodies: List[RawExport],
    extra_env: Optional[Dict[str, str]] = None,
) -> Run:
    """Run `copilot -p` once through the scripted session; stop the receiver once drained."""
    home, workdir = session_dirs(tmp_path)
    (workdir / copilot.DENIED_DIR).mkdir()  # the denied `rm -rf` must leave it alone
    server = copilot.scripted_server(workdir)
    with server:
        env = copilot.agent_env(home, workdir, server.url)
        env.update(copilot.telemetry_env(receiver.url, TOKEN, protocol, resource_attributes=RESOURCE))
        env.update({"TRACEPARENT": TRACEPARENT, "COPILOT_TRACEPARENT": TRACEPARENT})
        env.update(extra_env or {})
        started = time.monotonic()
        returncode, stdout, stderr = run_in_group(
            copilot.command(executable=executable), workdir, env, RUN_TIMEOUT
        )
        wall = time.monotonic() - started
    drain(receiver, quiet=0.3)
    output = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return Run(
        returncode,
        output,
        stderr,
        wall,
        server,
        home,
        workdir,
        list(collector.batches),
        receiver.stats.snapshot(),
        list(bodies),
    )


# --- reading the decoded exports ----------------------------------------------------------


def spans(run: Run) -> List[Dict[str, Any]]:
    return [span for _, _, span in scoped(run.batches, "traces")]


def session_id(run: Run) -> str:
    """The session id from the CLI's `result` line (the last one of its JSON output)."""
    result = run.output[-1]
    assert result["type"] == "result", result
    return str(result["sessionId"])


def tool_spans(run: Run) -> Dict[str, Dict[str, Any]]:
    """The execute_tool spans by gen_ai.tool.call.id."""
    return {
        s["attributes"]["gen_ai.tool.call.id"]: s
        for s in spans(run)
        if s["attributes"]["gen_ai.operation.name"] == "execute_tool"
    }


def chat_spans(run: Run) -> List[Dict[str, Any]]:
    """The chat spans in turn order (github.copilot.turn_id)."""
    chats = [s for s in spans(run) if s["attributes"]["gen_ai.operation.name"] == "chat"]
    return sorted(chats, key=lambda s: int(s["attributes"]["github.copilot.turn_id"]))


def metric_points(run: Run, name: str) -> List[Dict[str, Any]]:
    return [
        point
        for _, _, metric in scoped(run.batches, "metrics")
        if metric["name"] == name
        for kind in ("sum", "histogram")
        if metric.get(kind)
        for point in metric[kind]["data_points"]
    ]


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", copilot.PROTOCOLS, ids=["json", "protobuf"])
def test_scripted_session(
    tmp_path: Path,
    copilot_executable: Path,
    make_receiver: Any,
    collector: Collector,
    raw_exports: List[RawExport],
    protocol: str,
) -> None:
    run = run_session(tmp_path, copilot_executable, make_receiver(), collector, protocol, raw_exports)
    steps = run.server.steps()

    check_cli_result(run)
    check_model_server(run, steps)
    check_effects(run)
    check_exports(run, CONTENT_TYPES[protocol])
    check_span_tree(run, steps)
    check_chat_spans(run, steps)
    check_tool_spans(run, steps)
    check_secrets_present(run)
    check_metrics(run, steps)
    if RECORD_FIXTURES:  # only a run that passed every check becomes the golden fixtures
        record_fixtures(run, protocol, steps)


def test_tls_material_stops_the_export_over_http(
    tmp_path: Path,
    copilot_executable: Path,
    make_receiver: Any,
    collector: Collector,
    raw_exports: List[RawExport],
) -> None:
    """A CA file in OTEL_EXPORTER_OTLP_CERTIFICATE: the run succeeds and nothing is exported."""
    certificate = tmp_path / "ca.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    extra = {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(certificate)}
    receiver = make_receiver()
    run = run_session(tmp_path, copilot_executable, receiver, collector, "http/json", raw_exports, extra)

    check_cli_result(run)
    check_model_server(run, run.server.steps())
    assert run.stats["requests"] == [] and run.bodies == []
    logged = "".join(p.read_text() for p in (run.home / ".copilot" / "logs").glob("process-*.log"))
    assert "OTel policy build failed closed" in logged
    assert "is not https" in logged


def check_cli_result(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.output[-1]["exitCode"] == 0
    answers = [e["data"]["content"] for e in run.output if e["type"] == "assistant.message"]
    assert answers[-1] == copilot.FINAL_TEXT


def check_model_server(run: Run, steps: List[Step]) -> None:
    server = run.server
    assert server.errors == []
    assert server.turns == list(range(len(steps)))  # each step answered exactly once, in order
    assert server.side_requests == []
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/messages")] * len(steps)
    assert server.workdir == str(run.workdir.resolve())
    results = server.tool_results
    assert set(results) == {s.call_id for s in steps if s.tool}
    assert not any(result.is_error for result in results.values())  # failures show only in the text
    by_name = {s.name: results[s.call_id].text for s in steps if s.tool}
    path = f"{server.workdir}/{copilot.FILE_NAME}"
    assert shell_result(by_name["shell"]) == ("BEACON_E2E_MARKER\n", 0)
    assert by_name["write"] == f"Created file {path} with {len(copilot.FILE_CONTENT)} characters"
    assert by_name["read"] == copilot.FILE_CONTENT
    assert by_name["denied"] == DENIAL
    assert shell_result(by_name["failing"]) == (
        "ls: cannot access '/nonexistent-beacon-dir': No such file or directory\n",
        2,
    )
    # Copilot masks the bearer token in a command's output (not in its arguments).
    assert shell_result(by_name["secret"]) == (f"Authorization: ****** {SECRET_TOKEN}\n", 0)


def shell_result(text: str) -> Tuple[str, int]:
    """(output, exit code) of a bash tool result."""
    match = SHELL_RESULT.fullmatch(text)
    assert match, text
    return match.group(1), int(match.group(2))


def check_effects(run: Run) -> None:
    assert (run.workdir / copilot.FILE_NAME).read_text() == copilot.FILE_CONTENT
    assert (run.workdir / copilot.DENIED_DIR).is_dir(), "the denied rm -rf ran"


def check_exports(run: Run, content_type: str) -> None:
    """One traces and one metrics request, 200, in the configured encoding, with the token."""
    assert run.stats["rejected"] == {} and run.stats["consumer_errors"] == 0
    assert Counter((r["signal"], r["content_type"], r["status"]) for r in run.stats["requests"]) == Counter(
        {("traces", content_type, 200): 1, ("metrics", content_type, 200): 1}
    )
    for export in run.bodies:  # the Rust exporter of the native runtime: no gzip, no chunking
        assert export.headers.get(TOKEN_HEADER) == TOKEN
        assert export.headers["user-agent"].startswith("OTel-OTLP-Exporter-Rust/")
        assert export.headers["content-length"] == str(len(export.body))
        assert "content-encoding" not in export.headers
    for signal_name in ("traces", "metrics"):
        for resource, scope, _ in scoped(run.batches, signal_name):
            attributes = dict(resource["attributes"])
            assert attributes.pop("service.instance.id").startswith("copilot-otel-")
            assert attributes == {
                "service.name": "github-copilot",
                "service.version": copilot.VERSION,
                **RESOURCE,
            }
            assert (scope["name"], scope["version"]) == (SCOPE["name"], SCOPE["version"])


def check_span_tree(run: Run, steps: List[Step]) -> None:
    """One root invoke_agent; every chat and execute_tool span is its child; TRACEPARENT ignored."""
    all_spans = spans(run)
    names = Counter(s["name"] for s in all_spans)
    assert names == Counter(
        {
            "invoke_agent": 1,
            f"chat {copilot.MODEL}": len(steps),
            "execute_tool bash bash": 3,  # the shell commands that ran
            "execute_tool bash": 1,  # the denied one
            "execute_tool create": 1,
            "execute_tool view": 1,
        }
    )
    (root,) = [s for s in all_spans if s["name"] == "invoke_agent"]
    assert root["parent_span_id"] == "" and root["kind"] == KIND_INTERNAL
    assert {s["trace_id"] for s in all_spans} == {root["trace_id"]}
    assert root["trace_id"] != TRACE_ID  # TRACEPARENT / COPILOT_TRACEPARENT are ignored
    assert all(s["parent_span_id"] == root["span_id"] for s in all_spans if s is not root)
    assert {s["attributes"]["gen_ai.conversation.id"] for s in all_spans} == {session_id(run)}

    attributes = root["attributes"]
    assert attributes["gen_ai.usage.input_tokens"] == len(steps) * USAGE_IN
    assert attributes["gen_ai.usage.output_tokens"] == len(steps) * USAGE_OUT
    assert attributes["github.copilot.turn_count"] == len(steps)
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    (prompt,) = json.loads(attributes["gen_ai.input.messages"])
    assert prompt["role"] == "user" and prompt["parts"][0]["content"].endswith(f"\n\n{copilot.PROMPT}")
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": copilot.FINAL_TEXT}]}
    ]
    assert root["status"]["code"] == STATUS_UNSET


def check_chat_spans(run: Run, steps: List[Step]) -> None:
    """A chat span per model call: ids, usage, cost, the tool call it asked for."""
    chats = chat_spans(run)
    assert [s["attributes"]["gen_ai.response.id"] for s in chats] == [
        message_id(n) for n in range(1, len(steps) + 1)
    ]
    for turn, (span, step) in enumerate(zip(chats, steps)):
        a = span["attributes"]
        assert span["kind"] == KIND_CLIENT and span["status"]["code"] == STATUS_UNSET
        assert (a["gen_ai.request.model"], a["gen_ai.response.model"], a["gen_ai.provider.name"]) == (
            copilot.MODEL,
            copilot.MODEL,
            "anthropic",
        )
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (USAGE_IN, USAGE_OUT)
        assert a["github.copilot.cost"] == 0.0  # a bring-your-own provider costs Copilot nothing
        assert a["github.copilot.initiator"] == ("user" if turn == 0 else "agent")
        assert a["gen_ai.response.finish_reasons"] == (["stop"] if step.tool is None else ["tool_calls"])
        (output,) = json.loads(a["gen_ai.output.messages"])
        if step.tool is not None:
            assert output["parts"] == [
                {"type": "tool_call", "id": step.call_id, "name": step.tool, "arguments": step.input}
            ]


def check_tool_spans(run: Run, steps: List[Step]) -> None:
    """An execute_tool span per call, between the chat span that asked for it and the next one."""
    tools = tool_spans(run)
    calls = [s for s in steps if s.tool]
    assert set(tools) == {s.call_id for s in calls}
    chats = chat_spans(run)
    for turn, step in enumerate(calls):
        span = tools[step.call_id]
        assert chats[turn]["end_time_unix_nano"] <= span["start_time_unix_nano"]
        assert span["end_time_unix_nano"] <= chats[turn + 1]["start_time_unix_nano"]
        assert span["kind"] == KIND_INTERNAL
        a = span["attributes"]
        assert (a["gen_ai.tool.name"], a["gen_ai.tool.type"]) == (step.tool, "function")
        assert json.loads(a["gen_ai.tool.call.arguments"]) == step.input
        assert a.get("github.copilot.tool.parameters.command") == step.input.get("command")
        assert a.get("github.copilot.tool.parameters.file_path") == step.input.get("path")
        assert run.server.tool_results[step.call_id].text == a.get("gen_ai.tool.call.result", DENIAL)
        if step.denied:
            check_denied_span(span)
        elif step.tool == "bash":
            assert span["name"] == "execute_tool bash bash" and span["status"]["code"] == STATUS_UNSET
            assert (a["process.executable.name"], a["process.executable.path"]) == ("bash", "/bin/bash")
            assert a["process.exit.code"] == (2 if step.fails else 0)
        else:
            assert span["name"] == f"execute_tool {step.tool}" and span["status"]["code"] == STATUS_UNSET
            assert not any(key.startswith("process.") for key in a)


def check_denied_span(span: Dict[str, Any]) -> None:
    """The refused call: a span that says so, with nothing of an execution."""
    a = span["attributes"]
    assert span["name"] == "execute_tool bash"
    assert span["status"] == {"code": STATUS_ERROR, "message": DENIAL}
    assert a["error.type"] == "denied"
    assert "gen_ai.tool.call.result" not in a and not any(key.startswith("process.") for key in a)
    assert [(e["name"], e["attributes"]) for e in span["events"]] == [
        (
            "gen_ai.client.operation.exception",
            {
                "github.copilot.error_code": "denied",
                "exception.type": "ToolError",
                "exception.message": DENIAL,
            },
        )
    ]


def check_secrets_present(run: Run) -> None:
    """The planted secrets reach the raw spans unredacted (beacon's redaction must remove them).

    Both are in the secret call's arguments and command, and in the chat span that asked for
    it; only the GitHub token is in the output (Copilot masked the bearer token there).
    """
    secret = next(s for s in run.server.steps() if s.name == "secret")
    label = {s.call_id: s.name for s in run.server.steps() if s.tool}

    def carriers(*secrets: str) -> List[Tuple[str, str]]:
        found = []
        for span in spans(run):
            a = span["attributes"]
            where = label.get(a.get("gen_ai.tool.call.id"), f"turn {a.get('github.copilot.turn_id')}")
            for key, value in sorted(a.items()):
                if isinstance(value, str) and all(s in value for s in secrets):
                    found.append((where, key))
        return sorted(found)

    assert carriers(SECRET_TOKEN, SECRET_BEARER) == [
        ("secret", "gen_ai.tool.call.arguments"),
        ("secret", "github.copilot.tool.parameters.command"),
        (f"turn {secret_turn(run, secret)}", "gen_ai.output.messages"),
    ]
    assert carriers(SECRET_TOKEN) == sorted(
        [
            *carriers(SECRET_TOKEN, SECRET_BEARER),
            ("secret", "gen_ai.tool.call.result"),
            (f"turn {secret_turn(run, secret) + 1}", "gen_ai.input.messages"),
        ]
    )
    metrics_text = json.dumps([m for _, _, m in scoped(run.batches, "metrics")], default=repr)
    assert SECRET_TOKEN not in metrics_text and SECRET_BEARER not in metrics_text


def secret_turn(run: Run, step: Step) -> int:
    """The github.copilot.turn_id of the chat span that asked for `step`."""
    return [s.name for s in run.server.steps()].index(step.name)


def check_metrics(run: Run, steps: List[Step]) -> None:
    names = {metric["name"] for _, _, metric in scoped(run.batches, "metrics")}
    assert names == METRICS
    for _, _, metric in scoped(run.batches, "metrics"):
        for kind in ("sum", "histogram"):
            if metric.get(kind):
                assert metric[kind]["aggregation_temporality"] == CUMULATIVE, metric["name"]

    def total(name: str) -> float:
        points = metric_points(run, name)
        return sum(p.get("as_int") or p.get("as_double") or p.get("sum") or 0 for p in points)

    assert total("gen_ai.client.inference.usage.input_tokens") == len(steps) * USAGE_IN
    assert total("gen_ai.client.inference.usage.output_tokens") == len(steps) * USAGE_OUT
    assert total("gen_ai.invoke_agent.inference_calls") == len(steps)
    assert total("gen_ai.invoke_agent.tool_calls") == len(steps) - 1
    assert total("github.copilot.code.lines_added") == 1
    calls = {
        (p["attributes"]["gen_ai.tool.name"], p["attributes"]["success"]): p["as_int"]
        for p in metric_points(run, "github.copilot.tool.call.count")
    }
    assert calls == {("bash", True): 3, ("bash", False): 1, ("create", True): 1, ("view", True): 1}


# --- golden fixtures ------------------------------------------------------------------------


def record_fixtures(run: Run, protocol: str, steps: List[Step]) -> None:
    """Save this run's raw export bodies and describe the run in session.json."""
    files, _ = save_bodies(FIXTURE_DIR, run.bodies, EXTENSIONS[protocol])
    workdir = run.server.workdir or ""
    update_session_index(
        FIXTURE_DIR,
        {
            "cli": copilot.NAME,
            "package": copilot.PACKAGE,
            "version": copilot.VERSION,
            "model": copilot.MODEL,
            "command": ["copilot", *copilot.command(executable=Path("copilot"))[1:]],
            "prompt": copilot.PROMPT,
            "workdir_placeholder": "<workdir>",
            "steps": [
                {
                    "name": s.name,
                    "tool": s.tool,
                    "call_id": s.call_id or None,
                    "input": json.loads(json.dumps(s.input).replace(workdir, "<workdir>")),
                    "fails": s.fails,
                    "denied": s.denied,
                }
                for s in steps
            ],
            "final_text": copilot.FINAL_TEXT,
            "traceparent": TRACEPARENT,
            "traceparent_honoured": False,
        },
        {
            "protocol": protocol,
            "workdir": workdir,
            "session_id": session_id(run),
            "exit_code": run.returncode,
            "wall_seconds": round(run.wall_seconds, 2),
            "telemetry_env": copilot.telemetry_env(
                "<receiver-url>", "<token>", protocol, resource_attributes=RESOURCE
            ),
            "files": files,
        },
    )


def test_fake_api_is_strict(tmp_path: Path) -> None:
    """The fake API answers a valid first request with the first step, and refuses (recording
    why) a request the real API would refuse, or one the script's next call does not fit."""
    workdir = tmp_path.resolve()
    step = copilot.steps(str(workdir))[0]
    called = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": step.call_id, "name": "bash", "input": step.input}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": step.call_id, "content": "ok"}]},
    ]
    valid = first_request(workdir)
    thinking_without_its_block = dict(
        valid, thinking={"type": "enabled", "budget_tokens": 1024}, messages=valid["messages"] + called
    )
    bash_without_description = dict(
        valid, tools=[{"name": "bash", "input_schema": {"properties": {"command": {}}}}, *valid["tools"][1:]]
    )
    without_edit = dict(valid, tools=valid["tools"][:-1])
    server = copilot.scripted_server(workdir)
    with server:
        status, body = post(server.url, valid)
        assert status == 200 and f'"id": "{step.call_id}"'.encode() in body
        assert server.errors == []
        for invalid in (thinking_without_its_block, bash_without_description, without_edit):
            assert post(server.url, invalid)[0] == 400
    assert len(server.errors) == 3
    assert server.turns == [0]


def first_request(workdir: Path) -> Dict[str, Any]:
    """A valid first request of the agent loop: Copilot's, cut down to what the API checks."""
    schema: Dict[str, Any] = {"properties": {"command": {}, "description": {}, "path": {}, "file_text": {}}}
    return {
        "model": copilot.MODEL,
        "max_tokens": 32000,
        "stream": True,
        "system": [{"type": "text", "text": f"* Current working directory: {workdir}\n"}],
        "tools": [{"name": name, "input_schema": schema} for name in copilot.TOOLS_OFFERED],
        "messages": [{"role": "user", "content": [{"type": "text", "text": copilot.PROMPT}]}],
    }


def post(url: str, document: Dict[str, Any]) -> Tuple[int, bytes]:
    headers = {
        "x-api-key": copilot.API_KEY,
        "anthropic-version": "2023-06-01",
        "Content-Type": "application/json",
    }
    connection = http.client.HTTPConnection(url.split("//", 1)[1], timeout=10)
    try:
        connection.request("POST", "/v1/messages", json.dumps(document).encode(), headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
