"""Codex CLI: the generated CODEX_HOME whose config.toml switches its telemetry on (Codex reads
no OTEL_* variables), and the mapping of its log records (codex.*) to Beacon events.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from typing import Any, Dict, List, Mapping, Optional

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
from beacon_ci.context import private_dir, read_text, write_private
from beacon_otlp import TOKEN_HEADER

# Codex's name for each --otlp-protocol (context.OTLP_PROTOCOLS).
CODEX_PROTOCOLS = {"protobuf": "binary", "json": "json"}


def user_codex_home(environ: Mapping[str, str]) -> str:
    return environ.get("CODEX_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".codex")


def write_codex_home(
    target: str, user_home: str, endpoint: str, token: str, protocol: str = "protobuf"
) -> str:
    """A CODEX_HOME that is the user's (auth.json, rules, hooks, ... linked in) with a copy of
    their config.toml that gains our [otel] exporters. Rules and hooks must carry over: they
    are what denies a tool call."""
    private_dir(target)
    config = read_text(os.path.join(user_home, "config.toml"))
    text = _without_root_otel(config).rstrip("\n")
    text = (text + "\n\n" if text else "") + _codex_otel_table(endpoint, token, CODEX_PROTOCOLS[protocol])
    write_private(os.path.join(target, "config.toml"), text)
    try:
        entries = sorted(os.listdir(user_home))
    except OSError:
        entries = []
    for name in entries:
        if name != "config.toml":
            os.symlink(os.path.join(user_home, name), os.path.join(target, name))
    return target


# Codex's three exporters and the signal each sends: each defaults to off when missing.
_EXPORTERS = (("exporter", "logs"), ("trace_exporter", "traces"), ("metrics_exporter", "metrics"))


def _exporter(url: str, protocol: str, headers: str = "") -> str:
    """One exporter as a TOML inline table (values already TOML): the full per-signal URL, since
    Codex appends no path."""
    return f"{{ otlp-http = {{ endpoint = {url}, protocol = {protocol}{headers} }} }}"


def _codex_otel_table(endpoint: str, token: str, protocol: str) -> str:
    headers = f", headers = {{ {json.dumps(TOKEN_HEADER)} = {json.dumps(token)} }}"
    exporters = "".join(
        f"{key} = {_exporter(json.dumps(f'{endpoint}/v1/{signal}'), json.dumps(protocol), headers)}\n"
        for key, signal in _EXPORTERS
    )
    return '[otel]\nenvironment = "ci"\nlog_user_prompt = true\n' + exporters


def codex_args(endpoint: str, protocol: str = "protobuf") -> str:
    """`codex exec` arguments (-c overrides outrank every config.toml) that send Codex's
    telemetry to the receiver, for a Codex that cannot read the generated CODEX_HOME (one run as
    another user through sudo, which drops CODEX_HOME). They hold no token: the command line is
    every local user's to read. The token reaches Codex in OTEL_EXPORTER_OTLP_HEADERS, which it
    adds to every export, where its environment is the job's; where it is not (sudo's env_reset),
    the receiver accepts the agent user's connections without one (ci start --agent-user).

    One line that a shell and codex-action's codex-args (string-argv) split alike, so arguments
    of the user's can follow: each value in double quotes, its TOML strings single-quoted
    (literal), and nothing in it either would expand or unescape (the endpoint is ours)."""
    values = ["otel.environment='ci'", "otel.log_user_prompt=true"]
    for key, signal in _EXPORTERS:
        url, kind = f"'{endpoint}/v1/{signal}'", f"'{CODEX_PROTOCOLS[protocol]}'"
        values.append(f"otel.{key}={_exporter(url, kind)}")
    return " ".join(f'-c "{value}"' for value in values)


def _without_root_otel(config: str) -> str:
    """The user's config.toml minus its root `otel` settings in every form TOML has: [otel] and
    [otel.*] tables, dotted keys (otel.environment = ...) and an inline table (otel = {...}).
    Ours replace them, and TOML refuses a table defined twice. An `otel` key inside another
    table ([profiles.x] otel = ...) is not the root one and stays."""
    kept: List[str] = []
    table: Optional[str] = None  # the first key of the current table's name; None at the root
    for statement in _toml_statements(config):
        code = statement.lstrip()
        if code.startswith("["):
            table = _toml_first_key(code.lstrip("["))
        elif table is None and _toml_first_key(code) == "otel":
            continue
        if table != "otel":
            kept.append(statement)
    return "".join(kept)


def _toml_statements(text: str) -> List[str]:
    """TOML text cut into statements, each with its line ending: a table header, a key/value
    (whose array or multi-line string may span lines), a comment or a blank line."""
    statements: List[str] = []
    start = depth = i = 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _toml_string_end(text, i)
            continue
        if char == "#":
            end = text.find("\n", i)
            i = end if end >= 0 else len(text)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "\n" and not depth:
            statements.append(text[start : i + 1])
            start = i + 1
        i += 1
    if start < len(text):
        statements.append(text[start:])
    return statements


def _toml_string_end(text: str, i: int) -> int:
    """Where the string opening at i ends: basic strings have escapes, literal ones do not; a
    one-line string left open ends with its line."""
    quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else text[i]
    j = i + len(quote)
    while j < len(text):
        if text.startswith(quote, j):
            return j + len(quote)
        if text[j] == "\\" and quote[0] == '"':
            j += 2
            continue
        if text[j] == "\n" and len(quote) == 1:
            return j
        j += 1
    return len(text)


_TOML_KEY_RE = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\\n]|\\.)*)"|'([^'\n]*)')""")


def _toml_first_key(text: str) -> Optional[str]:
    """The first component of the (dotted) key that text starts with, unquoted; None if none."""
    match = _TOML_KEY_RE.match(text)
    if not match:
        return None
    bare, basic, literal = match.groups()
    if basic is not None:
        try:
            return str(json.loads(f'"{basic}"'))  # TOML's escapes are JSON's (but \U, rare in a key)
        except ValueError:
            return basic
    return bare if bare is not None else literal


# Codex streams one codex.sse_event per server-sent event (dozens a turn); usage arrives as the
# codex.turn.token_usage metric instead, so these records carry nothing an audit needs, except
# a failed one (error.message): the model's response broke off.
CODEX_NOISE = ("codex.sse_event",)
# Records of Codex's model traffic that fail with an HTTP status or an error.message.
CODEX_ERROR_TYPES = {
    "codex.sse_event": "stream_error",
    "codex.websocket_connect": "websocket_error",
    "codex.websocket_request": "websocket_error",
}
CODEX_LIFECYCLE = {"codex.conversation_starts": "session.started", "codex.user_prompt": "prompt.submitted"}
CODEX_SHELL_TOOLS = ("exec_command", "shell", "shell_command", "local_shell")
_EXIT_CODE = re.compile(r"(?:Process exited with code|Exit code:)\s*(-?\d+)")
# A patch's file headers. `*** Move to:` follows an Update File header: the file is rewritten
# under that name. 1.0 has no file.deleted action and no `delete` operation: a deletion modifies
# the tree, and file.deleted says that it was a deletion.
_PATCH_FILE = re.compile(r"^\*\*\* (Add File|Update File|Delete File|Move to): (.+?)\r?$", re.MULTILINE)
_PATCH_ACTIONS = {
    "Add File": ("file.created", "create"),
    "Update File": ("file.modified", "modify"),
    "Move to": ("file.modified", "modify"),
    "Delete File": ("file.modified", "modify"),
}
# apply_patch run through a shell tool: `apply_patch <<'EOF'` (optionally after `cd dir &&`).
_PATCH_COMMAND = re.compile(r"\s*(?:cd\s+\S+\s*&&\s*)?apply_?patch\b")
_PATCH_PROGRAMS = ("apply_patch", "applypatch")
# Codex refusing a call: `exec_command failed: CreateProcess { message: "Rejected(\"<why>\")" }`
# (a PermissionRequest hook's denial, or an exec-policy rule that forbids the command).
_REJECTED = re.compile(r'Rejected\(\\*"(.*?)\\*"\)', re.DOTALL)


def map_codex_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    if name in CODEX_LIFECYCLE:
        set_action(event, CODEX_LIFECYCLE[name])
        if name == "codex.user_prompt" and first(attrs, "prompt") not in ("", "[REDACTED]"):
            event["prompt"] = {"text": first(attrs, "prompt")}
        if name == "codex.conversation_starts":
            set_usage(event, attrs, {})
        return
    if name not in ("codex.tool_decision", "codex.tool_result"):
        set_action(event, "session.activity")
        status = integer(attrs.get("http.response.status_code"))
        message = first(attrs, "error.message")
        if (status is not None and status >= 400) or message:
            set_action(event, "session.error")
            error_type = CODEX_ERROR_TYPES.get(name, "api_error")
            set_api_error(event, error_type, message, status, retried_status(status))
        return
    tool = first(attrs, "tool_name", "tool.name")
    arguments = text(attrs.get("arguments"))
    set_tool_call(event, tool, first(attrs, "call_id"))
    set_tool_arguments(event, arguments)
    classify_codex_tool(event, tool, arguments, attrs)
    if name == "codex.tool_decision":
        decision = first(attrs, "decision")
        set_action(event, approval_action(decision))
        event["approval"] = {"required": True, "decision": decision, "reason": first(attrs, "source")}
        return
    output = text(attrs.get("output"))
    result = outcome(attrs.get("success"))
    reason = codex_rejection(output) if result == "failure" else None
    if reason is not None:
        set_refused(event, "rejected", reason)
        return
    exit_code = _EXIT_CODE.search(output)
    if exit_code:
        code = int(exit_code.group(1))
        event.setdefault("command", {})["exit_code"] = code
        if code != 0:  # Codex reports a command that ran and failed as a successful tool call
            result = "failure"
    set_outcome(event, result)
    if result == "failure":
        set_error(event, "tool_error", output if not exit_code else "", severity="medium")
        if event["event"]["action"] == "tool.invoked":
            set_action(event, "tool.failed")


def classify_codex_tool(event: Dict[str, Any], tool: str, arguments: str, attrs: Mapping[str, Any]) -> None:
    duration = integer(attrs.get("duration_ms"))
    set_duration(event, duration)
    files = [(kind, path.strip()) for kind, path in _PATCH_FILE.findall(codex_patch(tool, arguments))]
    if files:  # the first file's event, with the count and every path when there are more
        kind, path = files[0]
        action, operation = _PATCH_ACTIONS[kind]
        set_action(event, action)
        set_file(event, path, operation)
        if kind == "Delete File":
            event["file"]["deleted"] = True
        if len(files) > 1:
            event["file"]["count"] = len(files)
            event["file"]["paths"] = [p for _, p in files]
        return
    command = codex_command(tool, arguments)
    if command:
        set_action(event, "command.executed")
        set_command(event, command, duration_ms=duration)
    elif first(attrs, "mcp_server"):
        set_action(event, "mcp.tool_invoked")
        event["mcp"] = {"server": first(attrs, "mcp_server"), "tool": tool}
    else:
        set_action(event, "tool.invoked")


def codex_command(tool: str, arguments: str) -> str:
    """The shell command of exec_command / shell / local_shell calls, in every argument shape."""
    decoded = json_object(arguments)
    for key in ("cmd", "command"):
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, list) and value:
            words = [text(word) for word in value]
            if len(words) >= 3 and words[0].endswith(("bash", "sh", "zsh")) and words[1] in ("-c", "-lc"):
                return words[2]  # ["bash", "-lc", "the command"]
            return " ".join(shlex.quote(word) for word in words)
    if tool in CODEX_SHELL_TOOLS and not decoded and arguments.strip():
        return arguments.strip()
    return ""


def codex_patch(tool: str, arguments: str) -> str:
    """The patch of an apply_patch call: the tool's own (freeform text, or `{"input": patch}`), or
    apply_patch run through a shell tool (`["apply_patch", patch]`, or a heredoc)."""
    if tool == "apply_patch":
        value = json_object(arguments).get("input")
        return value if isinstance(value, str) else arguments
    if tool not in CODEX_SHELL_TOOLS:
        return ""
    for key in ("cmd", "command"):
        value = json_object(arguments).get(key)
        if isinstance(value, list) and value and text(value[0]) in _PATCH_PROGRAMS:
            return "\n".join(text(word) for word in value[1:])
    command = codex_command(tool, arguments)
    return command if _PATCH_COMMAND.match(command) else ""


def codex_rejection(output: str) -> Optional[str]:
    """Why Codex refused to run a call, from the call's output; None when it did not refuse."""
    match = _REJECTED.search(output)
    if match:
        return match.group(1)
    return output.strip() if "rejected by user" in output else None


def set_refused(event: Dict[str, Any], decision: str, reason: str) -> None:
    """A call the agent refused to run is a denial, not a command or file change that failed:
    it keeps what was asked (tool.command, tool.path) but no command or file it never touched."""
    set_action(event, "approval.denied")
    set_outcome(event, "failure")
    event.pop("command", None)
    event.pop("file", None)
    event["approval"] = {"required": True, "decision": decision, "reason": reason}
    set_error(event, decision, reason, severity="medium")


# The DEBUG lines of Codex's metrics client, records with a body and no event name: they say
# what the exporter did, nothing the agent did.
CODEX_DEBUG_NOISE = ("flushing otel metrics", "runtime metrics reset skipped")


def codex_keeps(attrs: Mapping[str, Any], body: str) -> bool:
    name = first(attrs, "event.name")
    if name in CODEX_NOISE:
        return bool(first(attrs, "error.message"))
    return bool(name) or not any(line in body.lower() for line in CODEX_DEBUG_NOISE)
