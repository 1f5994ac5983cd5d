"""Claude Code: the variables that switch its telemetry on, and the mapping of its log records
(claude_code.*) to Beacon events.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from beacon_ci.agents.fields import (
    approval_action,
    first,
    integer,
    json_object,
    outcome,
    set_action,
    set_api_error,
    set_command,
    set_duration,
    set_error,
    set_file,
    set_outcome,
    set_tool_call,
    set_usage,
    span_duration_ms,
    text,
)

# Claude Code tools by what they do: (action, 1.0's file.operation, input key holding the path).
# Write writes a whole file, 1.0's `create`; it is still file.modified, since Claude does not
# say whether the file was there before.
CLAUDE_FILE_TOOLS = {
    "read": ("file.read", "read", "file_path"),
    "write": ("file.modified", "create", "file_path"),
    "edit": ("file.modified", "modify", "file_path"),
    "multiedit": ("file.modified", "modify", "file_path"),
    "notebookedit": ("file.modified", "modify", "notebook_path"),
}
CLAUDE_SHELL_TOOLS = ("bash", "powershell", "pwsh")
CLAUDE_LOOKUP_TOOLS = {
    "grep": ("pattern", "path"),
    "glob": ("pattern", "path"),
    "ls": ("", "path"),
    "webfetch": ("url", ""),
    "websearch": ("query", ""),
    "task": ("subagent_type", "description"),
    "agent": ("subagent_type", "description"),  # Task's name since Claude Code 2.1
}
CLAUDE_LIFECYCLE = {
    "user_prompt": "prompt.submitted",
    "api_refusal": "session.status",
    "permission_mode_changed": "session.status",
    "api_error": "session.error",
    "internal_error": "session.error",
    "api_retries_exhausted": "session.error",
    "mcp_server_connection": "mcp.connection",
}


def map_claude_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    short = name[len("claude_code.") :] if name.startswith("claude_code.") else name
    if short in ("tool_decision", "tool_result"):
        tool = first(attrs, "tool_name", "tool.name")
        tool_input = json_object(attrs.get("tool_input"))
        parameters = json_object(attrs.get("tool_parameters"))
        set_tool_call(event, tool, first(attrs, "tool_use_id"))
        classify_claude_tool(event, tool, tool_input, parameters, attrs)
        if short == "tool_decision":
            decision = first(attrs, "decision", "decision_type")
            set_action(event, approval_action(decision))
            event["approval"] = {
                "required": True,
                "decision": decision,
                "reason": first(attrs, "source", "decision_source"),
            }
        else:
            set_outcome(event, outcome(attrs.get("success")))
            if event["event"].get("outcome") == "failure":
                set_error(
                    event,
                    first(attrs, "error_type") or "tool_error",
                    first(attrs, "error"),
                    severity="medium",
                )
                if event["event"]["action"] == "tool.invoked":
                    set_action(event, "tool.failed")
        return
    set_action(event, CLAUDE_LIFECYCLE.get(short, "session.activity"))
    if short == "user_prompt":
        prompt = first(attrs, "prompt")
        if prompt:
            event["prompt"] = {"text": prompt}
    elif short == "api_request":
        set_usage(
            event,
            attrs,
            {
                "input_tokens": "input_tokens",
                "output_tokens": "output_tokens",
                "cache_read.input_tokens": "cache_read_tokens",
                "cache_creation.input_tokens": "cache_creation_tokens",
                "cost_usd": "cost_usd",
            },
        )
        set_duration(event, integer(attrs.get("duration_ms")))
    elif short in ("api_error", "api_retries_exhausted", "internal_error"):
        set_api_error(event, short, first(attrs, "error"), integer(attrs.get("status_code")))
        set_usage(event, attrs, {})
    elif short == "mcp_server_connection":
        server = first(attrs, "server_name", "mcp_server_name")
        if server:
            event["mcp"] = {"server": server, "status": first(attrs, "status")}


def classify_claude_tool(
    event: Dict[str, Any],
    tool: str,
    tool_input: Mapping[str, Any],
    parameters: Mapping[str, Any],
    attrs: Mapping[str, Any],
) -> None:
    lowered = tool.lower()
    duration = integer(attrs.get("duration_ms"))
    set_duration(event, duration)
    if lowered in CLAUDE_SHELL_TOOLS:
        command = (
            text(tool_input.get("command"))
            or text(parameters.get("full_command"))
            or text(parameters.get("bash_command"))
        )
        set_action(event, "command.executed")
        set_command(event, command, duration_ms=duration)
    elif lowered in CLAUDE_FILE_TOOLS:
        action, operation, key = CLAUDE_FILE_TOOLS[lowered]
        set_action(event, action)
        set_file(event, text(tool_input.get(key)) or text(parameters.get(key)), operation)
    elif lowered.startswith("mcp__"):
        set_action(event, "mcp.tool_invoked")
        parts = tool.split("__", 2)  # mcp__server__tool (the tool may hold __ itself)
        if len(parts) == 3 and parts[1] and parts[2]:  # a name without both parts names neither
            event["mcp"] = {"server": parts[1], "tool": parts[2]}
    else:
        set_action(event, "tool.invoked")
        for key in CLAUDE_LOOKUP_TOOLS.get(lowered, ()):
            value = text(tool_input.get(key)) or text(parameters.get(key))  # decisions: parameters only
            if key and value:
                event.setdefault("tool", {})[key] = value


# Claude's spans (CLAUDE_CODE_ENHANCED_TELEMETRY_BETA): claude_code.interaction, an llm_request
# per model call (its api_request record says the same), and a claude_code.tool per tool call
# (tool_name, tool_use_id, full_command or file_path; a subagent's agent_id, parent_agent_id) with
# two children: tool.blocked_on_user (the wait for approval; decision) and tool.execution, which
# a denied call never has.
CLAUDE_TOOL_SPAN = "claude_code.tool"
CLAUDE_CHILD_SPANS = ("claude_code.tool.blocked_on_user", "claude_code.tool.execution")


def claude_child_facts(span: Mapping[str, Any]) -> Dict[str, Any]:
    """What a tool call's child span says about the call."""
    duration = span_duration_ms(span)
    if span["name"].endswith("blocked_on_user"):
        return {"wait_ms": duration, "decision": first(span["attributes"], "decision")}
    return {"execution_ms": duration}


def map_claude_span(event: Dict[str, Any], span: Mapping[str, Any], children: Mapping[str, Any]) -> bool:
    """The event a tool call's span is (when no record reports the call); `children` holds the
    facts of its child spans. A call that never executed was denied: Claude sends its span too,
    and it must not count as a command that ran."""
    if span["name"] != CLAUDE_TOOL_SPAN:
        return False
    attrs = span["attributes"]
    tool = first(attrs, "tool_name")
    set_tool_call(event, tool, first(attrs, "tool_use_id"))
    tool_input = {"command": first(attrs, "full_command"), "file_path": first(attrs, "file_path")}
    classify_claude_tool(event, tool, tool_input, {}, {})
    approval: Dict[str, Any] = {}
    if children.get("wait_ms") is not None:
        approval["wait_ms"] = children["wait_ms"]
    if children.get("execution_ms") is None:
        set_action(event, "approval.denied")
        approval.update(required=True, decision=children.get("decision") or "reject")
    else:
        set_duration(event, children["execution_ms"])
    if approval:
        event["approval"] = approval
    agent = {key: first(attrs, name) for key, name in (("id", "agent_id"), ("parent_id", "parent_agent_id"))}
    agent = {key: value for key, value in agent.items() if value}
    if agent:  # a subagent's call (Task): which one, under which
        event["agent"] = agent
    return True


# What switches Claude Code's export on (the endpoint, protocol and token are set for every agent).
# Its spans (a beta) time each tool call and the wait for a person's approval.
TELEMETRY_ENVIRONMENT = {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
    "OTEL_LOG_TOOL_DETAILS": "1",
    "OTEL_LOG_USER_PROMPTS": "1",
}
