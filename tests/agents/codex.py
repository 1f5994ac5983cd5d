"""OpenAI Codex CLI (npm `@openai/codex`) driven offline through the scripted session.

`codex exec` talks to a strict fake OpenAI Responses API on loopback: `POST /v1/responses`
with `stream: true` and the key as `Authorization: Bearer`, answered as SSE
(`response.created`, `response.output_item.added`, `response.output_item.done`,
`response.completed` with usage). It also posts `{"turn_ids": [...]}` to
`/v1/analytics/codex/turn-costs` (even with `[analytics] enabled = false`), answered `{}`.
Non-essential traffic is off: no update check, no analytics, and no plugins (with plugins
on, every start runs `git ls-remote https://github.com/openai/plugins.git`).
The CLI finds the server through a custom model provider in the user's
`$CODEX_HOME/config.toml` (here `~/.codex`, CODEX_HOME unset), which is where a user keeps
it and what beacon copies into the CODEX_HOME it generates.

The model is `gpt-5.5`, a slug of the CLI's bundled model catalog whose
`apply_patch_tool_type` is `freeform`: with it the CLI offers its own file-editing tool,
`apply_patch`, as a Responses *custom* tool (unknown slugs get no apply_patch). Codex has no
file-read tool, so the read is a `cat` through `exec_command`.

Every answer is the next step of the scripted session, chosen by counting the tool outputs
already in the conversation (so retries and side requests never skip a step):

1. `exec_command` `echo BEACON_E2E_MARKER`
2. `apply_patch` adding `<workdir>/beacon_e2e.txt` with `BEACON_FILE_MARKER` (absolute path;
   the workdir is read from the `<cwd>` of the `<environment_context>` user message)
3. `exec_command` `cat <workdir>/beacon_e2e.txt`
4. `exec_command` `git push --force origin main`, refused by the CLI itself (see below)
5. `exec_command` `ls /nonexistent-beacon-dir` (exit code 2)
6. `exec_command` `echo 'Authorization: Bearer sk-ant-api03-…' ghp_…` (secrets in the arguments)
7. a final text answer.

The denied call. `codex exec` forces `approval_policy = "never"` (it cannot ask anyone),
which leaves two ways for the CLI itself to refuse a command:

- DENIAL_HOOK (the default): the user's rules file marks `git push` as needing approval
  (`prefix_rule(..., decision="prompt")`), `approval_policy = "on-request"` together with
  `approvals_reviewer = "auto_review"` keeps exec mode from forcing "never", and a
  `PermissionRequest` hook (run with `--dangerously-bypass-hook-trust`; hooks are consulted
  before the automatic reviewer) answers `deny`. Telemetry: `codex.tool_decision` with
  `decision=denied`, `source=Config`, then `codex.tool_result` with `success=false`.
- DENIAL_RULE: the rules file forbids `git push` (`decision="forbidden"`) and the approval
  policy stays "never". The CLI refuses it before any approval step, so telemetry has *no*
  `codex.tool_decision` for that call, only `codex.tool_result` with `success=false` and
  the output `... rejected: <justification>`.

Telemetry is not part of `agent_env`: beacon adds it. `telemetry_config` generates the
CODEX_HOME the way ARCHITECTURE.md ("Capture session", step 3) says beacon will.
"""

from __future__ import annotations

import json
import os
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from . import FakeModelServer, RecordedRequest, base_env, npm_install, send_json, send_sse

NAME = "codex"
PACKAGE = "@openai/codex"
VERSION = "0.169.0"  # the version measured in shared/reference/agents/codex-and-gemini.md
MODEL = "gpt-5.5"  # bundled catalog entry with apply_patch_tool_type = "freeform"
PROVIDER = "beacon_fake"
API_KEY_ENV = "BEACON_FAKE_OPENAI_KEY"  # the provider's env_key; the CLI sends it as a bearer token
API_KEY = "beacon-e2e-fake-openai-key"
PROMPT = "Run the beacon end-to-end session."
PROTOCOLS = ("json", "binary")  # otlp-http protocol values: application/json, application/x-protobuf

MARKER_COMMAND = "echo BEACON_E2E_MARKER"
FILE_NAME = "beacon_e2e.txt"
FILE_CONTENT = "BEACON_FILE_MARKER"
DENIED_COMMAND = "git push --force origin main"
FAILING_COMMAND = "ls /nonexistent-beacon-dir"
# The fake GitHub token as the shared scenario spells it (37 characters after `ghp_`).
SECRET_TOKEN = "ghp_BEACONe2eSECRET0123456789abcdefABCDEF"
SECRET_BEARER = "sk-ant-api03-BEACONe2eFAKEKEY0123456789"
SECRET_COMMAND = f"echo 'Authorization: Bearer {SECRET_BEARER}' {SECRET_TOKEN}"
FINAL_TEXT = "BEACON_E2E_DONE: all scripted steps ran."

DENIAL_HOOK, DENIAL_RULE = "hook", "rule"
RULE_JUSTIFICATION = "CI agents must not push"
HOOK_MESSAGE = "beacon e2e: git push is not allowed in CI"
TOOLS_USED = {"exec_command": "function", "apply_patch": "custom"}  # the server insists on them

USAGE_IN, USAGE_OUT = 120, 25  # reported for every answer
CWD = re.compile(r"<cwd>([^<]+)</cwd>")
CALL_TYPES = {"function_call": "function_call_output", "custom_tool_call": "custom_tool_call_output"}


def install() -> Path:
    """The `codex` launcher (a Node shim over a 294 MB static musl binary), installed once."""
    return npm_install(NAME, PACKAGE, VERSION) / "codex"


# --- the user's configuration (no telemetry) ------------------------------------------------


def user_codex_home(env: Dict[str, str]) -> Path:
    """Where the CLI reads the user's config: $CODEX_HOME, else ~/.codex."""
    return Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else Path(env["HOME"]) / ".codex"


def agent_env(home: Path, workdir: Path, api_url: str, denial: str = DENIAL_HOOK) -> Dict[str, str]:
    """Codex against the fake API, no update check or analytics, no telemetry.

    Writes the user's `~/.codex` (config.toml, rules, and for DENIAL_HOOK the hook script).
    `workdir` is where the CLI runs (its cwd); Codex finds it itself, nothing to set.
    """
    del workdir
    codex_home = home / ".codex"
    (codex_home / "rules").mkdir(parents=True, exist_ok=True)
    (codex_home / "rules" / "beacon-e2e.rules").write_text(rules_file(denial))
    config = _provider_config(api_url, denial)
    if denial == DENIAL_HOOK:
        config += _hook_config(_write_hook(codex_home))
    (codex_home / "config.toml").write_text(config)
    return base_env(home, {API_KEY_ENV: API_KEY})


def _provider_config(api_url: str, denial: str) -> str:
    approval = (
        'approval_policy = "on-request"\napprovals_reviewer = "auto_review"\n'
        if denial == DENIAL_HOOK
        else 'approval_policy = "never"\n'
    )
    return (
        f'model = "{MODEL}"\n'
        f'model_provider = "{PROVIDER}"\n'
        f"{approval}"
        'sandbox_mode = "danger-full-access"  # bubblewrap does not run in every container\n'
        "check_for_update_on_startup = false\n"
        "\n"
        f"[model_providers.{PROVIDER}]\n"
        'name = "beacon fake Responses API"\n'
        f"base_url = {_toml_string(api_url + '/v1')}\n"
        f'env_key = "{API_KEY_ENV}"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        "\n"
        "[analytics]\n"
        "enabled = false\n"
        "\n"
        "[features]\n"
        "plugins = false  # else every start runs `git ls-remote https://github.com/openai/plugins.git`\n"
    )


def proxied_config(api_url: str) -> str:
    """The user's config.toml as codex-action leaves it for a Codex run as another user: its
    model provider is the action's Responses API proxy, which adds the API key itself, so Codex
    reads no key from an environment that sudo reset. Here the fake API is that proxy, and the
    key it insists on comes from the provider's own settings. Denial by rule (no hook to trust)."""
    key_setting = f"experimental_bearer_token = {_toml_string(API_KEY)}"
    return _provider_config(api_url, DENIAL_RULE).replace(f'env_key = "{API_KEY_ENV}"', key_setting)


def rules_file(denial: str) -> str:
    """The user's rules/beacon-e2e.rules: `git push` needs approval (the hook denies it) or is
    forbidden outright."""
    decision = "prompt" if denial == DENIAL_HOOK else "forbidden"
    return (
        f'prefix_rule(pattern={json.dumps(DENIED_COMMAND.split()[:2])}, decision="{decision}", '
        f'justification="{RULE_JUSTIFICATION}")\n'
    )


def _write_hook(codex_home: Path) -> Path:
    """A PermissionRequest hook that denies whatever reaches it (only the rule's `git push`)."""
    answer = {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": HOOK_MESSAGE},
        }
    }
    hook = codex_home / "hooks" / "deny-permission-request.sh"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '{json.dumps(answer)}'\n")
    hook.chmod(0o755)
    return hook


def _hook_config(hook: Path) -> str:
    return (
        "\n"
        "[[hooks.PermissionRequest]]\n"
        'matcher = "Bash"  # the hook name of exec_command\n'
        "[[hooks.PermissionRequest.hooks]]\n"
        'type = "command"\n'
        f"command = {_toml_string(str(hook))}\n"
    )


def command(prompt: str = PROMPT, executable: Optional[Path] = None, denial: str = DENIAL_HOOK) -> List[str]:
    """`codex exec` outside a git repository; DENIAL_HOOK needs the hook-trust bypass."""
    argv = [str(executable or install()), "exec", "--skip-git-repo-check"]
    if denial == DENIAL_HOOK:
        argv.append("--dangerously-bypass-hook-trust")
    return [*argv, prompt]


# --- telemetry, as beacon will configure it -------------------------------------------------


def telemetry_config(
    user_home: Path,
    target: Path,
    endpoint: str,
    token: str,
    protocol: str = "binary",
) -> Dict[str, str]:
    """Generate a CODEX_HOME at `target` exporting every signal to `endpoint`; return its env.

    Keeps everything of the user's CODEX_HOME (`user_home`): each entry is linked (rules,
    hooks, auth.json, sessions...), except config.toml, which is copied with an `[otel]`
    table appended. Each exporter needs its full per-signal URL (no path is appended) and
    the token header; `protocol` is "json" or "binary". OTEL_EXPORTER_OTLP_COMPRESSION must
    never be set: it silently disables all Codex telemetry.
    """
    config = (user_home / "config.toml").read_text() if (user_home / "config.toml").exists() else ""
    if re.search(r"^\s*\[\s*otel\s*[\].]|^\s*otel\s*[.=]", config, re.MULTILINE):
        raise ValueError("the user's config.toml already configures otel; merging is not implemented")
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(user_home.iterdir()) if user_home.is_dir() else []:
        if entry.name != "config.toml":
            os.symlink(entry, target / entry.name)
    (target / "config.toml").write_text(config.rstrip("\n") + "\n\n" + otel_table(endpoint, token, protocol))
    return {"CODEX_HOME": str(target)}


def otel_table(endpoint: str, token: str, protocol: str) -> str:
    """The `[otel]` table: logs, traces and metrics over OTLP/HTTP with the token header."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown Codex otlp-http protocol {protocol!r}")
    lines = ["[otel]", "log_user_prompt = true"]
    for key, signal in (("exporter", "logs"), ("trace_exporter", "traces"), ("metrics_exporter", "metrics")):
        url = _toml_string(f"{endpoint.rstrip('/')}/v1/{signal}")
        lines.append(
            f'{key} = {{ otlp-http = {{ endpoint = {url}, protocol = "{protocol}", '
            f'headers = {{ "x-beacon-token" = {_toml_string(token)} }} }} }}'
        )
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for these ASCII values)."""
    return json.dumps(value)


# --- the scripted session ------------------------------------------------------------------


class Step(NamedTuple):
    """One model turn: a tool call or, when tool is None, the final text."""

    name: str
    tool: Optional[str]  # exec_command | apply_patch | None
    item_type: str  # function_call | custom_tool_call | message
    arguments: str  # JSON arguments (function_call) or the raw patch (custom_tool_call)
    call_id: str

    @property
    def output_type(self) -> str:
        return CALL_TYPES[self.item_type]


def patch(workdir: str) -> str:
    """The apply_patch input that creates the marker file (freeform grammar, absolute path)."""
    return f"*** Begin Patch\n*** Add File: {workdir}/{FILE_NAME}\n+{FILE_CONTENT}\n*** End Patch\n"


def steps(workdir: str) -> List[Step]:
    """The scripted session for a working directory."""

    def shell(name: str, cmd: str) -> Step:
        return Step(name, "exec_command", "function_call", json.dumps({"cmd": cmd}), call_id(name))

    return [
        shell("shell", MARKER_COMMAND),
        Step("write", "apply_patch", "custom_tool_call", patch(workdir), call_id("write")),
        shell("read", f"cat {workdir}/{FILE_NAME}"),
        shell("denied", DENIED_COMMAND),
        shell("failing", FAILING_COMMAND),
        shell("secret", SECRET_COMMAND),
        Step("final", None, "message", "", ""),
    ]


def call_id(step_name: str) -> str:
    return f"call_BEACONe2e_{step_name}"


def response_id(turn: int) -> str:
    """The id of the n-th (1-based) main-loop response."""
    return f"resp_BEACONe2e{turn:04d}"


class ScriptedServer(FakeModelServer):
    """The fake Responses API that plays the scripted session (see the module docstring).

    `turns` lists the step index of every answer; `side_requests` the turn-costs requests;
    `outputs` what the CLI reported for each call id; `workdir` the working directory the
    CLI announced in its environment context.
    """

    def __init__(self, workdir: Path) -> None:
        super().__init__(
            [
                ("POST", "/v1/responses", _answer_responses),
                ("POST", "/v1/analytics/codex/turn-costs", _answer_turn_costs),
            ]
        )
        self.expected_workdir = str(workdir)
        self.workdir: Optional[str] = None
        self.turns: List[int] = []
        self.side_requests: List[RecordedRequest] = []
        self.outputs: Dict[str, str] = {}

    def steps(self) -> List[Step]:
        return steps(self.workdir or self.expected_workdir)


def scripted_server(workdir: Path) -> ScriptedServer:
    return ScriptedServer(workdir)


def _check_headers(server: FakeModelServer, request: RecordedRequest, accept: str) -> None:
    headers = request.headers
    if headers.get("authorization") != f"Bearer {API_KEY}":
        server.fail(f"{request.path}: authorization header missing or wrong")
    if not headers.get("content-type", "").startswith("application/json"):
        server.fail(f"{request.path}: content-type {headers.get('content-type')!r}")
    if headers.get("content-encoding"):
        server.fail(f"{request.path}: unexpected content-encoding {headers['content-encoding']!r}")
    if accept and headers.get("accept") != accept:
        server.fail(f"{request.path}: accept {headers.get('accept')!r}, expected {accept!r}")


def _answer_turn_costs(
    server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler
) -> None:
    """The CLI asks for the cost of earlier turns; a provider without cost data answers `{}`."""
    assert isinstance(server, ScriptedServer)
    server.side_requests.append(request)
    _check_headers(server, request, accept="")
    if request.path != "/v1/analytics/codex/turn-costs":
        server.fail(f"turn-costs path {request.path!r}")
    body = request.json()
    turn_ids = body.get("turn_ids") if isinstance(body, dict) else None
    if not isinstance(turn_ids, list) or not all(isinstance(t, str) and t for t in turn_ids):
        server.fail(f"turn-costs body {request.body[:200]!r}")
    send_json(handler, 200, {})


def _answer_responses(
    server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler
) -> None:
    assert isinstance(server, ScriptedServer)
    _check_headers(server, request, accept="text/event-stream")
    if request.path != "/v1/responses":
        server.fail(f"responses path {request.path!r}, expected /v1/responses")
    if request.headers.get("x-openai-subagent"):  # e.g. "guardian": the hook should have decided
        server.fail(f"unexpected {request.headers['x-openai-subagent']} subagent request")
    body = request.json()
    problems = _request_problems(body)
    for problem in problems:
        server.fail(f"responses request: {problem}")
    step = None if problems else _next_step(server, body)
    if step is None:
        send_json(
            handler,
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": None,
                    "param": None,
                    "message": "; ".join(problems) or "beyond the scripted session",
                }
            },
        )
        return
    server.turns.append(step)
    send_sse(handler, _events(body["model"], server.steps()[step], response_id(len(server.turns))))


def _request_problems(body: Any) -> List[str]:
    """What makes `body` an invalid streaming Responses API request for this session."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = []
    if body.get("model") != MODEL:
        problems.append(f"model {body.get('model')!r}, expected {MODEL!r}")
    if body.get("stream") is not True:
        problems.append("stream is not true")
    tools = body.get("tools")
    if not isinstance(tools, list) or not all(isinstance(t, dict) and t.get("type") for t in tools):
        problems.append("tools missing or without types")
    else:
        offered = {t.get("name"): t["type"] for t in tools}
        for name, kind in TOOLS_USED.items():
            if offered.get(name) != kind:
                problems.append(f"no {kind} tool {name} (offered: {sorted(n for n in offered if n)})")
    items = body.get("input")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        problems.append("input missing, empty or not objects")
    return problems


def _next_step(server: ScriptedServer, body: Dict[str, Any]) -> Optional[int]:
    """The step to answer: how many scripted tool calls the conversation has outputs for.

    Checks that the conversation replays our earlier calls, each followed by its output, and
    records the outputs and the working directory.
    """
    items = body["input"]
    _note_workdir(server, items)
    script = server.steps()
    calls = [i for i in items if i.get("type") in CALL_TYPES]
    outputs = [i for i in items if i.get("type") in CALL_TYPES.values()]
    for done, call in enumerate(calls):
        plan = script[done] if done < len(script) else None
        replayed = (
            call.get("type"),
            call.get("call_id"),
            call.get("name"),
            call.get("arguments", call.get("input")),
        )
        if plan is None or replayed != (plan.item_type, plan.call_id, plan.tool, plan.arguments):
            server.fail(f"conversation replays an unscripted call {json.dumps(call)[:200]}")
    for done, output in enumerate(outputs):
        plan = script[done] if done < len(script) else None
        if plan is None or (output.get("type"), output.get("call_id")) != (plan.output_type, plan.call_id):
            server.fail(f"an output that answers no scripted call: {json.dumps(output)[:200]}")
        elif not isinstance(output.get("output"), str):
            server.fail(f"output of {plan.call_id} is not a string")
        else:
            server.outputs[plan.call_id] = output["output"]
    if len(outputs) != len(calls):
        server.fail(f"{len(calls)} calls but {len(outputs)} outputs in the conversation")
    if len(outputs) >= len(script):
        server.fail(f"a request after the last scripted step ({len(outputs)} tool outputs)")
        return None
    return len(outputs)


def _note_workdir(server: ScriptedServer, items: List[Dict[str, Any]]) -> None:
    """Take the working directory from the `<environment_context>` user message."""
    texts = [
        part.get("text", "")
        for item in items
        if item.get("type") == "message" and item.get("role") == "user"
        for part in item.get("content") or []
        if isinstance(part, dict)
    ]
    found = [
        m.group(1).strip() for text in texts if "<environment_context>" in text for m in CWD.finditer(text)
    ]
    if not found:
        server.fail("no <cwd> in an <environment_context> user message")
        return
    if server.workdir not in (None, found[-1]):
        server.fail(f"working directory changed from {server.workdir} to {found[-1]}")
    server.workdir = found[-1]


# --- SSE answers -----------------------------------------------------------------------------


def _item(plan: Step, done: bool) -> Dict[str, Any]:
    """The output item of a step, in progress (as added) or completed."""
    status = "completed" if done else "in_progress"
    if plan.item_type == "message":
        content = [{"type": "output_text", "text": FINAL_TEXT, "annotations": []}] if done else []
        return {
            "id": "msg_BEACONe2e_final",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }
    item = {
        "id": f"{'fc' if plan.item_type == 'function_call' else 'ctc'}_BEACONe2e_{plan.name}",
        "type": plan.item_type,
        "status": status,
        "call_id": plan.call_id,
        "name": plan.tool,
    }
    item["arguments" if plan.item_type == "function_call" else "input"] = plan.arguments if done else ""
    return item


def _response(model: str, rid: str, output: List[Dict[str, Any]]) -> Dict[str, Any]:
    response = {
        "id": rid,
        "object": "response",
        "created_at": 1764000000,
        "model": model,
        "status": "completed" if output else "in_progress",
        "output": output,
    }
    if output:
        response["usage"] = {
            "input_tokens": USAGE_IN,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": USAGE_OUT,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": USAGE_IN + USAGE_OUT,
        }
    return response


def _events(model: str, plan: Step, rid: str) -> List[Any]:
    """One streamed response holding the step's single output item."""
    done = _item(plan, done=True)
    events: List[Any] = [
        ("response.created", {"type": "response.created", "response": _response(model, rid, [])}),
        (
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": 0, "item": _item(plan, done=False)},
        ),
    ]
    if plan.item_type == "message":
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": done["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": FINAL_TEXT,
                },
            )
        )
    events += [
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": done}),
        ("response.completed", {"type": "response.completed", "response": _response(model, rid, [done])}),
    ]
    for number, (_, data) in enumerate(events):
        data["sequence_number"] = number
    return events
