"""Gemini CLI: the variables that switch its telemetry on, and the mapping of its log records
(gemini_cli.*) to Beacon events.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from beacon_ci.agents.fields import (
    approval_action,
    first,
    integer,
    json_object,
    outcome,
    retried_status,
    set_action,
    set_api_error,
    set_command,
    set_duration,
    set_error,
    set_file,
    set_outcome,
    set_tool_arguments,
    set_tool_call,
    set_usage,
    text,
)

# Gemini CLI tools by what they do: (action, 1.0's file.operation, argument holding the path).
# write_file writes a whole file: `create`, as Claude's Write.
GEMINI_FILE_TOOLS = {
    "read_file": ("file.read", "read", "file_path"),
    "read_many_files": ("file.read", "read", "paths"),
    "write_file": ("file.modified", "create", "file_path"),
    "replace": ("file.modified", "modify", "file_path"),
}
GEMINI_LOOKUP_TOOLS = {
    "list_directory": "path",
    "glob": "pattern",
    "search_file_content": "pattern",
    "web_fetch": "prompt",
    "google_web_search": "query",
}
# Gemini logs a file_operation record (tool_name, operation, line count; no path) while a file
# tool runs, then the tool_call record of that call. The tool_call carries the file event: it
# has the path, the outcome and the call id, and it comes once per call (read_many_files logs a
# file_operation per file). So a file_operation of a tool mapped above is session.activity;
# one of any other tool is the file event itself, with its path when the record has one.
GEMINI_FILE_OPERATIONS = {
    "create": ("file.created", "create"),
    "update": ("file.modified", "modify"),
    "read": ("file.read", "read"),
}
GEMINI_LIFECYCLE = {
    "gemini_cli.user_prompt": "prompt.submitted",
    "gemini_cli.config": "session.started",
    "gemini_cli.api_error": "session.error",
}


def map_gemini_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    if name == "gemini_cli.tool_call":
        map_gemini_tool_call(event, attrs)
        return
    if name == "gemini_cli.file_operation":
        map_gemini_file_operation(event, attrs)
        return
    set_action(event, GEMINI_LIFECYCLE.get(name, "session.activity"))
    if name == "gemini_cli.user_prompt" and first(attrs, "prompt"):
        event["prompt"] = {"text": first(attrs, "prompt")}
    elif name == "gemini_cli.api_response":
        set_usage(
            event,
            attrs,
            {
                "input_tokens": "input_token_count",
                "output_tokens": "output_token_count",
                "cache_read.input_tokens": "cached_content_token_count",
                "reasoning.output_tokens": "thoughts_token_count",
            },
        )
    elif name == "gemini_cli.api_error":
        status = integer(attrs.get("status_code"))
        set_api_error(
            event,
            first(attrs, "error_type", "error.type") or "api_error",
            first(attrs, "error", "error.message"),
            status,
            retried_status(status),
        )


def map_gemini_file_operation(event: Dict[str, Any], attrs: Mapping[str, Any]) -> None:
    tool = first(attrs, "tool_name")
    operation = GEMINI_FILE_OPERATIONS.get(first(attrs, "operation").lower())
    if operation is None or tool in GEMINI_FILE_TOOLS:
        set_action(event, "session.activity")
        return
    action, name = operation
    set_action(event, action)
    set_tool_call(event, tool, "")
    path = first(attrs, "file_path", "path")
    if path:
        set_file(event, path, name)
    else:
        event["file"] = {"operation": name}


def map_gemini_tool_call(event: Dict[str, Any], attrs: Mapping[str, Any]) -> None:
    tool = first(attrs, "function_name")
    arguments = json_object(attrs.get("function_args"))
    set_tool_call(event, tool, first(attrs, "call_id", "gen_ai.tool.call.id"))
    set_tool_arguments(event, text(attrs.get("function_args")))
    duration = integer(attrs.get("duration_ms"))
    set_duration(event, duration)
    if tool == "run_shell_command":
        set_action(event, "command.executed")
        set_command(event, text(arguments.get("command")), duration_ms=duration)
    elif tool in GEMINI_FILE_TOOLS:
        action, operation, key = GEMINI_FILE_TOOLS[tool]
        set_action(event, action)
        value = arguments.get(key)
        paths = [text(v) for v in value] if isinstance(value, list) else [text(value)] if value else []
        if paths:
            set_file(event, paths[0], operation)
            if len(paths) > 1:
                event["file"].update(count=len(paths), paths=paths)
    elif first(attrs, "mcp_server_name") or first(attrs, "tool_type") == "mcp":
        set_action(event, "mcp.tool_invoked")
        event["mcp"] = {"server": first(attrs, "mcp_server_name"), "tool": tool}
    else:
        set_action(event, "tool.invoked")
        lookup = GEMINI_LOOKUP_TOOLS.get(tool)
        if lookup and arguments.get(lookup):
            event.setdefault("tool", {})["path" if lookup == "path" else lookup] = text(arguments[lookup])
    metadata = json_object(attrs.get("metadata"))
    exit_code = integer(metadata.get("exitCode")) if "exitCode" in metadata else None
    if exit_code is not None:
        event.setdefault("command", {})["exit_code"] = exit_code
    result = outcome(attrs.get("success"))
    if exit_code:  # Gemini reports a command that ran and failed as a successful call
        result = "failure"
    set_outcome(event, result)
    decision = first(attrs, "decision")
    error_type = first(attrs, "error_type", "error.type")
    if decision or error_type == "policy_violation":
        # A policy denial comes with no decision at all: the error type is what says so.
        word = decision or "deny"
        event["approval"] = {"required": True, "decision": word, "reason": error_type or "config"}
        if approval_action(word) == "approval.denied":
            set_action(event, "approval.denied")
    if result == "failure":
        set_error(
            event, error_type or "tool_error", first(attrs, "error", "error.message"), severity="medium"
        )
        if event["event"]["action"] == "tool.invoked":
            set_action(event, "tool.failed")


def telemetry_environment(endpoint: str) -> Dict[str, str]:
    """Gemini CLI's own switches; it always sends OTLP/JSON over HTTP to the endpoint.

    They outrank every settings file (run-gemini-cli writes its `settings` input to the
    project's .gemini/settings.json): Gemini CLI 0.61 reads each as `env ?? settings`
    (packages/core/src/telemetry/config.ts, resolveTelemetrySettings), and a `.env` file never
    replaces a variable that is set. An outfile turns the OTLP export off (`useOtlp =
    !!endpoint && !outfile` in packages/core/src/telemetry/sdk.ts, initializeTelemetry), and
    every example workflow of run-gemini-cli sets one: an empty GEMINI_TELEMETRY_OUTFILE is a
    value `??` keeps, and no outfile to `!outfile`. `useCliAuth` without CLI credentials (an
    API key) defers the export for ever: set to false, as beacon's receiver needs no auth."""
    return {
        "GEMINI_TELEMETRY_ENABLED": "true",
        "GEMINI_TELEMETRY_TARGET": "local",
        "GEMINI_TELEMETRY_OTLP_ENDPOINT": endpoint,
        "GEMINI_TELEMETRY_OTLP_PROTOCOL": "http",
        "GEMINI_TELEMETRY_LOG_PROMPTS": "true",
        "GEMINI_TELEMETRY_OUTFILE": "",
        "GEMINI_TELEMETRY_USE_CLI_AUTH": "false",
    }
