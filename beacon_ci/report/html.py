"""The HTML report: one self-contained page per capture, for a reviewer to open from disk. The
verdict and the findings first, then each agent, tokens and cost over time, and the timeline of
every event on one time axis, with filters, a search, and each entry's fields.

Every string on the page came from an agent and is hostile. The page's markup holds no data: the
events and the report are JSON inside `<script type="application/json">` elements (script_json:
nothing in them can end the element or start markup), and the page's own script builds the DOM
from them with textContent and createElement only. A Content-Security-Policy lets nothing load
and runs only the page's own script and style, by their hashes; the only links are to the run on
GitHub, built here from parts that are checked one by one.

Large captures: the page is written as the log is read, one event at a time, so memory does not
grow with the log. Each event is a short row (time, agent, kind, outcome, a label of at most
LABEL_CHARS characters, its id) and its fields, without those that every event of the capture
shares; the fields fit in PAGE_BUDGET / events bytes (at most ENTRY_BYTES), losing first `raw`,
then the tail of long strings, then everything, and the page says how many entries were cut.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from typing import Any, BinaryIO, Dict, List, Mapping, NamedTuple, Optional, Tuple

from beacon_ci import __version__
from beacon_ci.findings.fold import target_of, tool_name
from beacon_ci.findings.render import tally
from beacon_ci.findings.rules import RULES_BY_ID
from beacon_ci.report.html_assets import BODY, SCRIPT, STYLE
from beacon_ci.report.summary import parse_time, usage_of
from beacon_ci.report.text import count_of
from beacon_protect.text import sanitize_text

PAGE_BUDGET = 20 * 1024 * 1024  # bytes of events: with the report around them, under 25 MB
ENTRY_BYTES = 32 * 1024  # bytes of one event's fields when the capture is small
ROWS_KEPT = 150_000  # events on the page (their rows alone fill it); past that, counted, not shown
LABEL_CHARS = 200  # of the text that names an event in its row
CUT_CHARS = 160  # of each string in an event's fields when they do not fit whole
FIELDS_MIN_BYTES = 256  # fields cut smaller than this say little more than the row: left out
NAMES_KEPT = 100  # distinct agent names and actions; the rest share OTHER
OTHER = "(other)"
AGENTS_TOOLS_SHOWN = 8  # tools and MCP tools named per agent
# Top-level fields that are the same for every event of a capture (where it ran, which capture):
# shown once at the top, left out of each event that has them all as the first event had them.
SHARED_KEYS = ("vendor", "product", "schema_version", "endpoint", "user", "origin", "run", "capture")
SEVERITIES = ("info", "low", "medium", "high", "critical")
OUTCOMES = {"success": 1, "failure": 2}
# How much of an event's fields its entry kept (the page explains each).
WHOLE, WITHOUT_RAW, STRINGS_CUT, LEFT_OUT = range(4)

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# In a script element, `</script` or `<!--` would end or confuse it: no `<`, `>` or `&` at all
# (they only occur inside JSON strings, where \\u escapes mean the same), and no line separators.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


# The C1 controls, which JSON leaves as they are. Removed before sanitize_text sees the JSON: it
# removes terminal escape sequences whole, and one that began with a C1 control could run on over
# the quotes and commas between two strings.
_C1_RE = re.compile("[\x80-\x9f]")


def script_json(value: Any) -> str:
    """`value` as JSON that is inert inside `<script type="application/json">`, its text sanitized
    as protection sanitizes what it writes (a log read back may not have been written by beacon):
    no bidirectional controls, no lone surrogates. ValueError for NaN or infinity."""
    return sanitize_text(_C1_RE.sub("", _ENCODER.encode(value))).translate(_SCRIPT_ESCAPES)


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


# Nothing may load: no script, style, image, font, frame or connection but the page's own two.
CSP = (
    f"default-src 'none'; script-src {_digest(SCRIPT)}; style-src {_digest(STYLE)}; "
    "base-uri 'none'; form-action 'none'"
)
HEAD = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>beacon report</title>
<style>{STYLE}</style>
</head>
<body>
{BODY}
<script type="application/json" id="beacon-events">["""


class ReportFacts(NamedTuple):
    """What the page concludes with, beside the events: the capture's judgement."""

    summary: Mapping[str, Any]  # a Summary's result, its validation in it
    findings: Mapping[str, Any]  # judged findings (findings.judge)
    fail_on: Optional[str]
    failing: int  # findings that fail the capture (judge.failing)
    required: bool  # whether failed validation fails the capture (--require-telemetry)
    command: Optional[Mapping[str, Any]]  # exec: how the command ended (ChildExit.as_json)
    log_name: str  # the log's file name, where the whole events are
    generated: float  # when the page was written, seconds since the epoch


class ReportPage:
    """Writes the page to `out` (bytes) as the log is read: add() each event of the capture, then
    finish() once. `expected` is how many events there may be (the log's line count will do), for
    each event's share of PAGE_BUDGET."""

    def __init__(self, out: BinaryIO, expected: int) -> None:
        self._out = out
        self.entry_bytes = min(ENTRY_BYTES, PAGE_BUDGET // max(1, expected))
        self.events = 0
        self.trimmed = 0  # entries whose fields were cut or left out
        self._names: Dict[str, int] = {}
        self._actions: Dict[str, Tuple[int, str]] = {}
        self._shared: Optional[Dict[str, Any]] = None
        self._write(HEAD)

    def _write(self, text: str) -> None:
        self._out.write(text.encode("utf-8"))

    def add(self, event: Dict[str, Any]) -> None:
        self.events += 1
        if self.events > ROWS_KEPT:
            return
        if self._shared is None:
            self._shared = shared_fields(event)
        row = self._row(event)
        shared = all(event.get(key) == value for key, value in self._shared.items())
        fields = {k: v for k, v in event.items() if not (shared and k in self._shared)}
        head = script_json(row)[:-1]  # the row without its closing bracket: the fields follow
        kept, trim = fit_fields(fields, self.entry_bytes - len(head.encode("utf-8")))
        self.trimmed += trim != WHOLE
        separator = "," if self.events > 1 else ""
        self._write(f"{separator}{head},{kept or 'null'},{int(shared)},{trim}]")

    def _row(self, event: Dict[str, Any]) -> List[Any]:
        inner = _dict(event.get("event"))
        action = _text(inner.get("action")) or "(none)"
        usage = usage_of(event, action)
        moment = parse_time(_text(event.get("timestamp")))
        duration = _number(inner.get("duration_ms"), _dict(event.get("command")).get("duration_ms"))
        if (
            moment is not None
            and duration is not None
            and _dict(event.get("raw")).get("otel_signal") == "traces"
        ):
            moment += duration / 1000  # a span's event is stamped at its start; a record at its end
        return [
            None if moment is None else round(moment * 1000),
            self._agent_index(_text(_dict(event.get("harness")).get("name")) or "unknown"),
            self._action_index(action, _text(inner.get("category"))),
            OUTCOMES.get(_text(inner.get("outcome")), 0),
            SEVERITIES.index(event["severity"]) if event.get("severity") in SEVERITIES else 0,
            label_of(event, action)[:LABEL_CHARS],
            _text(inner.get("id")),
            duration,
            _number(_dict(event.get("command")).get("exit_code")),
            _number(_dict(event.get("approval")).get("wait_ms")),
            None if usage is None else _usage_cell(usage),
            int(isinstance(event.get("error"), dict)),
        ]

    def _agent_index(self, name: str) -> int:
        if name not in self._names and len(self._names) >= NAMES_KEPT:
            name = OTHER
        return self._names.setdefault(name, len(self._names))

    def _action_index(self, action: str, category: str) -> int:
        if action not in self._actions and len(self._actions) >= NAMES_KEPT:
            action, category = OTHER, "other"
        if action not in self._actions:
            self._actions[action] = (len(self._actions), category or action.split(".")[0])
        return self._actions[action][0]

    def finish(self, facts: ReportFacts) -> None:
        """Close the events and write the report the page's script draws."""
        report = {
            "meta": self._meta(facts),
            "harnesses": list(self._names),
            "actions": [[action, category] for action, (_, category) in self._actions.items()],
            "verdict": verdict(facts),
            "findings": facts.findings,
            "rules": {rule: RULES_BY_ID[rule].help for rule in _rules_of(facts.findings)},
            "agents": [agent_card(h) for h in facts.summary.get("harnesses", ())],
            "limits": {
                "events": self.events,
                "shown": min(self.events, ROWS_KEPT),
                "entry_bytes": self.entry_bytes,
                "trimmed": self.trimmed,
                "label_chars": LABEL_CHARS,
                "cut_chars": CUT_CHARS,
            },
        }
        self._write(
            ']</script>\n<script type="application/json" id="beacon-report">'
            + script_json(report)
            + f"</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
        )

    def _meta(self, facts: ReportFacts) -> Dict[str, Any]:
        shared = self._shared or {}
        run = _dict(shared.get("run"))
        return {
            "shared": shared,
            "run": run,
            "links": run_links(run),
            "capture": _dict(shared.get("capture")),
            "log": facts.log_name,
            "generated": round(facts.generated * 1000),
            "beacon": __version__,
        }


def shared_fields(event: Dict[str, Any]) -> Dict[str, Any]:
    """The fields of SHARED_KEYS the first event has, which every event like it shares; none
    when they cannot be JSON (a hostile log's NaN), so that each event keeps its own."""
    shared = {key: event[key] for key in SHARED_KEYS if key in event}
    try:
        script_json(shared)
    except (ValueError, RecursionError):
        return {}
    return shared


def fit_fields(fields: Dict[str, Any], room: int) -> Tuple[Optional[str], int]:
    """An event's fields, encoded, in at most `room` bytes: whole, else without `raw`, else
    with each string cut to CUT_CHARS, else left out (None). Left out too when they cannot be
    JSON (a hostile log's NaN, or nesting too deep to walk)."""
    if room < FIELDS_MIN_BYTES:
        return None, LEFT_OUT
    candidates = (
        (WHOLE, lambda: fields),
        (WITHOUT_RAW, lambda: {k: v for k, v in fields.items() if k != "raw"}),
        (STRINGS_CUT, lambda: _cut_strings({k: v for k, v in fields.items() if k != "raw"})),
    )
    for trim, make in candidates:
        if trim == WITHOUT_RAW and "raw" not in fields:
            continue
        try:
            text = script_json(make())
        except (ValueError, RecursionError):
            return None, LEFT_OUT
        if len(text.encode("utf-8")) <= room:
            return text, trim
    return None, LEFT_OUT


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= CUT_CHARS else value[: CUT_CHARS - 1] + "…"
    if isinstance(value, dict):
        return {_cut_strings(k): _cut_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v) for v in value]
    return value


def label_of(event: Dict[str, Any], action: str) -> str:
    """The text that names an event in its row: the prompt, the command, the path, the tool and
    what it was called on, the error, or the agent's own message."""
    target = target_of(event)
    tool = tool_name(event)
    if action == "prompt.submitted":
        return _text(_dict(event.get("prompt")).get("text")) or "(prompt not recorded)"
    if action == "mcp.tool_invoked":
        mcp = _dict(event.get("mcp"))
        name = "/".join(p for p in (_text(mcp.get("server")), _text(mcp.get("tool"))) if p) or tool
        return f"{name} {target}".strip()
    if action.startswith(("command.", "file.")) and target:
        return target
    if target or tool:
        return f"{tool}: {target}" if tool and target else target or tool
    error = event.get("error")
    if isinstance(error, dict):
        return ": ".join(p for p in (_text(error.get("type")), _text(error.get("message"))) if p)
    model = _text(event.get("model"))
    message = _text(event.get("message")) or action
    return f"{message} · {model}" if model else message


def _usage_cell(usage: Tuple[bool, Dict[str, float]]) -> List[Any]:
    is_metric, numbers = usage
    return [numbers["input_tokens"] + numbers["output_tokens"], round(numbers["cost_usd"], 6), int(is_metric)]


def verdict(facts: ReportFacts) -> Dict[str, Any]:
    """The page's first words: fail, review or pass, a headline, and the points behind it."""
    validation = _dict(facts.summary.get("validation"))
    passed = validation.get("status") == "passed"
    failed_stages = [
        f"{stage.get('name')}: {stage.get('detail')}"
        for stage in validation.get("stages", ())
        if stage.get("status") != "pass"
    ]
    failures = []
    command = facts.command
    if command and command.get("exit_code"):
        failures.append(_ended(command))
    if not passed and facts.required:
        failures.append("telemetry validation failed")
    if facts.failing:
        why = f"at or above --fail-on {facts.fail_on}" if facts.fail_on else "over a budget"
        failures.append(f"{count_of(facts.failing, 'finding')} {why}")
    points = [f"validation {'passed' if passed else 'failed'}: {validation.get('event_count', 0)} events"]
    points += failed_stages
    points.append(tally(facts.findings) if facts.findings.get("count") else "no findings")
    if command:
        points.append(_ended(command))
    if failures:
        return {"level": "fail", "headline": "Failed: " + "; ".join(failures), "points": points}
    if facts.findings.get("count") or not passed:
        reasons = [tally(facts.findings)] if facts.findings.get("count") else []
        reasons += [] if passed else ["telemetry validation failed (not required)"]
        return {"level": "review", "headline": "To review: " + "; ".join(reasons), "points": points}
    return {"level": "pass", "headline": "Passed: no findings", "points": points}


def _ended(command: Mapping[str, Any]) -> str:
    killed = command.get("killed_by")
    return (
        f"the command was killed by {killed}" if killed else f"the command exited {command.get('exit_code')}"
    )


def agent_card(harness: Mapping[str, Any]) -> Dict[str, Any]:
    """What the page says of one agent: the summary's counts and usage, not its lists (the
    timeline shows every item)."""
    return {
        "name": harness["name"],
        "version": harness["version"],
        "events": harness["events"],
        "first": harness["first"],
        "last": harness["last"],
        "duration_seconds": harness["duration_seconds"],
        "counts": harness["counts"],
        "redacted": harness["redacted"],
        "tools": _most(harness["tools"]),
        "mcp": _most(harness["mcp"]),
        "models": harness["models"],
        "usage_source": harness["usage_source"],
    }


def _most(counts: Mapping[str, int]) -> List[List[Any]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [[name, n] for name, n in ranked[:AGENTS_TOOLS_SHOWN]] + (
        [[f"{len(ranked) - AGENTS_TOOLS_SHOWN} more", sum(n for _, n in ranked[AGENTS_TOOLS_SHOWN:])]]
        if len(ranked) > AGENTS_TOOLS_SHOWN
        else []
    )


def _rules_of(findings: Mapping[str, Any]) -> List[str]:
    return sorted({f["rule"] for f in findings.get("findings", ()) if f.get("rule") in RULES_BY_ID})


_REPOSITORY_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_COMMIT_RE = re.compile(r"[0-9a-f]{7,64}")
_NUMBER_RE = re.compile(r"[0-9]{1,20}")
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")
_WORKFLOW_REF_RE = re.compile(r"(?P<path>\.github/workflows/[A-Za-z0-9_./-]{1,200})@(?P<ref>[^\s@]{1,250})")
GITHUB = "https://github.com"


def run_links(run: Mapping[str, Any]) -> Dict[str, str]:
    """https links to the run, repository, commit, pull request, branch and workflow file on
    GitHub, each built from parts that match what GitHub allows (a part that does not is not
    linked). The server is the one the run's own URL names, when that URL is exactly the run's."""
    repository = _text(run.get("repository"))
    if run.get("provider") != "github_actions" or not _REPOSITORY_RE.fullmatch(repository):
        return {}
    base = f"{_server(run, repository)}/{repository}"
    links = {"repository": base}
    parts = {
        "run": (_NUMBER_RE, "run_id", "/actions/runs/{}"),
        "commit": (_COMMIT_RE, "commit", "/commit/{}"),
        "pr": (_NUMBER_RE, "pr_number", "/pull/{}"),
    }
    for name, (pattern, key, path) in parts.items():
        value = _text(run.get(key))
        if pattern.fullmatch(value):
            links[name] = base + path.format(value)
    branch = _text(run.get("branch"))
    if branch and ".." not in branch and branch.isprintable():
        links["branch"] = f"{base}/tree/{urllib.parse.quote(branch, safe='/')}"
    workflow = _WORKFLOW_REF_RE.fullmatch(_text(run.get("workflow_ref"))[len(repository) + 1 :])
    if _text(run.get("workflow_ref")).startswith(repository + "/") and workflow:
        ref, path = workflow.group("ref"), workflow.group("path")
        links["workflow"] = f"{base}/blob/{urllib.parse.quote(ref, safe='/')}/{urllib.parse.quote(path)}"
    return links


def _server(run: Mapping[str, Any], repository: str) -> str:
    """https://<host> from the run's URL when it is https and names this very run; else GitHub."""
    try:
        url = urllib.parse.urlsplit(_text(run.get("url")))
    except ValueError:
        return GITHUB
    expected = f"/{repository}/actions/runs/{_text(run.get('run_id'))}"
    if url.scheme == "https" and _HOST_RE.fullmatch(url.netloc) and url.path == expected and not url.query:
        return f"https://{url.netloc}"
    return GITHUB


def _number(*values: Any) -> Optional[float]:
    """The first finite number, rounded to an integer when whole; None without one."""
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e15:
            return int(value) if value == int(value) else round(value, 3)
    return None


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
