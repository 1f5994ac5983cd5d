"""The summary of what each agent did: a fold of events (and the validation document) into
per-harness facts, with bounded lists and exact counts, in memory that does not grow with the
log (Summary: one event at a time, as the writer writes them or as a log is read back).
text.py and markdown.py render it."""

from __future__ import annotations

import datetime
import functools
import math
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

SUMMARY_KEEP = 1000  # items kept per list in the summary dict; the counts stay exact
NAMES_KEPT = 1000  # tools, MCP tools, models and harnesses counted by name; the rest as OTHER
FILES_TRACKED = 10000  # distinct paths remembered per harness to count each file once
OTHER = "(other)"
SUMMARY_SHOWN = 25  # items per list in the Markdown form
SUMMARY_ITEM_CHARS = 300  # characters of one agent string in the Markdown form
TEXT_ITEM_CHARS = 60  # characters of one agent string in the text form
MARKDOWN_LIMIT = 1024 * 1024 - 1024  # GitHub rejects a step summary of 1 MiB or more
REQUEST_USAGE_KEYS = (
    ("input_tokens", ("input_tokens",)),
    ("output_tokens", ("output_tokens",)),
    ("cache_read_tokens", ("cache_read", "input_tokens")),
    ("cache_creation_tokens", ("cache_creation", "input_tokens")),
    ("cost_usd", ("cost_usd",)),
)
METRIC_ACTIONS = ("token.usage", "cost.usage")
TOOL_ACTIONS = (
    "command.executed",
    "file.read",
    "file.created",
    "file.modified",
    "tool.invoked",
    "tool.failed",
)
FILE_ACTIONS = {"file.read": "read", "file.created": "created", "file.modified": "modified"}


class Summary:
    """The fold: add() each event, then result() once. Its state is bounded whatever the number
    of events: lists keep SUMMARY_KEEP items, name tables NAMES_KEPT names, and each harness
    remembers FILES_TRACKED paths (past that, a file is counted again when it is seen again)."""

    def __init__(self) -> None:
        self._harnesses: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._total = 0

    def add(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        self._total += 1
        _fold_event(_harness_entry(self._harnesses, event), event)

    def result(self, validation: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The summary; `validation` is the validation's JSON document, carried into it."""
        return {
            "event_count": self._total,
            "harnesses": [_finish_harness(h) for h in self._harnesses.values()],
            "validation": dict(validation) if validation is not None else None,
        }


def summarize(
    events: Iterable[Dict[str, Any]], validation: Optional[Mapping[str, Any]] = None
) -> Dict[str, Any]:
    """What each harness did, from its events; `validation` is the validation's JSON document,
    carried into the summary. Pure: reads nothing but its arguments."""
    summary = Summary()
    for event in events:
        summary.add(event)
    return summary.result(validation)


def _harness_entry(harnesses: Dict[Tuple[str, str], Dict[str, Any]], event: Dict[str, Any]) -> Dict[str, Any]:
    harness = _dict(event.get("harness"))
    key = (_str(harness.get("name")) or "unknown", _str(harness.get("version")))
    if key not in harnesses and len(harnesses) >= NAMES_KEPT:
        key = (OTHER, "")
    if key not in harnesses:
        harnesses[key] = {
            "name": key[0],
            "version": key[1],
            "events": 0,
            "redacted": 0,
            "first": None,
            "last": None,
            "counts": {"prompts": 0, "commands": 0, "commands_failed": 0, "approvals_denied": 0, "errors": 0},
            "prompts": [],
            "commands": [],
            "files": {"read": [], "created": [], "modified": []},
            "tools": {},
            "mcp": {},
            "approvals_denied": [],
            "errors": [],
            "time": {"model_ms": 0, "tools_ms": {}, "approval_wait_ms": 0},
            "_request_usage": {},
            "_metric_usage": {},
            "_seen_files": set(),
            "_denied_by_call": {},
        }
    return harnesses[key]


def _fold_event(entry: Dict[str, Any], event: Dict[str, Any]) -> None:
    entry["events"] += 1
    _widen_time(entry, _str(event.get("timestamp")))
    if _dict(event.get("content")).get("redacted") is True:
        entry["redacted"] += 1
    inner = _dict(event.get("event"))
    action = _str(inner.get("action"))
    tool, command, file_ = _dict(event.get("tool")), _dict(event.get("command")), _dict(event.get("file"))
    tool_name = _str(tool.get("name"))
    target = (
        _str(command.get("command"))
        or _str(tool.get("command"))
        or _str(file_.get("path"))
        or _str(tool.get("path"))
    )
    _fill_denied_target(entry, event, target)
    if action == "prompt.submitted":
        _keep(entry, "prompts", _str(_dict(event.get("prompt")).get("text")))
    elif action == "command.executed":
        failed = _str(inner.get("outcome")) == "failure"
        entry["counts"]["commands_failed"] += failed
        _keep(
            entry,
            "commands",
            {
                "command": target,
                "outcome": _str(inner.get("outcome")),
                "exit_code": _int_or_none(command.get("exit_code")),
            },
        )
    elif action == "approval.denied":
        denied = {"tool": tool_name, "target": target}
        _keep(entry, "approvals_denied", denied)
        call_id = _str(_dict(_dict(_dict(event.get("gen_ai")).get("tool")).get("call")).get("id"))
        waiting = entry["_denied_by_call"]
        if call_id and not target and len(waiting) < SUMMARY_KEEP:  # Codex names the command
            waiting[call_id] = denied  # only in the result that follows
    if action in FILE_ACTIONS:
        _keep_file(entry, FILE_ACTIONS[action], _str(file_.get("path")) or _str(tool.get("path")))
    if action in TOOL_ACTIONS and tool_name:
        _count_name(entry["tools"], tool_name)
    elif action == "mcp.tool_invoked":
        mcp = _dict(event.get("mcp"))
        name = "/".join(p for p in (_str(mcp.get("server")), _str(mcp.get("tool"))) if p)
        _count_name(entry["mcp"], name or tool_name or "unknown")
    _add_time(entry["time"], event, inner, action, tool_name)
    error = event.get("error")
    if isinstance(error, dict):
        _keep(
            entry,
            "errors",
            {"type": _str(error.get("type")) or "error", "message": _str(error.get("message"))},
        )
    _add_usage(entry, event, action)


def _add_time(
    time: Dict[str, Any], event: Dict[str, Any], inner: Dict[str, Any], action: str, tool_name: str
) -> None:
    """Where the time went: model calls (an event with usage and a duration), tool calls by
    tool, and the wait for a person's approval. Durations come from the records and spans that
    carry them; an agent that sends neither adds nothing."""
    duration = _int_or_none(inner.get("duration_ms"))
    if duration is not None and duration > 0:
        if action in TOOL_ACTIONS or action == "mcp.tool_invoked":
            tools = time["tools_ms"]
            name = tool_name or "unknown"
            if name not in tools and len(tools) >= NAMES_KEPT:
                name = OTHER
            tools[name] = tools.get(name, 0) + duration
        elif _dict(_dict(event.get("gen_ai")).get("usage")):
            time["model_ms"] += duration
    wait = _int_or_none(_dict(event.get("approval")).get("wait_ms"))
    if wait is not None and wait > 0:
        time["approval_wait_ms"] += wait


def _fill_denied_target(entry: Dict[str, Any], event: Dict[str, Any], target: str) -> None:
    """A denial without a command gets it from a later event of the same tool call."""
    if not target or not entry["_denied_by_call"]:
        return
    call_id = _str(_dict(_dict(_dict(event.get("gen_ai")).get("tool")).get("call")).get("id"))
    denied = entry["_denied_by_call"].pop(call_id, None)
    if denied is not None:
        denied["target"] = target


def _add_usage(entry: Dict[str, Any], event: Dict[str, Any], action: str) -> None:
    usage = usage_of(event, action)
    if usage is None:
        return
    # Claude and Gemini report usage twice: on each request event and again as token/cost
    # metrics (the same tokens, summed). Adding both would double every number, so metrics are
    # kept apart and used only for a harness whose requests carry no usage (Codex).
    is_metric, numbers = usage
    bucket = entry["_metric_usage" if is_metric else "_request_usage"]
    model = _str(event.get("model")) or "unknown"
    if model not in bucket and len(bucket) >= NAMES_KEPT:
        model = OTHER
    totals = bucket.setdefault(model, {name: 0 for name, _ in REQUEST_USAGE_KEYS})
    for name, value in numbers.items():
        totals[name] += value


def usage_of(event: Dict[str, Any], action: str) -> Optional[Tuple[bool, Dict[str, float]]]:
    """An event's usage: whether it is a metric's (token.usage, cost.usage) rather than a model
    request's, and its numbers by REQUEST_USAGE_KEYS name (0 where absent); None without any."""
    usage = _dict(_dict(event.get("gen_ai")).get("usage"))
    if not usage:
        return None
    is_metric = action in METRIC_ACTIONS or _str(_dict(event.get("event")).get("category")) == "metric"
    numbers = {}
    for name, path in REQUEST_USAGE_KEYS:
        value: Any = usage
        for part in path:  # cache_read.input_tokens is nested
            value = _dict(value).get(part)
        numbers[name] = _number(value)
    return is_metric, numbers


def _finish_harness(entry: Dict[str, Any]) -> Dict[str, Any]:
    request, metric = entry.pop("_request_usage"), entry.pop("_metric_usage")
    entry["models"] = request or metric
    entry["usage_source"] = "requests" if request else ("metrics" if metric else None)
    for totals in entry["models"].values():
        totals["cost_usd"] = round(totals["cost_usd"], 6)
    for key in ("_seen_files", "_denied_by_call", "_first_at", "_last_at"):
        entry.pop(key, None)
    entry["duration_seconds"] = _seconds_between(entry["first"], entry["last"])
    return entry


def _keep(entry: Dict[str, Any], section: str, item: Any) -> None:
    entry["counts"][section] += 1
    if len(entry[section]) < SUMMARY_KEEP:
        entry[section].append(item)


def _count_name(counts: Dict[str, int], name: str) -> None:
    if name not in counts and len(counts) >= NAMES_KEPT:
        name = OTHER
    counts[name] = counts.get(name, 0) + 1


def _keep_file(entry: Dict[str, Any], operation: str, path: str) -> None:
    """Each path once per operation: an agent reads the same file many times."""
    seen = entry["_seen_files"]
    if not path or (operation, path) in seen:
        return
    if len(seen) < FILES_TRACKED:
        seen.add((operation, path))
    entry["counts"]["files_" + operation] = entry["counts"].get("files_" + operation, 0) + 1
    if len(entry["files"][operation]) < SUMMARY_KEEP:
        entry["files"][operation].append(path)


def _widen_time(entry: Dict[str, Any], stamp: str) -> None:
    # Codex's metric events arrive before its logs with later times: take min and max, not order.
    moment = parse_time(stamp)
    if moment is None:
        return
    if entry["first"] is None or moment < entry["_first_at"]:
        entry["first"], entry["_first_at"] = stamp, moment
    if entry["last"] is None or moment > entry["_last_at"]:
        entry["last"], entry["_last_at"] = stamp, moment


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
_FIELDS_RE = re.compile(r"[-T:]")
_WHOLE_SECONDS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def parse_time(stamp: str) -> Optional[float]:
    """Seconds since the epoch of beacon's own UTC timestamps (the only form it writes)."""
    if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z" and stamp[20:23].isdigit():
        whole = _whole_seconds(stamp[:19])  # the form beacon writes, milliseconds: no regex
        return None if whole is None else whole + int(stamp[20:23]) / 1000
    match = _RFC3339.fullmatch(stamp)
    if not match:
        return None
    whole = _whole_seconds(stamp[:19])
    return None if whole is None else whole + float("0." + (match.group(7) or "0"))


@functools.lru_cache(maxsize=4096)  # a session's events share their seconds: parse each once
def _whole_seconds(prefix: str) -> Optional[float]:
    if not _WHOLE_SECONDS_RE.fullmatch(prefix):
        return None
    year, month, day, hour, minute, second = (int(part) for part in _FIELDS_RE.split(prefix))
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return moment.timestamp()


def _seconds_between(first: Optional[str], last: Optional[str]) -> Optional[float]:
    start, end = parse_time(first or ""), parse_time(last or "")
    return None if start is None or end is None else round(end - start, 3)


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _number(value: Any) -> float:
    """A usage number, or 0: a hostile or broken log must not turn a total into a string or NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return value


def _int_or_none(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_totals(summary: Mapping[str, Any]) -> Dict[str, float]:
    """Input and output tokens and cost of the whole summary (every harness and model): what
    the budgets judge and the step outputs say."""
    totals = {"input_tokens": 0.0, "output_tokens": 0.0, "cost_usd": 0.0}
    for harness in summary.get("harnesses", ()):
        for model in harness["models"].values():
            for key in totals:
                totals[key] += model[key]
    totals["cost_usd"] = round(totals["cost_usd"], 6)
    return totals
