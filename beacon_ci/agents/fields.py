"""What every agent's mapper shares: readers that take an OTLP attribute as text, number or
JSON object, and setters that fill one part of an event (tool call, command, file, error,
usage) the same way for every harness.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, Mapping, Optional


def text(value: Any) -> str:
    """An attribute as text: strings as they are, other values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def first(attrs: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = text(attrs.get(key)).strip()
        if value and value != "<REDACTED>":
            return value
    return ""


def integer(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        return round(number) if math.isfinite(number) else None


def number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def json_object(value: Any) -> Dict[str, Any]:
    """A JSON-object attribute (Claude's tool_input, Codex's arguments) as a dict, else {}."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


def outcome(value: Any) -> Optional[str]:
    lowered = text(value).strip().lower()
    if lowered in ("true", "1", "success", "ok", "succeeded"):
        return "success"
    if lowered in ("false", "0", "failure", "error", "failed"):
        return "failure"
    return None


# Decision words, matched on how each word of the decision starts, case-insensitive. What the
# agents send: Claude `accept`/`reject`; Codex `approved`, `approved_for_session`,
# `approved_execpolicy_amendment`, `denied`, `timed_out`, `abort`; Gemini `accept`, `reject`,
# `modify`, `auto_accept` and the outcomes behind them (`proceed_once`, `proceed_always*`,
# `cancel`). A call whose approval was cancelled, declined or timed out did not run: a denial.
# Words that grant nothing either way (`modify`, `network_policy_amendment`) stay a request.
_DENYING = ("reject", "deny", "deni", "disallow", "abort", "cancel", "declin", "block", "timed", "timeout")
_ALLOWING = ("accept", "approv", "allow", "proceed", "grant")


def approval_action(decision: str) -> str:
    """One vocabulary for every harness's decision words."""
    words = re.findall(r"[a-z]+", decision.lower())
    if any(word.startswith(_DENYING) for word in words):
        return "approval.denied"
    if any(word.startswith(_ALLOWING) for word in words):
        return "approval.allowed"
    return "approval.requested"


def category_of(action: str) -> str:
    prefix = action.split(".", 1)[0]
    return {
        "prompt": "prompt",
        "command": "command",
        "file": "file",
        "mcp": "mcp",
        "approval": "approval",
        "session": "session",
        "token": "metric",
        "cost": "metric",
        "metric": "metric",
        "tool": "tool",
    }.get(prefix, "")


def put_dotted(target: Dict[str, Any], dotted: str, value: Any) -> None:
    """target['a']['b'] = value for 'a.b', creating the objects on the way."""
    *parents, leaf = dotted.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value


def set_action(event: Dict[str, Any], action: str) -> None:
    event["event"]["action"] = action


def set_outcome(event: Dict[str, Any], value: Optional[str]) -> None:
    if value:
        event["event"]["outcome"] = value


def set_tool_call(event: Dict[str, Any], tool: str, call_id: str, arguments: Any = None) -> None:
    if tool:
        event.setdefault("tool", {})["name"] = tool
    call: Dict[str, Any] = {}
    if call_id:
        call["id"] = call_id
    if arguments not in (None, "", {}):
        call["arguments"] = arguments
    if tool or call:
        gen_ai_tool = event.setdefault("gen_ai", {}).setdefault("tool", {})
        if tool:
            gen_ai_tool["name"] = tool
        if call:
            gen_ai_tool["call"] = call


def set_duration(event: Dict[str, Any], duration_ms: Optional[int]) -> None:
    """event.duration_ms: how long the call took, from the record's own duration or its span's."""
    if duration_ms is not None and duration_ms >= 0:
        event["event"]["duration_ms"] = duration_ms


def span_duration_ms(span: Mapping[str, Any]) -> Optional[int]:
    start, end = span["start_time_unix_nano"], span["end_time_unix_nano"]
    return (end - start) // 1_000_000 if start and end >= start else None


def set_tool_arguments(event: Dict[str, Any], arguments: str) -> None:
    """tool.arguments: the call's arguments as the agent sent them. 1.0 keeps them in
    tool.command; ours is the command they run, so they get a field of their own."""
    if arguments.strip():
        event.setdefault("tool", {})["arguments"] = arguments


def set_command(
    event: Dict[str, Any], command: str, exit_code: Optional[int] = None, duration_ms: Optional[int] = None
) -> None:
    entry: Dict[str, Any] = {"command": command} if command else {}
    if exit_code is not None:
        entry["exit_code"] = exit_code
    if duration_ms is not None:
        entry["duration_ms"] = duration_ms
    if entry:
        event["command"] = entry
    if command:
        event.setdefault("tool", {})["command"] = command


def set_file(event: Dict[str, Any], path: str, operation: str) -> None:
    if path:
        event["file"] = {"path": path, "operation": operation}
        event.setdefault("tool", {})["path"] = path


def set_error(
    event: Dict[str, Any],
    error_type: str,
    message: str = "",
    status: Optional[int] = None,
    severity: str = "high",
) -> None:
    error: Dict[str, Any] = {"type": error_type or "error"}
    if message:
        error["message"] = message
    if status is not None:
        error["status_code"] = status
    event["error"] = error
    event["severity"] = severity


# Gemini and Codex log every attempt of a model request, and both retry rate limits and server
# errors (Gemini also 499). Neither record says whether it was the last attempt (Codex's
# zero-based `attempt` counts up to a limit kept in the user's config, not in the record), so an
# error they retry is `medium` (more attempts usually follow) and any other `high`. Claude logs
# `api_error` once, after its own retries (its `attempt` is how many were made): always `high`.
def retried_status(status: Optional[int]) -> bool:
    return status is not None and (status in (429, 499) or 500 <= status < 600)


def set_api_error(
    event: Dict[str, Any], error_type: str, message: str, status: Optional[int], retried: bool = False
) -> None:
    """A failed model request: outcome failure, the error's type, message and status."""
    set_outcome(event, "failure")
    set_error(event, error_type, message, status, severity="medium" if retried else "high")


def set_usage(event: Dict[str, Any], attrs: Mapping[str, Any], slots: Mapping[str, str]) -> None:
    """gen_ai.usage from an event's own counters, e.g. {'input_tokens': 'input_tokens', ...}."""
    usage: Dict[str, Any] = {}
    for slot, key in slots.items():
        value = number(attrs.get(key)) if slot == "cost_usd" else integer(attrs.get(key))
        if value is not None and attrs.get(key) not in ("", None):
            put_dotted(usage, slot, value)
    if usage:
        event.setdefault("gen_ai", {})["usage"] = usage
    model = first(attrs, "model", "gen_ai.request.model", "gen_ai.response.model")
    if model:
        event["model"] = model
