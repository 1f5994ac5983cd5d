"""Claude Code (npm `@anthropic-ai/claude-code`) driven offline through the scripted session.

`claude -p` talks to a strict fake Anthropic Messages API on loopback (`HEAD /` probe, then
`POST /v1/messages?beta=true` with `stream: true`, answered as SSE). Every answer is the next
step of the scripted session, chosen by counting the tool results already in the
conversation (so retries and side requests never skip a step):

1. Bash  `echo BEACON_E2E_MARKER`
2. Write `<workdir>/beacon_e2e.txt` = `BEACON_FILE_MARKER` (absolute path: Claude's Write tool
   needs one; the workdir is read from the system prompt's "Primary working directory:" line)
3. Read  the same file
4. Bash  `rm -rf <workdir>/beacon_denied`: refused by the CLI itself, because the command line
   carries the deny rule `--disallowedTools "Bash(rm:*)"` (deny rules beat the `Bash` allow
   rule); Claude answers the model with an error tool result, logs `tool_decision` with
   `decision=reject`, `source=config`, and logs no `tool_result` for that call
5. Bash  `ls /nonexistent-beacon-dir` (exit code 2)
6. Bash  `echo 'Authorization: Bearer sk-ant-api03-…' ghp_…` (secrets in the arguments)
7. only when the session is given an environment secret (a value that matches no secret
   format, so only redacting the values of secret-looking variables can catch it):
   Bash `echo <value> | wc -c`
8. a final text answer.

`refusing_server` is the other API a run can meet: one that answers every message request
with a non-retryable 400 error, as the real API words it, so the CLI fails at once.

Telemetry is not part of `agent_env`: beacon adds it. `telemetry_env` sets it the way
ARCHITECTURE.md ("Capture session", step 3) says beacon will.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from . import FakeModelServer, RecordedRequest, base_env, npm_install, send_json, send_sse

NAME = "claude"
PACKAGE = "@anthropic-ai/claude-code"
VERSION = "2.1.197"  # the version measured in shared/reference/agents/claude-code.md
API_KEY = "sk-ant-api03-beacon-e2e-dummy-key"  # any string works; Claude sends it as x-api-key
PROMPT = "Run the beacon end-to-end session."

MARKER_COMMAND = "echo BEACON_E2E_MARKER"
FILE_NAME = "beacon_e2e.txt"
FILE_CONTENT = "BEACON_FILE_MARKER"
DENY_RULE = "Bash(rm:*)"
DENIED_DIR = "beacon_denied"
FAILING_COMMAND = "ls /nonexistent-beacon-dir"
# The fake GitHub token as the shared scenario spells it: 37 characters after `ghp_`
# (real classic tokens have 36), so a `ghp_[A-Za-z0-9]{36}` pattern must not stop short.
SECRET_TOKEN = "ghp_BEACONe2eSECRET0123456789abcdefABCDEF"
SECRET_BEARER = "sk-ant-api03-BEACONe2eFAKEKEY0123456789"
SECRET_COMMAND = f"echo 'Authorization: Bearer {SECRET_BEARER}' {SECRET_TOKEN}"
# An environment variable whose name looks secret; its value is the session's environment secret.
ENV_SECRET_NAME = "BEACON_E2E_DEPLOY_TOKEN"
FINAL_TEXT = "BEACON_E2E_DONE: all scripted steps ran."
# What the API answers a request over the context window: an error Claude does not retry.
PROMPT_TOO_LONG = "prompt is too long: 215000 tokens > 200000 maximum"
ERROR_REQUEST_ID = "req_01BEACONe2eREFUSED00000"
TOOLS = "Bash,Write,Read"

# Usage reported for every answer; Claude computes cost_usd from it locally.
USAGE_IN, USAGE_OUT = 120, 25
WORKDIR_LINE = re.compile(r"Primary working directory: *(\S[^\n]*)")


def install() -> Path:
    """The `claude` executable, installed once into the shared cache (native binary, ~235 MB)."""
    return npm_install(NAME, PACKAGE, VERSION) / "claude"


def agent_env(home: Path, workdir: Path, api_url: str) -> Dict[str, str]:
    """Claude against the fake API with every non-essential request switched off, no telemetry.

    `workdir` is where the CLI runs (its cwd); Claude finds it itself, nothing to set.
    """
    del workdir
    tmp = home / "tmp"
    return base_env(
        home,
        {
            "ANTHROPIC_BASE_URL": api_url,
            "ANTHROPIC_API_KEY": API_KEY,
            "CLAUDE_CODE_TMPDIR": str(tmp),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no DNS or HTTP to Anthropic's hosts
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_TELEMETRY": "1",  # Anthropic's own analytics only; OTel export is unaffected
        },
    )


def command(prompt: str = PROMPT, executable: Optional[Path] = None) -> List[str]:
    """`claude -p` with the scripted session's permissions: Bash/Write/Read allowed, `rm` denied."""
    return [
        str(executable or install()),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--allowedTools",
        TOOLS,
        "--disallowedTools",
        DENY_RULE,
    ]


def telemetry_env(
    endpoint: str,
    token: str,
    protocol: str = "http/protobuf",
    traces: bool = False,
    interval_ms: int = 1000,
    resource_attributes: Optional[Dict[str, str]] = None,
) -> Dict[str, str]:
    """OTLP export to `endpoint` (a base URL: the SDK appends /v1/logs, /v1/metrics, /v1/traces).

    The protocol must be explicit: unset, Claude silently exports nothing. The token goes
    verbatim into OTEL_EXPORTER_OTLP_HEADERS (Claude does not URL-decode it). `traces` adds the
    beta span export, which beacon does not switch on.
    """
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-beacon-token={token}",
        "OTEL_LOG_TOOL_DETAILS": "1",
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_LOGS_EXPORT_INTERVAL": str(interval_ms),
        "OTEL_METRIC_EXPORT_INTERVAL": str(interval_ms),
    }
    if resource_attributes:
        env["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(f"{k}={v}" for k, v in resource_attributes.items())
    if traces:
        env.update(
            {
                "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_TRACES_EXPORT_INTERVAL": str(interval_ms),
            }
        )
    return env


# --- the scripted session ------------------------------------------------------------------


class Step(NamedTuple):
    """One model turn: a tool call (tool + input) or, when tool is None, the final text."""

    name: str
    tool: Optional[str]
    input: Dict[str, Any]
    call_id: str
    fails: bool  # the CLI must answer this call with an error tool result
    denied: bool = False  # refused by the permission rules, never run


def env_secret_command(value: str) -> str:
    """The command of the environment-secret step: the value in it verbatim, with no label."""
    return f"echo {value} | wc -c"


def steps(workdir: str, env_secret: Optional[str] = None) -> List[Step]:
    """The scripted session for a working directory (absolute paths for the file tools); with
    `env_secret`, the step that puts that value into a command's arguments."""
    path = f"{workdir}/{FILE_NAME}"

    def bash(command: str, description: str) -> Dict[str, Any]:
        return {"command": command, "description": description}

    session = [
        Step(
            "shell", "Bash", bash(MARKER_COMMAND, "Print the marker"), "toolu_01BEACONe2e0000000shell", False
        ),
        Step(
            "write",
            "Write",
            {"file_path": path, "content": FILE_CONTENT},
            "toolu_01BEACONe2e0000000write",
            False,
        ),
        Step("read", "Read", {"file_path": path}, "toolu_01BEACONe2e00000000read", False),
        Step(
            "denied",
            "Bash",
            bash(f"rm -rf {workdir}/{DENIED_DIR}", "Remove a directory (denied)"),
            "toolu_01BEACONe2e000000denied",
            True,
            denied=True,
        ),
        Step(
            "failing",
            "Bash",
            bash(FAILING_COMMAND, "List a missing directory"),
            "toolu_01BEACONe2e00000failing",
            True,
        ),
        Step(
            "secret",
            "Bash",
            bash(SECRET_COMMAND, "Print a fake token"),
            "toolu_01BEACONe2e000000secret",
            False,
        ),
    ]
    if env_secret is not None:
        session.append(
            Step(
                "env_secret",
                "Bash",
                bash(env_secret_command(env_secret), "Count the deploy token's bytes"),
                "toolu_01BEACONe2e00env_secret",
                False,
            )
        )
    return [*session, Step("final", None, {}, "", False)]


class ToolResult(NamedTuple):
    is_error: bool
    text: str


class ScriptedServer(FakeModelServer):
    """The fake Messages API that plays the scripted session (see the module docstring).

    `turns` lists the step index of every main-loop answer; `side_requests` the requests that
    are not part of the agent loop (answered minimally); `tool_results` what the CLI reported
    for each call id; `workdir` the working directory the CLI announced in its system prompt.
    """

    def __init__(self, workdir: Path, env_secret: Optional[str] = None) -> None:
        super().__init__(
            [
                ("HEAD", "/", _answer_probe),
                ("POST", "/v1/messages/count_tokens", _answer_count_tokens),
                ("POST", "/v1/messages", _answer_messages),
            ]
        )
        self.expected_workdir = str(workdir)
        self.env_secret = env_secret
        self.workdir: Optional[str] = None
        self.turns: List[int] = []
        self.side_requests: List[RecordedRequest] = []
        self.tool_results: Dict[str, ToolResult] = {}

    def steps(self) -> List[Step]:
        return steps(self.workdir or self.expected_workdir, self.env_secret)


def scripted_server(workdir: Path, env_secret: Optional[str] = None) -> ScriptedServer:
    """The scripted session's API; `env_secret` adds the step that runs a command holding it."""
    return ScriptedServer(workdir, env_secret)


def refusing_server() -> FakeModelServer:
    """An API that refuses every message request with PROMPT_TOO_LONG (400, never retried)."""

    def refuse(server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler) -> None:
        _check_headers(server, request)
        _send_invalid_request(handler, PROMPT_TOO_LONG, ERROR_REQUEST_ID)

    return FakeModelServer([("HEAD", "/", _answer_probe), ("POST", "/v1/messages", refuse)])


def _answer_probe(server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler) -> None:
    """Claude's reachability probe: `HEAD /` before the first API call; any 2xx will do."""
    if request.path != "/":
        server.fail(f"unexpected HEAD {request.path}")
    handler.send_response(200)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _answer_count_tokens(
    server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler
) -> None:
    """Not sent by 2.1.197 in -p mode; answered correctly should a version start to."""
    assert isinstance(server, ScriptedServer)
    server.side_requests.append(request)
    _check_headers(server, request)
    send_json(handler, 200, {"input_tokens": USAGE_IN})


def _answer_messages(
    server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler
) -> None:
    assert isinstance(server, ScriptedServer)
    _check_headers(server, request)
    if request.path != "/v1/messages?beta=true":
        server.fail(f"messages path {request.path!r}, expected /v1/messages?beta=true")
    body = request.json()
    problems = _message_request_problems(body)
    for problem in problems:
        server.fail(f"messages request: {problem}")
    if problems:
        _send_invalid_request(handler, "; ".join(problems))
        return
    if not any(tool.get("name") == "Bash" for tool in body.get("tools") or []):
        server.side_requests.append(request)  # not the agent loop: a plain short answer
        number = len(server.side_requests)
        send_sse(
            handler,
            _text_events(body["model"], "OK", f"msg_01BEACONside{number:010d}"),
            headers={"request-id": f"req_01BEACONside{number:010d}"},
        )
        return
    _note_workdir(server, body)
    step = _next_step(server, body["messages"])
    if step is None:
        _send_invalid_request(handler, "beyond the scripted session")
        return
    server.turns.append(step)
    plan = server.steps()[step]
    number = len(server.turns)
    events = (
        _text_events(body["model"], FINAL_TEXT, message_id(number))
        if plan.tool is None
        else _tool_use_events(body["model"], plan, message_id(number))
    )
    send_sse(handler, events, headers={"request-id": request_id(number)})  # Claude logs it as request_id


def _send_invalid_request(
    handler: BaseHTTPRequestHandler, message: str, request_id: Optional[str] = None
) -> None:
    """A 400 invalid_request_error in the API's error shape (with its request id when given)."""
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    if request_id is None:
        send_json(handler, 400, error)
    else:
        send_json(handler, 400, {**error, "request_id": request_id}, headers={"request-id": request_id})


def message_id(turn: int) -> str:
    """The id of the n-th (1-based) main-loop answer."""
    return f"msg_01BEACONe2e{turn:012d}"


def request_id(turn: int) -> str:
    """The request-id header of the n-th (1-based) main-loop answer; Claude logs it."""
    return f"req_01BEACONe2e{turn:012d}"


def _check_headers(server: FakeModelServer, request: RecordedRequest) -> None:
    if request.headers.get("x-api-key") != API_KEY:
        server.fail(f"{request.path}: x-api-key missing or wrong")
    if not request.headers.get("anthropic-version"):
        server.fail(f"{request.path}: no anthropic-version header")
    if not request.headers.get("content-type", "").startswith("application/json"):
        server.fail(f"{request.path}: content-type {request.headers.get('content-type')!r}")


def _message_request_problems(body: Any) -> List[str]:
    """What makes `body` an invalid streaming Messages API request (empty when valid)."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = []
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("no model")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] <= 0:
        problems.append("max_tokens missing or not a positive integer")
    if body.get("stream") is not True:
        problems.append("stream is not true")
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict) or not tool.get("name"):
            problems.append(f"tool without a name: {str(tool)[:80]}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return [*problems, "messages missing, empty or not objects"]
    # 2.1.197 also sends role "system" messages (agent and skill listings) among the turns.
    turns = [m for m in messages if m.get("role") != "system"]
    for index, message in enumerate(turns):
        expected_role = "user" if index % 2 == 0 else "assistant"
        if message.get("role") != expected_role:
            problems.append(f"turn {index} is not a {expected_role} message")
        elif not isinstance(message.get("content"), (str, list)):
            problems.append(f"turn {index} has no content")
    if len(turns) % 2 == 0:
        problems.append("the last turn is not from the user")
    for message in messages:
        if message.get("role") == "system" and not isinstance(message.get("content"), str):
            problems.append("a system message without text content")
    return problems + _tool_pairing_problems(turns)


def _blocks(message: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _tool_pairing_problems(turns: List[Dict[str, Any]]) -> List[str]:
    """Every tool_use must be answered, in the next user turn, by a tool_result of its id."""
    problems = []
    for index, message in enumerate(turns[:-1]):
        if message.get("role") != "assistant":
            continue
        asked = [b.get("id") for b in _blocks(message, "tool_use")]
        answered = [b.get("tool_use_id") for b in _blocks(turns[index + 1], "tool_result")]
        if asked != answered:
            problems.append(f"turn {index}: tool_use ids {asked} answered by {answered}")
    return problems


def _note_workdir(server: ScriptedServer, body: Dict[str, Any]) -> None:
    """Take the working directory from the system prompt, where Claude announces it."""
    system = body.get("system")
    text = (
        system
        if isinstance(system, str)
        else " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))
    )
    match = WORKDIR_LINE.search(text)
    if match is None:
        server.fail("no 'Primary working directory:' line in the system prompt")
        return
    workdir = match.group(1).strip()
    if server.workdir not in (None, workdir):
        server.fail(f"working directory changed from {server.workdir} to {workdir}")
    server.workdir = workdir


def _next_step(server: ScriptedServer, messages: List[Dict[str, Any]]) -> Optional[int]:
    """The step to answer: how many scripted tool calls the conversation has results for.

    Checks that the conversation replays our earlier tool calls and records their results.
    """
    script = server.steps()
    uses = [b for m in messages if m.get("role") == "assistant" for b in _blocks(m, "tool_use")]
    results = [b for m in messages if m.get("role") == "user" for b in _blocks(m, "tool_result")]
    for done, use in enumerate(uses):
        plan = script[done] if done < len(script) else None
        replayed = (use.get("id"), use.get("name"), use.get("input"))
        if plan is None or replayed != (plan.call_id, plan.tool, plan.input):
            server.fail(f"conversation replays an unscripted tool call {json.dumps(use)[:200]}")
    for result in results:
        server.tool_results[result.get("tool_use_id", "")] = ToolResult(
            bool(result.get("is_error")), _result_text(result.get("content"))
        )
    if len(results) >= len(script):
        server.fail(f"a request after the last scripted step ({len(results)} tool results)")
        return None
    return len(results)


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


# --- SSE answers -----------------------------------------------------------------------------


def _message_start(model: str, message_id: str) -> Tuple[str, Dict[str, Any]]:
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": USAGE_IN,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )


def _message_end(stop_reason: str) -> List[Tuple[str, Dict[str, Any]]]:
    return [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": USAGE_OUT},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def _text_events(model: str, text: str, message_id: str) -> List[Tuple[str, Any]]:
    half = len(text) // 2
    return [
        _message_start(model, message_id),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": part}},
            )
            for part in (text[:half], text[half:])
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *_message_end("end_turn"),
    ]


def _tool_use_events(model: str, plan: Step, message_id: str) -> List[Tuple[str, Any]]:
    """A tool_use block whose input streams as input_json_delta fragments, as the real API does."""
    arguments = json.dumps(plan.input)
    cut = len(arguments) // 2
    return [
        _message_start(model, message_id),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": plan.call_id, "name": plan.tool, "input": {}},
            },
        ),
        *[
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in ("", arguments[:cut], arguments[cut:])
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *_message_end("tool_use"),
    ]
