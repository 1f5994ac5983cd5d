"""Gemini CLI (npm @google/gemini-cli) driven offline through the scripted e2e session.

The fake model server speaks the Gemini API the CLI really uses:
`POST /v1beta/models/<model>:streamGenerateContent?alt=sse` with the key in `x-goog-api-key`,
answered by one SSE `data:` chunk (a GenerateContentResponse) per turn. The CLI reaches it
through `GOOGLE_GEMINI_BASE_URL`, which it accepts as plain http on loopback only.

The session advances by the number of `functionResponse` parts in the request (the tool
results so far), so a retried request gets the same answer. Every model turn is a
`functionCall` with an explicit `id`, which the CLI keeps as its call id (internally
prefixed `<tool>__`) and echoes back in the matching `functionResponse`.

Permission configuration (the denied step): the CLI runs in its default approval mode
(no `--yolo`). Headless, a tool that would ask the user is denied, and one denied without an
argument pattern is not even offered to the model (calling it fails as `tool_not_registered`,
which is no denial). So a user policy (`$HOME/.gemini/policies/beacon-e2e.toml`) allows
`run_shell_command` and `write_file` (`read_file` is allowed by the built-in policy) and
denies shell commands that start with `curl`. The scripted denied call is such a `curl`: the
CLI's policy engine refuses it ("Tool execution denied by policy. <denyMessage>"), and its
`gemini_cli.tool_call` record has success=false, error_type=policy_violation and an empty
`decision` (allowed calls have decision=accept).

Telemetry is configured through the environment only (`telemetry_env`), as beacon does it.
The CLI's OTLP/HTTP exporters send JSON only (gRPC is its only other protocol).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import (
    FakeModelServer,
    RecordedRequest,
    base_env,
    npm_install,
    otel_resource_attributes,
    send_json,
    send_sse,
)

NAME = "gemini"
PACKAGE = "@google/gemini-cli"
VERSION = "0.61.0"
MODEL = "gemini-2.5-flash"
API_KEY = "beacon-e2e-fake-gemini-key"
GENERATE_PATH = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
PROTOCOLS = ("http/json",)  # OTLPTraceExporter & co. from the *-otlp-http packages: JSON only

PROMPT = "Run the beacon end-to-end session."
SHELL_MARKER = "BEACON_E2E_MARKER"
FILE_NAME = "beacon_e2e.txt"
FILE_MARKER = "BEACON_FILE_MARKER"
DENIED_COMMAND = "curl -sS http://127.0.0.1:9/denied-by-policy"
FAILING_COMMAND = "ls /nonexistent-beacon-dir"
GITHUB_TOKEN = "ghp_BEACONe2eSECRET0123456789abcdefABCDEF"
BEARER = "Authorization: Bearer sk-ant-api03-BEACONe2eFAKEKEY0123456789"
SECRET_COMMAND = f"echo '{BEARER}' {GITHUB_TOKEN}"
FINAL_TEXT = "The beacon end-to-end session is complete."
DENY_MESSAGE = "beacon e2e: network commands are not allowed in CI."
# Replaces the built-in system prompt (about 24 KB), which the CLI copies into every llm_call
# span and every gen_ai.client.inference.operation.details record: about 330 KB of the 414 KB
# logs export of this session. A short one keeps the runs and the golden fixtures small.
SYSTEM_PROMPT = "You are the beacon e2e agent. Use the tools the user's task needs: ${AvailableTools}\n"

# The tools the session uses: the server insists the CLI offers them.
TOOLS_USED = ("run_shell_command", "write_file", "read_file")

SETTINGS: Dict[str, Any] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "privacy": {"usageStatisticsEnabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
}

POLICY = f"""\
# beacon e2e: what a CI job allows Gemini CLI to do without a user (headless, default mode).
[[rule]]
toolName = "run_shell_command"
decision = "allow"
priority = 100

[[rule]]
toolName = "write_file"
decision = "allow"
priority = 100

[[rule]]
toolName = "run_shell_command"
commandPrefix = "curl"
decision = "deny"
priority = 200
denyMessage = "{DENY_MESSAGE}"
"""


class Step:
    """One scripted model turn: a function call (name, args, id) or, when name is None, text."""

    def __init__(self, key: str, name: Optional[str] = None, args: Optional[Dict[str, Any]] = None) -> None:
        self.key, self.name, self.args = key, name, args or {}

    @property
    def call_id(self) -> str:
        return f"beacon-call-{self.key}"

    def part(self) -> Dict[str, Any]:
        if self.name is None:
            return {"text": FINAL_TEXT}
        return {"functionCall": {"id": self.call_id, "name": self.name, "args": self.args}}


def script(workdir: Path) -> List[Step]:
    """The scripted session, in order; the file path is absolute, as write_file/read_file want."""
    path = str(workdir / FILE_NAME)
    return [
        Step("shell", "run_shell_command", {"command": f"echo {SHELL_MARKER}"}),
        Step("write", "write_file", {"file_path": path, "content": FILE_MARKER}),
        Step("read", "read_file", {"file_path": path}),
        Step("denied", "run_shell_command", {"command": DENIED_COMMAND}),
        Step("failing", "run_shell_command", {"command": FAILING_COMMAND}),
        Step("secret", "run_shell_command", {"command": SECRET_COMMAND}),
        Step("final"),
    ]


def install() -> Path:
    return npm_install(NAME, PACKAGE, VERSION) / "gemini"


# --- the scripted fake Gemini API ------------------------------------------------------


class GeminiServer(FakeModelServer):
    """The fake Gemini API; `turns` lists the step index answered for each generate request."""

    def __init__(self, workdir: Path) -> None:
        super().__init__([("POST", "/v1beta/models/", self._generate)])
        self.workdir = workdir
        self.steps = script(workdir)
        self.turns: List[int] = []

    @staticmethod
    def _generate(server: FakeModelServer, request: RecordedRequest, handler: Any) -> None:
        assert isinstance(server, GeminiServer)
        problems = server.check(request)
        if problems:
            for problem in problems:
                server.fail(f"{request.path}: {problem}")
            error = {"code": 400, "message": "; ".join(problems), "status": "INVALID_ARGUMENT"}
            send_json(handler, 400, {"error": error})
            return
        turn = count_function_responses(request.json()["contents"])
        with server._lock:
            server.turns.append(turn)
        send_sse(handler, [(None, generate_response(server.steps[turn], turn))])

    def check(self, request: RecordedRequest) -> List[str]:
        """Protocol violations in one generate request (empty when it is what the CLI must send)."""
        if request.path != GENERATE_PATH:
            return [f"expected {GENERATE_PATH}"]
        if request.headers.get("x-goog-api-key") != API_KEY:
            return ["missing or wrong x-goog-api-key header"]
        if not request.headers.get("content-type", "").startswith("application/json"):
            return ["content-type is not application/json"]
        try:
            body = request.json()
        except ValueError as exc:
            return [f"body is not JSON: {exc}"]
        return check_body(body, self.steps, self.workdir)


def count_function_responses(contents: List[Dict[str, Any]]) -> int:
    return sum(1 for content in contents for part in content.get("parts", []) if "functionResponse" in part)


def check_body(body: Dict[str, Any], steps: List[Step], workdir: Path) -> List[str]:
    """The shape of a GenerateContentRequest, and a conversation that follows the script."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return ["contents must be a non-empty list"]
    if any(
        c.get("role") not in ("user", "model") or not isinstance(c.get("parts"), list) or not c["parts"]
        for c in contents
    ):
        return ["every content needs role user|model and non-empty parts"]
    if contents[-1]["role"] != "user":
        return ["the last content must come from the user"]
    system = body.get("systemInstruction", {}).get("parts", [{}])
    if not isinstance(system[0].get("text"), str) or not system[0]["text"]:
        return ["systemInstruction needs a text part"]
    offered = {d.get("name") for tool in body.get("tools", []) for d in tool.get("functionDeclarations", [])}
    missing = [name for name in TOOLS_USED if name not in offered]
    if missing:
        return [f"tools not offered: {missing}"]
    first_user_text = "".join(p.get("text", "") for p in contents[0]["parts"])
    if str(workdir) not in first_user_text or PROMPT not in first_user_text:
        return ["the first user content must name the workspace directory and carry the prompt"]
    turn = count_function_responses(contents)
    if turn >= len(steps):
        return [f"{turn} tool results, but the script has only {len(steps) - 1} tool calls"]
    return check_history(contents, steps[:turn])


def check_history(contents: List[Dict[str, Any]], done: List[Step]) -> List[str]:
    """The model's calls in the history are the scripted ones, each answered by its own id."""
    calls = [
        p["functionCall"] for c in contents if c["role"] == "model" for p in c["parts"] if "functionCall" in p
    ]
    results = [
        p["functionResponse"]
        for c in contents
        if c["role"] == "user"
        for p in c["parts"]
        if "functionResponse" in p
    ]
    expected = [(s.call_id, s.name, s.args) for s in done]
    if [(c.get("id"), c.get("name"), c.get("args")) for c in calls] != expected:
        return [f"history calls differ from the script: {calls!r}"]
    if [(r.get("id"), r.get("name")) for r in results] != [(s.call_id, s.name) for s in done]:
        return [f"function responses do not answer the calls: {results!r}"]
    if any(not isinstance(r.get("response"), dict) for r in results):
        return ["every functionResponse needs a response object"]
    return []


def generate_response(step: Step, turn: int) -> Dict[str, Any]:
    """One streamed GenerateContentResponse chunk: the step's part, STOP, and usage."""
    prompt_tokens = 1000 + 100 * turn
    output_tokens = 10 + turn
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [step.part()]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        },
        "modelVersion": MODEL,
        "responseId": f"beacon-e2e-response-{turn}",
    }


def scripted_server(workdir: Path) -> GeminiServer:
    return GeminiServer(workdir)


# --- running the CLI -------------------------------------------------------------------


def write_user_config(home: Path) -> Path:
    """The user's own Gemini configuration: API-key auth, no trust prompt, no phoning home,
    the CI policy, and a short system prompt. Returns the $HOME/.gemini directory."""
    gemini_dir = home / ".gemini"
    (gemini_dir / "policies").mkdir(parents=True, exist_ok=True)
    (gemini_dir / "settings.json").write_text(json.dumps(SETTINGS, indent=2) + "\n")
    (gemini_dir / "policies" / "beacon-e2e.toml").write_text(POLICY)
    (gemini_dir / "beacon-e2e-system.md").write_text(SYSTEM_PROMPT)
    return gemini_dir


def agent_env(home: Path, workdir: Path, api_url: str, short_system_prompt: bool = True) -> Dict[str, str]:
    """The environment (and $HOME/.gemini) for a run against the fake API; no telemetry.

    With short_system_prompt=False the CLI uses its built-in system prompt (large telemetry).
    """
    gemini_dir = write_user_config(home)
    workdir.mkdir(parents=True, exist_ok=True)
    env = base_env(home, {"GEMINI_API_KEY": API_KEY, "GOOGLE_GEMINI_BASE_URL": api_url})
    if short_system_prompt:
        env["GEMINI_SYSTEM_MD"] = str(gemini_dir / "beacon-e2e-system.md")
    return env


def command(prompt: str = PROMPT, executable: Optional[Path] = None) -> List[str]:
    """Headless, default approval mode (tools needing a user are denied), fixed model (no router)."""
    return [str(executable or install()), "--model", MODEL, "--approval-mode", "default", "-p", prompt]


def telemetry_env(
    endpoint: str,
    token: str,
    protocol: str = "http/json",
    log_prompts: bool = True,
    resource_attributes: Optional[Dict[str, str]] = None,
    traces: bool = False,
) -> Dict[str, str]:
    """Export to an OTLP/HTTP base URL (the CLI appends /v1/<signal>), as beacon configures Gemini.

    The token header goes through OTEL_EXPORTER_OTLP_HEADERS, which the CLI's OpenTelemetry
    JS exporters add to every request; OTEL_RESOURCE_ATTRIBUTES lands on every resource.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Gemini CLI exports OTLP/HTTP as JSON only, not {protocol!r}")
    env = {
        "GEMINI_TELEMETRY_ENABLED": "true",
        "GEMINI_TELEMETRY_TARGET": "local",
        "GEMINI_TELEMETRY_OTLP_ENDPOINT": endpoint,
        "GEMINI_TELEMETRY_OTLP_PROTOCOL": "http",
        "GEMINI_TELEMETRY_LOG_PROMPTS": "true" if log_prompts else "false",
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-beacon-token={token}",
    }
    if resource_attributes:
        env["OTEL_RESOURCE_ATTRIBUTES"] = otel_resource_attributes(resource_attributes)
    if traces:
        env["GEMINI_TELEMETRY_TRACES_ENABLED"] = "true"
    return env
