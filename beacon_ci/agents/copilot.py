"""GitHub Copilot CLI: the variables that switch its telemetry on, and the mapping of its spans to
Beacon events. Copilot sends traces and metrics only, never log records, so each span that
reports something it did is the event itself (EVENTS.md, "Spans (traces) are events too"):

- `execute_tool <tool>`: the tool call (`gen_ai.tool.name`, `gen_ai.tool.call.id`, and with
  content capture on `github.copilot.tool.parameters.*` and `gen_ai.tool.call.arguments`);
  `process.exit.code` for a shell command; status error with `error.type=denied` for a call
  the user's rules refused, which never ran.
- `chat <model>`: one model call, with its usage and `github.copilot.cost`.
- `invoke_agent`: the whole run: the prompt it was given (`gen_ai.input.messages`); its usage
  is the sum of the chat spans', not counted again.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping

from beacon_ci.agents.fields import (
    first,
    integer,
    json_object,
    number,
    set_action,
    set_command,
    set_error,
    set_file,
    set_outcome,
    set_tool_arguments,
    set_tool_call,
    set_usage,
    text,
)

# Copilot's tools by what they do: (action, 1.0's file.operation).
COPILOT_FILE_TOOLS = {
    "view": ("file.read", "read"),
    "create": ("file.created", "create"),
    "edit": ("file.modified", "modify"),
    "str_replace_editor": ("file.modified", "modify"),
}
COPILOT_SHELL_TOOLS = ("bash", "shell", "powershell")
SPAN_STATUS_ERROR = 2  # OTLP Status.code


def map_copilot_span(event: Dict[str, Any], span: Mapping[str, Any], children: Mapping[str, Any]) -> bool:
    """Fill `event` from one Copilot span; False for a span that reports nothing of its own.
    (Copilot's child spans are events of their own: it has no `children` facts.)"""
    name, attrs = span["name"], span["attributes"]
    operation = first(attrs, "gen_ai.operation.name") or name.split(" ", 1)[0]
    if operation == "execute_tool":
        map_copilot_tool(event, attrs, span.get("status") or {})
        return True
    if operation == "invoke_agent":  # the run: what it was asked (with content capture on)
        set_action(event, "prompt.submitted")
        prompt = user_prompt(text(attrs.get("gen_ai.input.messages")))
        if prompt:
            event["prompt"] = {"text": prompt}
        return True
    if operation == "chat":
        set_action(event, "token.usage")
        set_usage(
            event,
            attrs,
            {"input_tokens": "gen_ai.usage.input_tokens", "output_tokens": "gen_ai.usage.output_tokens"},
        )
        cost = number(attrs.get("github.copilot.cost"))
        if cost is not None:
            event.setdefault("gen_ai", {}).setdefault("usage", {})["cost_usd"] = cost
        return True
    return False


def user_prompt(messages: str) -> str:
    """The user's text in GenAI input messages: [{"role": "user", "parts": [{"type": "text",
    "content": ...}]}]."""
    try:
        decoded = json.loads(messages)
    except ValueError:
        return ""
    texts = [
        text(part.get("content"))
        for message in (decoded if isinstance(decoded, list) else [])
        if isinstance(message, dict) and message.get("role") == "user"
        for part in message.get("parts") or []
        if isinstance(part, dict) and part.get("type") == "text"
    ]
    return "\n".join(t for t in texts if t)


def map_copilot_tool(event: Dict[str, Any], attrs: Mapping[str, Any], status: Mapping[str, Any]) -> None:
    tool = first(attrs, "gen_ai.tool.name")
    arguments = text(attrs.get("gen_ai.tool.call.arguments"))
    decoded = json_object(arguments)
    set_tool_call(event, tool, first(attrs, "gen_ai.tool.call.id"))
    set_tool_arguments(event, arguments)
    failed = status.get("code") == SPAN_STATUS_ERROR
    error_type = first(attrs, "error.type")
    if failed and error_type == "denied":  # refused by the user's rules: it never ran
        set_action(event, "approval.denied")
        event["approval"] = {"required": True, "decision": "denied", "reason": text(status.get("message"))}
        _classify(event, tool, attrs, decoded, record=False)
        return
    _classify(event, tool, attrs, decoded, record=True)
    exit_code = integer(attrs.get("process.exit.code"))
    if "command" in event and exit_code is not None:
        event["command"]["exit_code"] = exit_code
        failed = failed or exit_code != 0
    set_outcome(event, "failure" if failed else "success")
    if failed:
        set_error(event, error_type or "tool_error", text(status.get("message")), severity="medium")
        if event["event"]["action"] == "tool.invoked":
            set_action(event, "tool.failed")


def _classify(
    event: Dict[str, Any], tool: str, attrs: Mapping[str, Any], arguments: Mapping[str, Any], record: bool
) -> None:
    """What the call does: its command or path, and (when it ran: `record`) its action."""
    lowered = tool.lower()
    if lowered in COPILOT_SHELL_TOOLS:
        command = first(attrs, "github.copilot.tool.parameters.command") or text(arguments.get("command"))
        set_command(event, command)
        action = "command.executed"
    elif lowered in COPILOT_FILE_TOOLS:
        action, operation = COPILOT_FILE_TOOLS[lowered]
        path = first(attrs, "github.copilot.tool.parameters.file_path", "github.copilot.tool.parameters.path")
        set_file(event, path or text(arguments.get("path")), operation)
    elif "/" in tool or "__" in tool:  # an MCP server's tool: server/tool
        action = "mcp.tool_invoked"
        server, _, name = tool.replace("__", "/").partition("/")
        event["mcp"] = {"server": server, "tool": name}
    else:
        action = "tool.invoked"
    if record:
        set_action(event, action)


# What switches Copilot CLI's export on (the endpoint, protocol and token are set for every
# agent). Content capture puts the commands and paths on its spans: without it beacon would
# know that a shell ran, not what; the protection stage redacts what it holds.
TELEMETRY_ENVIRONMENT = {
    "COPILOT_OTEL_ENABLED": "true",
    "COPILOT_OTEL_EXPORTER_TYPE": "otlp-http",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
}
