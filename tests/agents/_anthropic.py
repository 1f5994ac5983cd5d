"""The Anthropic Messages API as the agents call it, played by a strict fake on loopback.

Claude Code (tests/agents/claude.py) and GitHub Copilot CLI with an Anthropic provider
(tests/agents/copilot.py) both send `POST /v1/messages` with `stream: true` and read the answer
as SSE. ScriptedMessagesServer answers each request of the agent loop with the next step of a
scripted session, chosen by counting the tool results already in the conversation (so retries
and side requests never skip a step), after checking that the request is one the real API
accepts: headers, body shape, alternating turns, every tool_use answered by its tool_result,
the conversation replaying the scripted calls, and each scripted call fitting the input schema
of a tool the agent offered. An invalid request is recorded in `errors` and answered 400.

The leading underscore keeps tools/install_agents.py from taking this for an agent module.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Pattern, Tuple

from . import FakeModelServer, RecordedRequest, send_json, send_sse

# Usage reported for every answer.
USAGE_IN, USAGE_OUT = 120, 25


class Step(NamedTuple):
    """One model turn: a tool call (tool + input) or, when tool is None, the final text."""

    name: str
    tool: Optional[str]
    input: Dict[str, Any]
    call_id: str
    fails: bool  # the call does not succeed: refused, or its command exits non-zero
    denied: bool = False  # refused by the permission rules, never run


class ToolResult(NamedTuple):
    is_error: bool
    text: str


def message_id(turn: int) -> str:
    """The id of the n-th (1-based) main-loop answer."""
    return f"msg_01BEACONe2e{turn:012d}"


def request_id(turn: int) -> str:
    """The request-id header of the n-th (1-based) main-loop answer."""
    return f"req_01BEACONe2e{turn:012d}"


class ScriptedMessagesServer(FakeModelServer):
    """The fake Messages API playing `steps()`; an agent's module subclasses it.

    `turns` lists the step index of every main-loop answer; `side_requests` the requests that
    are not part of the agent loop; `tool_results` what the CLI reported for each call id;
    `workdir` the working directory the CLI announced in its system prompt (`workdir_line`).
    """

    def __init__(
        self,
        workdir: Path,
        api_key: str,
        messages_path: str,
        workdir_line: Pattern[str],
        final_text: str,
        other_routes: Tuple[Any, ...] = (),
    ) -> None:
        super().__init__([*other_routes, ("POST", "/v1/messages", _answer_messages)])
        self.api_key = api_key
        self.messages_path = messages_path
        self.workdir_line = workdir_line
        self.final_text = final_text
        self.expected_workdir = str(workdir)
        self.workdir: Optional[str] = None
        self.turns: List[int] = []
        self.side_requests: List[RecordedRequest] = []
        self.tool_results: Dict[str, ToolResult] = {}

    def steps(self) -> List[Step]:
        raise NotImplementedError

    def request_problems(self, body: Any) -> List[str]:
        """What makes `body` a request the real API refuses (empty when valid)."""
        return request_problems(body)

    def answer_side_request(
        self, request: RecordedRequest, body: Dict[str, Any], handler: BaseHTTPRequestHandler
    ) -> bool:
        """Answer a request that is not part of the agent loop; False when it is part of it."""
        return False

    def answer(self, request: RecordedRequest, handler: BaseHTTPRequestHandler) -> None:
        check_headers(self, request, self.api_key)
        if request.path != self.messages_path:
            self.fail(f"messages path {request.path!r}, expected {self.messages_path}")
        body = request.json()
        problems = self.request_problems(body)
        for problem in problems:
            self.fail(f"messages request: {problem}")
        if problems:
            send_invalid_request(handler, "; ".join(problems))
            return
        if self.answer_side_request(request, body, handler):
            return
        self._note_workdir(body)
        step = self._next_step(body["messages"])
        if step is None:
            send_invalid_request(handler, "beyond the scripted session")
            return
        plan = self.steps()[step]
        unfit = tool_input_problems(body, plan)
        if unfit:
            self.fail(unfit)
            send_invalid_request(handler, unfit)
            return
        self.turns.append(step)
        number = len(self.turns)
        events = (
            text_events(body["model"], self.final_text, message_id(number))
            if plan.tool is None
            else tool_use_events(body["model"], plan, message_id(number))
        )
        send_sse(handler, events, headers={"request-id": request_id(number)})  # logged as request_id

    def _note_workdir(self, body: Dict[str, Any]) -> None:
        """Take the working directory from the system prompt, where the CLI announces it."""
        match = self.workdir_line.search(system_text(body))
        if match is None:
            self.fail(f"no {self.workdir_line.pattern!r} line in the system prompt")
            return
        workdir = match.group(1).strip()
        if self.workdir not in (None, workdir):
            self.fail(f"working directory changed from {self.workdir} to {workdir}")
        self.workdir = workdir

    def _next_step(self, messages: List[Dict[str, Any]]) -> Optional[int]:
        """The step to answer: how many scripted tool calls the conversation has results for.

        Checks that the conversation replays our earlier tool calls and records their results.
        """
        script = self.steps()
        uses = [b for m in messages if m.get("role") == "assistant" for b in blocks(m, "tool_use")]
        results = [b for m in messages if m.get("role") == "user" for b in blocks(m, "tool_result")]
        for done, use in enumerate(uses):
            plan = script[done] if done < len(script) else None
            replayed = (use.get("id"), use.get("name"), use.get("input"))
            if plan is None or replayed != (plan.call_id, plan.tool, plan.input):
                self.fail(f"conversation replays an unscripted tool call {json.dumps(use)[:200]}")
        for result in results:
            self.tool_results[result.get("tool_use_id", "")] = ToolResult(
                bool(result.get("is_error")), result_text(result.get("content"))
            )
        if len(results) >= len(script):
            self.fail(f"a request after the last scripted step ({len(results)} tool results)")
            return None
        return len(results)


def _answer_messages(
    server: FakeModelServer, request: RecordedRequest, handler: BaseHTTPRequestHandler
) -> None:
    assert isinstance(server, ScriptedMessagesServer)
    server.answer(request, handler)


def check_headers(server: FakeModelServer, request: RecordedRequest, api_key: str) -> None:
    if request.headers.get("x-api-key") != api_key:
        server.fail(f"{request.path}: x-api-key missing or wrong")
    if not request.headers.get("anthropic-version"):
        server.fail(f"{request.path}: no anthropic-version header")
    if not request.headers.get("content-type", "").startswith("application/json"):
        server.fail(f"{request.path}: content-type {request.headers.get('content-type')!r}")


def send_invalid_request(
    handler: BaseHTTPRequestHandler, message: str, request_id: Optional[str] = None
) -> None:
    """A 400 invalid_request_error in the API's error shape (with its request id when given)."""
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    if request_id is None:
        send_json(handler, 400, error)
    else:
        send_json(handler, 400, {**error, "request_id": request_id}, headers={"request-id": request_id})


def request_problems(body: Any) -> List[str]:
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
    # Claude Code 2.1.197 also sends role "system" messages (agent and skill listings) among the turns.
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
    return problems + _tool_pairing_problems(turns) + _thinking_problems(body, turns)


def blocks(message: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
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
        asked = [b.get("id") for b in blocks(message, "tool_use")]
        answered = [b.get("tool_use_id") for b in blocks(turns[index + 1], "tool_result")]
        if asked != answered:
            problems.append(f"turn {index}: tool_use ids {asked} answered by {answered}")
    return problems


def _thinking_problems(body: Dict[str, Any], turns: List[Dict[str, Any]]) -> List[str]:
    """With extended thinking enabled: a budget of at least 1024 tokens below max_tokens, and a
    final assistant message that calls a tool must start with its thinking block."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return []
    problems = []
    budget, limit = thinking.get("budget_tokens"), body.get("max_tokens")
    if not isinstance(budget, int) or budget < 1024 or not isinstance(limit, int) or budget >= limit:
        problems.append("thinking.budget_tokens must be at least 1024 and below max_tokens")
    assistant = [m for m in turns if m.get("role") == "assistant"]
    if assistant and blocks(assistant[-1], "tool_use"):
        first = assistant[-1]["content"][0]
        if first.get("type") not in ("thinking", "redacted_thinking"):
            problems.append(
                "thinking is on, but the final assistant message does not start with a thinking block"
            )
    return problems


def tool_input_problems(body: Dict[str, Any], step: Step) -> str:
    """Why the scripted call cannot be made: its tool is not offered, or its input does not fit
    the tool's input schema (a required property missing, or one the schema does not know)."""
    if step.tool is None:
        return ""
    offered = {t.get("name"): t for t in body.get("tools") or [] if isinstance(t, dict)}
    if step.tool not in offered:
        return f"the scripted tool {step.tool} is not offered"
    schema = offered[step.tool].get("input_schema") or {}
    missing = set(schema.get("required") or []) - set(step.input)
    unknown = set(step.input) - set(schema.get("properties") or {})
    if missing or unknown:
        return f"{step.tool} input misfits its schema: missing {sorted(missing)}, unknown {sorted(unknown)}"
    return ""


def system_text(body: Dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    return " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))


def result_text(content: Any) -> str:
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


def text_events(model: str, text: str, message_id: str) -> List[Tuple[Optional[str], Any]]:
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


def tool_use_events(model: str, plan: Step, message_id: str) -> List[Tuple[Optional[str], Any]]:
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
