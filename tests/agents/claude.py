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

import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import FakeModelServer, RecordedRequest, base_env, npm_install, send_json, send_sse
from ._anthropic import (
    USAGE_IN,
    ScriptedMessagesServer,
    Step,
    check_headers,
    send_invalid_request,
    text_events,
)

# Re-exported for the tests: the usage every answer reports (Claude computes cost_usd from it
# locally) and the request-id of each main-loop answer (Claude logs it as request_id).
from ._anthropic import USAGE_OUT as USAGE_OUT
from ._anthropic import request_id as request_id

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


class ScriptedServer(ScriptedMessagesServer):
    """The fake Messages API that plays the scripted session (see the module docstring).

    Requests without the Bash tool are not part of the agent loop: they are kept in
    `side_requests` and answered with a short text.
    """

    def __init__(self, workdir: Path, env_secret: Optional[str] = None) -> None:
        super().__init__(
            workdir,
            API_KEY,
            "/v1/messages?beta=true",
            WORKDIR_LINE,
            FINAL_TEXT,
            other_routes=(
                ("HEAD", "/", _answer_probe),
                ("POST", "/v1/messages/count_tokens", _answer_count_tokens),
            ),
        )
        self.env_secret = env_secret

    def steps(self) -> List[Step]:
        return steps(self.workdir or self.expected_workdir, self.env_secret)

    def answer_side_request(
        self, request: RecordedRequest, body: Dict[str, Any], handler: BaseHTTPRequestHandler
    ) -> bool:
        if any(tool.get("name") == "Bash" for tool in body.get("tools") or []):
            return False
        self.side_requests.append(request)
        number = len(self.side_requests)
        send_sse(
            handler,
            text_events(body["model"], "OK", f"msg_01BEACONside{number:010d}"),
            headers={"request-id": f"req_01BEACONside{number:010d}"},
        )
        return True


def scripted_server(workdir: Path, env_secret: Optional[str] = None) -> ScriptedServer:
    """The scripted session's API; `env_secret` adds the step that runs a command holding it."""
    return ScriptedServer(workdir, env_secret)


def refusing_server() -> FakeModelServer:
    """An API that refuses every message request with PROMPT_TOO_LONG (400, never retried)."""

    def refuse(server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler) -> None:
        check_headers(server, request, API_KEY)
        send_invalid_request(handler, PROMPT_TOO_LONG, ERROR_REQUEST_ID)

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
    check_headers(server, request, API_KEY)
    send_json(handler, 200, {"input_tokens": USAGE_IN})
