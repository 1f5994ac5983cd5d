"""The summary as GitHub's job summary: status first, then per harness a table and folded
details. Agent text is escaped so it can never become HTML or Markdown structure, and the
whole stays under GitHub's 1 MiB limit.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Sequence, Tuple

from beacon_ci.report.summary import MARKDOWN_LIMIT, SUMMARY_ITEM_CHARS, SUMMARY_SHOWN
from beacon_ci.report.text import duration_text, failed_stages, one_line, time_text, token_totals

# Agent text only ever lands mid-line (after "- " or in a table cell), so only the inline
# constructs matter: code spans, emphasis, links/images, strikethrough and table pipes.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value: str, limit: int = SUMMARY_ITEM_CHARS) -> str:
    """Agent text as inert Markdown: one line, no HTML (`<`, `&` become entities), every
    Markdown punctuation character backslash-escaped (so `|` cannot split a table cell)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value, limit))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(summary: Mapping[str, Any], sections: Sequence[str] = ()) -> str:
    """Status first, then `sections` (the findings), then per harness a table and folded
    details; always under MARKDOWN_LIMIT bytes."""
    blocks = [_markdown_status(summary), *sections]
    for h in summary["harnesses"]:
        blocks.append(_markdown_harness(h))
        blocks.extend(_markdown_details(h))
    return _fit_markdown(blocks)


def _fit_markdown(blocks: List[str]) -> str:
    """Whole blocks only (never half a <details>), stopping before the limit."""
    tail = "\n_… summary cut to stay under 1 MiB: {} more sections left out._\n"
    budget = MARKDOWN_LIMIT - len(tail.encode()) - 20
    kept: List[str] = []
    used = 0
    for index, block in enumerate(blocks):
        size = len(block.encode("utf-8")) + 1
        if used + size > budget:
            kept.append(tail.format(len(blocks) - index))
            break
        kept.append(block)
        used += size
    return "\n".join(kept)


def _markdown_status(summary: Mapping[str, Any]) -> str:
    validation = summary.get("validation")
    if validation is None:
        status = "not checked"
    else:
        status = "✅ passed" if validation["status"] == "passed" else "❌ failed"
    lines = [
        "### beacon: what the agent did",
        "",
        f"**Telemetry validation: {status}** · {summary['event_count']} events · "
        f"{len(summary['harnesses'])} harness{'' if len(summary['harnesses']) == 1 else 'es'}"
        + "".join(f" · trace `{md_escape(t, 40)}`" for t in (validation or {}).get("trace_ids", [])[:3]),
        "",
    ]
    lines.extend(
        f"- {md_escape(stage['name'])}: {md_escape(str(stage['detail']))}" for stage in failed_stages(summary)
    )
    lines.extend(f"- ⚠️ {md_escape(warning)}" for warning in summary.get("warnings", ()))
    return "\n".join(lines)


def _markdown_harness(h: Mapping[str, Any]) -> str:
    counts = h["counts"]
    title = f"{md_escape(h['name'], 80)} {md_escape(h['version'], 40)}".rstrip()
    tokens = " · ".join(
        f"{md_escape(model, 80)}: {token_totals(t)}" for model, t in sorted(h["models"].items())
    )
    rows = [
        ("events", f"{h['events']}"),
        (
            "duration",
            duration_text(h["duration_seconds"]) if h["duration_seconds"] is not None else "unknown",
        ),
        ("prompts", str(counts["prompts"])),
        ("commands", f"{counts['commands']} ({counts['commands_failed']} failed)"),
        ("files", ", ".join(f"{counts.get('files_' + op, 0)} {op}" for op in h["files"])),
        ("tool calls", str(sum(h["tools"].values()))),
        ("MCP calls", str(sum(h["mcp"].values()))),
        ("approvals denied", str(counts["approvals_denied"])),
        ("errors", str(counts["errors"])),
        ("redacted events", str(h["redacted"])),
        ("models", tokens or "no usage reported"),
        ("time spent", md_escape(time_text(h["time"])) or "not reported"),
    ]
    table = "\n".join(f"| {label} | {value} |" for label, value in rows)
    return f"### {title}\n\n| | |\n| --- | --- |\n{table}\n"


def _markdown_details(h: Mapping[str, Any]) -> List[str]:
    counts = h["counts"]
    commands = [
        f"{md_escape(c['outcome'] or 'unknown', 20)}"
        + (f" (exit {c['exit_code']})" if c["exit_code"] is not None else "")
        + f": {md_escape(c['command']) or '(not recorded)'}"
        for c in h["commands"]
    ]
    sections = [
        ("Prompts", counts["prompts"], [md_escape(p) or "(not recorded)" for p in h["prompts"]]),
        ("Commands", counts["commands"], commands),
        (
            "Approvals denied",
            counts["approvals_denied"],
            [
                f"{md_escape(d['tool'], 80) or 'unknown'}: {md_escape(d['target']) or '(no target recorded)'}"
                for d in h["approvals_denied"]
            ],
        ),
        (
            "Errors",
            counts["errors"],
            [
                md_escape(e["type"], 80) + (f": {md_escape(e['message'])}" if e["message"] else "")
                for e in h["errors"]
            ],
        ),
        ("Tools", len(h["tools"]), [f"{md_escape(n, 80)}: {c}" for n, c in _ranked(h["tools"])]),
        ("MCP calls", len(h["mcp"]), [f"{md_escape(n, 80)}: {c}" for n, c in _ranked(h["mcp"])]),
    ]
    for op, paths in h["files"].items():
        sections.append((f"Files {op}", counts.get("files_" + op, 0), [md_escape(p) for p in paths]))
    return [_details(title, total, items) for title, total, items in sections if total]


def _ranked(counter: Mapping[str, int]) -> List[Tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _details(title: str, total: int, items: Sequence[str]) -> str:
    shown = [f"- {item}" for item in items[:SUMMARY_SHOWN]]
    if total > len(shown):
        shown.append(f"- … and {total - len(shown)} more")
    return f"<details><summary>{title} ({total})</summary>\n\n" + "\n".join(shown) + "\n\n</details>\n"
