"""The summary as a short aligned table for the CI log. Agent strings are hostile: each is kept
to one short line with no control characters (a newline could start a `::` workflow command)
and no bidirectional controls (they could make a command read as another).
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Sequence, Tuple

from beacon_ci.report.summary import TEXT_ITEM_CHARS


def render_text(summary: Mapping[str, Any]) -> str:
    """Lines without a prefix; exec prints each through env.say."""
    validation = summary.get("validation")
    status = validation["status"] if validation else "not checked"
    lines = [f"summary: {summary['event_count']} events, validation {status}{trace_text(summary)}"]
    lines.extend(
        f"  {one_line(stage['name'])}: {one_line(str(stage['detail']), 400)}"
        for stage in failed_stages(summary)
    )
    if not summary["harnesses"]:
        lines.append("  no agent events")
    for h in summary["harnesses"]:
        lines.append(f"  {one_line(h['name'])} {one_line(h['version'])}".rstrip() + ":")
        lines.extend(f"    {label:<10} {value}" for label, value in _text_rows(h))
    return "\n".join(lines)


def trace_text(summary: Mapping[str, Any]) -> str:
    """ ", trace <id>": the trace the capture ran its agent in, to find its spans by."""
    trace_ids = (summary.get("validation") or {}).get("trace_ids") or []
    return f", trace {', '.join(one_line(t, 40) for t in trace_ids[:3])}" if trace_ids else ""


def failed_stages(summary: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """The validation stages that failed: the reasons both forms give."""
    return [
        stage for stage in (summary.get("validation") or {}).get("stages", []) if stage["status"] != "pass"
    ]


def _text_rows(h: Mapping[str, Any]) -> List[Tuple[str, str]]:
    counts, files = h["counts"], h["files"]
    rows = [
        (
            "events",
            f"{h['events']}"
            + (f" over {duration_text(h['duration_seconds'])}" if h["duration_seconds"] is not None else ""),
        ),
        ("prompts", str(counts["prompts"])),
        ("commands", f"{counts['commands']} ({counts['commands_failed']} failed)"),
        ("files", ", ".join(f"{counts.get('files_' + op, 0)} {op}" for op in files)),
        ("tools", _counted(h["tools"]) or "none"),
        ("mcp calls", _counted(h["mcp"]) or "none"),
        (
            "denied",
            str(counts["approvals_denied"])
            + _first_text(
                [f"{d['tool']}: {d['target']}" if d["target"] else d["tool"] for d in h["approvals_denied"]]
            ),
        ),
        (
            "errors",
            str(counts["errors"])
            + _first_text(
                [f"{e['type']}: {e['message']}" if e["message"] else e["type"] for e in h["errors"]]
            ),
        ),
        ("redacted", f"{h['redacted']} events"),
    ]
    for model, totals in sorted(h["models"].items()):
        rows.append(("model", f"{one_line(model)}: {token_totals(totals)}"))
    time = time_text(h["time"])
    if time:
        rows.append(("time", time))
    return rows


def time_text(time: Mapping[str, Any]) -> str:
    """Where an agent's time went, when its records or spans said: "model 12.3s, tools 4.1s
    (bash 3.9s, view 0.2s), approvals 0.0s"; empty when nothing was timed."""
    tools = time["tools_ms"]
    if not (time["model_ms"] or tools or time["approval_wait_ms"]):
        return ""
    ranked = sorted(tools.items(), key=lambda item: (-item[1], item[0]))
    by_tool = ", ".join(f"{one_line(name)} {milliseconds_text(ms)}" for name, ms in ranked[:6])
    by_tool += f", … and {len(ranked) - 6} more" if len(ranked) > 6 else ""
    return (
        f"model {milliseconds_text(time['model_ms'])}, "
        f"tools {milliseconds_text(sum(tools.values()))}"
        + (f" ({by_tool})" if by_tool else "")
        + f", approvals {milliseconds_text(time['approval_wait_ms'])}"
    )


def milliseconds_text(ms: int) -> str:
    return f"{ms}ms" if ms < 1000 else duration_text(ms / 1000)


def _counted(counter: Mapping[str, int]) -> str:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{one_line(name)} {n}" for name, n in ranked[:6])
    return shown + (f", … and {len(ranked) - 6} more" if len(ranked) > 6 else "")


def _first_text(items: Sequence[str]) -> str:
    return f" (first: {one_line(items[0])})" if items else ""


def token_totals(totals: Mapping[str, Any]) -> str:
    return (
        f"{int(totals['input_tokens'])} in, {int(totals['output_tokens'])} out, "
        f"{int(totals['cache_read_tokens'])} cache read, "
        f"{int(totals['cache_creation_tokens'])} cache write, "
        f"${totals['cost_usd']:.4f}"
    )


def count_of(n: int, noun: str) -> str:
    """A count and its noun: "1 request", "2 requests"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def duration_text(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


_BREAKS = re.compile("[\t\n\u2028\u2029]+")  # what sanitize_text leaves that would break the line


def one_line(value: str, limit: int = TEXT_ITEM_CHARS) -> str:
    """One short line: sanitized as protection sanitizes what it writes (a log read back may
    not have been), with no line breaks either (a newline could start a `::` workflow command)."""
    if value.isascii() and value.isprintable():  # beacon's own words: nothing to clean
        flat = value.strip()
    else:
        # Imported here: exec loads this module, and no protection code until an event arrives.
        from beacon_protect.text import sanitize_text

        flat = _BREAKS.sub(" ", sanitize_text(value)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
