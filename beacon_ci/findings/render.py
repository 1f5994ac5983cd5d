"""Judged findings for people: a text list for the CI log, a Markdown section for the job
summary, a one-line message per finding (annotations, SARIF). Most severe first, each with its
evidence, capped; quoted agent text goes through the summary's own escaping."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from beacon_ci.findings.rules import SEVERITIES
from beacon_ci.report.summary import SUMMARY_SHOWN
from beacon_ci.report.text import count_of, one_line

QUOTE_CHARS = 160  # of a quoted command in a one-line message
IDS_SHOWN = 3  # event ids of a finding in the text and Markdown forms
SEVERITY_MARKS = {"critical": "🟣", "high": "🔴", "medium": "🟠", "low": "🟡"}


def message(finding: Mapping[str, Any], limit: int = QUOTE_CHARS) -> str:
    """The finding in one line: its title, what it quotes, what it counts, and who did it."""
    text = finding["title"]
    if finding.get("quote"):
        text += f": {one_line(finding['quote'], limit)}"
    if finding.get("detail"):
        text += f" ({finding['detail']})"
    return text + (f" [{finding['harness']}]" if finding.get("harness") else "")


def tally(judged: Mapping[str, Any]) -> str:
    """ "3 findings (1 critical, 2 low)"."""
    parts = [f"{judged['by_severity'][s]} {s}" for s in reversed(SEVERITIES) if judged["by_severity"][s]]
    return count_of(judged["count"], "finding") + (f" ({', '.join(parts)})" if parts else "")


def render_text(judged: Mapping[str, Any], limit: Optional[int] = None) -> str:
    """Lines without a prefix: the tally, then per finding its severity, rule and message, and
    its evidence; at most `limit` findings."""
    lines = [f"findings: {tally(judged)}"]
    shown = judged["findings"] if limit is None else judged["findings"][:limit]
    for finding in shown:
        lines.append(f"  {finding['severity']:<8} {finding['rule']} {message(finding)}")
        lines.append(f"           evidence: {_evidence(finding)}")
    lines.extend(_more(judged, len(shown)))
    return "\n".join(lines)


def render_markdown(judged: Mapping[str, Any]) -> str:
    """The job summary's findings section: a table, most severe first, at most SUMMARY_SHOWN rows."""
    from beacon_ci.report.markdown import md_escape  # a run without a job summary never loads it

    lines = ["### beacon: findings", ""]
    if not judged["count"]:
        return "\n".join([*lines, "No findings.", ""])
    lines += [
        f"**{tally(judged)}**",
        "",
        "| severity | rule | finding | evidence |",
        "| --- | --- | --- | --- |",
    ]
    shown = judged["findings"][:SUMMARY_SHOWN]
    for finding in shown:
        mark = SEVERITY_MARKS[finding["severity"]]
        lines.append(
            f"| {mark} {finding['severity']} | {finding['rule']} | {md_escape(message(finding), 400)} "
            f"| {md_escape(_evidence(finding), 200)} |"
        )
    lines += ["", *(f"_{md_escape(line, 300)}_" for line in _more(judged, len(shown))), ""]
    return "\n".join(lines)


def _evidence(finding: Mapping[str, Any]) -> str:
    ids = finding["events"][:IDS_SHOWN]
    more = finding["event_count"] - len(ids)
    shown = ", ".join(ids) + (f" and {more} more" if more > 0 else "")
    return f"{count_of(finding['event_count'], 'event')}" + (f": {shown}" if ids else "")


def _more(judged: Mapping[str, Any], shown: int) -> List[str]:
    lines = []
    hidden = len(judged["findings"]) - shown
    if hidden:
        lines.append(f"… and {count_of(hidden, 'more finding')} (beacon ci findings lists them all)")
    if judged["omitted"]:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(judged["omitted"].items()))
        lines.append(f"past the {len(judged['findings'])} findings kept, more events fired: {rules}")
    return lines
