"""The HTML report without a browser: what the page embeds (every event of the capture, its
fields, the verdict, the findings, the run's links), how each string is made inert in its
context, the size budget, and the commands that write it (ci report, exec and finish --html).
tests/test_html_browser.py opens the same pages in Chromium."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import stat
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from test_exec import FAKE_AGENT, Run, beacon_run, environ
from test_session import exports_from, run_agent

from beacon_ci.errors import EXIT_ERROR, EXIT_USAGE
from beacon_ci.eventlog import event_line
from beacon_ci.report import html
from beacon_ci.report.html import (
    LEFT_OUT,
    STRINGS_CUT,
    WHOLE,
    WITHOUT_RAW,
    ReportFacts,
    ReportPage,
    fit_fields,
    run_links,
    script_json,
    verdict,
)
from beacon_ci.report.summary import parse_time

AGENTS = ("claude", "codex", "gemini", "copilot")
# The row of an event (html.py ReportPage._row), then its fields, shared flag and trim level.
T, H, A, OUTCOME, SEV, LABEL, ID, DUR, EXIT, WAIT, USAGE, ERR, FIELDS, SHARED, TRIM = range(15)
GITHUB_RUN = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_WORKFLOW": "agent review",
    "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/review.yml@refs/pull/7/merge",
    "GITHUB_JOB": "review",
    "GITHUB_SHA": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_REF": "refs/pull/7/merge",
    "GITHUB_HEAD_REF": "fix-parser",
    "GITHUB_ACTOR": "octocat",
}
DATA_RE = re.compile(
    r'<script type="application/json" id="(beacon-events|beacon-report)">(.*?)</script>', re.S
)


def replayed(tmp_path: Path, agent: str, *options: str, **extra_env: str) -> Run:
    """`beacon ci exec --html` of the session recorded from the real agent CLI (its OTLP bodies,
    replayed by tests/fake_agent.py through the receiver, normalizer, protection and writer), in
    a GitHub Actions job."""
    return beacon_run(
        tmp_path,
        *("ci", "exec", "--json", "--harness", agent, "--html", *options),
        *("--", sys.executable, FAKE_AGENT, "--replay", agent),
        env=environ(tmp_path, **GITHUB_RUN, **extra_env),
    )


def embedded(page: Path) -> Tuple[List[List[Any]], Dict[str, Any]]:
    """The page's events (one row each) and its report, as its script reads them."""
    found = dict(DATA_RE.findall(page.read_text(encoding="utf-8")))
    return json.loads(found["beacon-events"]), json.loads(found["beacon-report"])


def whole_event(row: List[Any], report: Dict[str, Any]) -> Dict[str, Any]:
    """An entry's fields with the capture's shared ones, as the page shows them."""
    return {**row[FIELDS], **(report["meta"]["shared"] if row[SHARED] else {})}


# --- exec, finish and report write it -------------------------------------------------------


@pytest.mark.parametrize("agent", AGENTS)
def test_exec_writes_the_page_of_a_real_agents_capture_beside_the_log(
    captures: Dict[str, Run], agent: str
) -> None:
    run = captures[agent]
    page = Path(run.result["html_path"])
    assert page == run.log.parent / f"report-{run.result['capture_id']}.html"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f"beacon: HTML report: {page}\n" in run.stderr
    rows, report = embedded(page)
    events = run.events
    assert [row[ID] for row in rows] == [event["event"]["id"] for event in events]
    # A small capture keeps every field of every event: the page's entries are the log's events.
    assert all(row[TRIM] == WHOLE and row[SHARED] == 1 for row in rows)
    assert [whole_event(row, report) for row in rows] == events
    assert report["harnesses"] == [events[0]["harness"]["name"]]
    assert report["limits"]["events"] == len(events) and report["limits"]["trimmed"] == 0
    judged = {
        k: v for k, v in run.result["findings"].items() if k not in ("fail_on", "failing", "sarif_path")
    }
    assert report["findings"] == judged and judged["count"] == 2  # its secret and its denial
    assert report["verdict"]["level"] == "review"
    assert report["verdict"]["points"][-1] == "the command exited 0"


def test_the_run_is_linked_on_github(captures: Dict[str, Run]) -> None:
    _, report = embedded(Path(captures["claude"].result["html_path"]))
    base = "https://github.com/acme/app"
    assert report["meta"]["links"] == {
        "repository": base,
        "run": f"{base}/actions/runs/4242",
        "commit": f"{base}/commit/0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
        "pr": f"{base}/pull/7",
        "branch": f"{base}/tree/fix-parser",
        "workflow": f"{base}/blob/refs/pull/7/merge/.github/workflows/review.yml",
    }


def test_rows_name_each_event_by_what_it_did(captures: Dict[str, Run]) -> None:
    rows, report = embedded(Path(captures["claude"].result["html_path"]))
    labels = {(report["actions"][row[A]][0], row[LABEL]) for row in rows}
    assert ("prompt.submitted", "Run the beacon end-to-end session.") in labels
    assert ("command.executed", "echo BEACON_E2E_MARKER") in labels
    assert ("approval.allowed", "Bash: echo BEACON_E2E_MARKER") in labels
    assert ("session.activity", "claude_code.api_request · claude-opus-4-8") in labels
    failed = [row for row in rows if row[LABEL] == "ls /nonexistent-beacon-dir" and row[OUTCOME] == 2]
    assert [report["actions"][row[A]][0] for row in failed] == ["command.executed"]
    requests = [row for row in rows if row[USAGE] is not None and row[USAGE][2] == 0]
    assert requests and all(row[USAGE][:2] == [145, 0.001225] and row[DUR] for row in requests)


def test_a_page_that_cannot_be_written_is_a_warning_and_changes_no_exit_code(tmp_path: Path) -> None:
    outputs = tmp_path / "github_output"
    target = tmp_path / "no-such-folder" / "report.html"
    run = replayed(tmp_path, "claude", str(target), GITHUB_OUTPUT=str(outputs))
    assert run.code == 0, run.stderr
    assert (
        f"beacon: warning: the HTML report was not written to {target}: No such file or directory"
        in run.stderr
    )
    assert run.result["html_path"] == "" and not target.parent.exists()
    assert "html-path=\n" in outputs.read_text()


def test_exec_names_the_page_it_wrote_in_the_step_outputs(tmp_path: Path) -> None:
    outputs, target = tmp_path / "github_output", tmp_path / "page.html"
    run = replayed(tmp_path, "claude", str(target), GITHUB_OUTPUT=str(outputs))
    assert run.code == 0 and run.result["html_path"] == str(target)
    assert f"html-path={target}\n" in outputs.read_text()
    without = beacon_run(tmp_path, "ci", "exec", "--json", "--", sys.executable, FAKE_AGENT)
    assert "html_path" not in without.result and list(tmp_path.glob("runner/beacon/report-*")) == []


def test_finish_writes_the_page_of_its_session(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout), "--replay", "claude") == 0
    target = tmp_path / "session.html"
    finish = beacon_run(tmp_path, "ci", "finish", "--json", "--html", str(target))
    assert finish.code == 0, finish.stderr
    assert finish.result["html_path"] == str(target)
    rows, report = embedded(target)
    assert [row[ID] for row in rows] == [event["event"]["id"] for event in finish.events]
    assert report["meta"]["capture"]["mode"] == "session"


def test_report_picks_one_capture_of_a_shared_log(tmp_path: Path) -> None:
    first = replayed(tmp_path, "claude")
    second = replayed(tmp_path, "gemini")
    assert first.log == second.log
    page = tmp_path / "first.html"
    report = beacon_run(
        tmp_path, "ci", "report", "--capture-id", first.result["capture_id"], "--html", str(page)
    )
    assert report.code == 0, report.stderr
    rows, document = embedded(page)
    ours = [e for e in first.events if e["capture"]["id"] == first.result["capture_id"]]
    assert [row[ID] for row in rows] == [event["event"]["id"] for event in ours]
    assert report.stderr == f"beacon: wrote the report of {len(ours)} events to {page}\n"
    assert document["meta"]["log"] == "runtime.jsonl" and document["verdict"]["level"] == "review"
    every = beacon_run(tmp_path, "ci", "report", "--html", str(page))
    assert len(embedded(page)[0]) == len(second.events)  # both captures
    assert every.code == 0


def test_report_takes_the_findings_options_and_still_exits_0(tmp_path: Path) -> None:
    replayed(tmp_path, "codex")
    page = tmp_path / "page.html"
    run = beacon_run(tmp_path, "ci", "report", "--html", str(page), "--fail-on", "low")
    assert run.code == 0, run.stderr
    _, report = embedded(page)
    assert report["verdict"]["headline"] == "Failed: 2 findings at or above --fail-on low"
    config = tmp_path / "findings.json"
    config.write_text('{"disable": ["BCN182"]}')
    run = beacon_run(tmp_path, "ci", "report", "--html", str(page), "--findings-config", str(config))
    assert [f["rule"] for f in embedded(page)[1]["findings"]["findings"]] == ["BCN181"]


def test_report_errors(tmp_path: Path) -> None:
    missing = beacon_run(
        tmp_path, "ci", "report", "--log-path", str(tmp_path / "none.jsonl"), "--html", "x.html"
    )
    assert missing.code == EXIT_ERROR
    assert missing.stderr == f"beacon: no report to write: {tmp_path / 'none.jsonl'} is not a file\n"
    assert beacon_run(tmp_path, "ci", "report").code == EXIT_USAGE  # --html is required
    replayed(tmp_path, "claude")
    unwritable = beacon_run(tmp_path, "ci", "report", "--html", str(tmp_path / "no" / "page.html"))
    assert unwritable.code == EXIT_ERROR
    assert (
        "beacon: cannot write the report" in unwritable.stderr
        and "No such file or directory" in unwritable.stderr
    )


# --- nothing from the log can become markup or code ----------------------------------------

PAYLOADS = (
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "<!--<script>",
    "&lt;b&gt; & \u2028\u2029",
    '"quoted", \\back\\slashed',
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_string_can_end_the_data_element_or_start_markup(payload: str) -> None:
    value = {payload: [payload, {"nested": payload}]}
    encoded = script_json(value)
    assert not set(encoded) & set("<>&\u2028\u2029")
    assert json.loads(encoded) == value


def test_controls_that_reorder_or_hide_text_are_removed_and_the_json_stays_whole() -> None:
    # A C1 CSI or OSC could start an escape sequence running over the quotes between strings.
    value = ["a\x9b", '",1]', "b\x9dtitle", "c\x9c", "rm -rf /\u202e; txt.exe", "x\ud800y"]
    assert json.loads(script_json(value)) == ["a", '",1]', "btitle", "c", "rm -rf /; txt.exe", "x\ufffdy"]


def test_numbers_json_cannot_carry_leave_the_fields_out() -> None:
    assert fit_fields({"value": float("nan")}, 10_000) == (None, LEFT_OUT)


def test_fields_shrink_to_fit_their_room() -> None:
    fields = {
        "command": {"command": "x" * 1000},
        "message": "m" * 500,
        "raw": {"attributes": {"big": "y" * 4000}},
    }
    whole, trim = fit_fields(fields, 10_000)
    assert trim == WHOLE and json.loads(whole or "") == fields
    without_raw, trim = fit_fields(fields, 2000)
    assert trim == WITHOUT_RAW and json.loads(without_raw or "") == {
        k: fields[k] for k in ("command", "message")
    }
    cut, trim = fit_fields(fields, 400)
    assert trim == STRINGS_CUT
    assert json.loads(cut or "") == {"command": {"command": "x" * 159 + "…"}, "message": "m" * 159 + "…"}
    assert len((cut or "").encode()) > 300 and fit_fields(fields, 300) == (
        None,
        LEFT_OUT,
    )  # even cut, too big
    assert fit_fields({"a": 1}, 100) == (None, LEFT_OUT)  # room too small to be worth showing


def test_each_entry_keeps_its_share_of_the_budget(
    captures: Dict[str, Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = captures["claude"].events
    copies = 500
    monkeypatch.setattr(html, "PAGE_BUDGET", copies * len(events) * 700)  # 700 bytes an event
    out = io.BytesIO()
    page = ReportPage(out, copies * len(events))
    assert page.entry_bytes == 700
    for _ in range(copies):
        for event in events:
            page.add(event)
    page.finish(facts())
    rows = json.loads(DATA_RE.findall(out.getvalue().decode())[0][1])
    assert len(rows) == copies * len(events)
    for row in rows:  # as written: the row without its closing bracket, then its fields
        written = len(script_json(row[:FIELDS])[:-1].encode()) + len(script_json(row[FIELDS]).encode())
        assert row[FIELDS] is None or written <= page.entry_bytes, row
    assert page.trimmed == sum(1 for row in rows if row[TRIM] != WHOLE) > 0
    assert {row[TRIM] for row in rows} <= {WHOLE, WITHOUT_RAW, STRINGS_CUT, LEFT_OUT}


def test_the_page_loads_nothing_and_runs_only_its_own_script_and_style(captures: Dict[str, Run]) -> None:
    text = Path(captures["gemini"].result["html_path"]).read_text(encoding="utf-8")
    outside_data = DATA_RE.sub("", text)
    (csp,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)
    (style,) = re.findall(r"<style>(.*?)</style>", text, re.S)
    (script,) = re.findall(r"<script>(.*?)</script>", outside_data, re.S)
    markup = outside_data.replace(script, "").replace(style, "")

    def digest(source: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"

    assert csp == (
        f"default-src 'none'; script-src {digest(script)}; style-src {digest(style)}; "
        "base-uri 'none'; form-action 'none'"
    )
    # The markup asks for nothing: no source, link, frame, form or inline handler; the style no
    # import or url(); and the script never turns a string into markup or code.
    assert not re.search(r"\s(src|href|action|srcset|style|on[a-z]+)\s*=|<link|<iframe|<form|<object", markup)
    assert "url(" not in style and "@import" not in style
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "srcdoc",
    ):
        assert sink not in script


# --- what the page concludes -----------------------------------------------------------------


def facts(**changes: Any) -> ReportFacts:
    validation = {"status": "passed", "event_count": 6, "stages": []}
    base = ReportFacts(
        summary={"validation": validation, "harnesses": []},
        findings={"count": 0, "by_severity": {}, "findings": [], "omitted": {}},
        fail_on=None,
        failing=0,
        required=True,
        command=None,
        log_name="runtime.jsonl",
        generated=1_764_000_000.0,
    )
    return base._replace(**changes)


TWO_FINDINGS = {"count": 2, "by_severity": {"low": 1, "high": 1, "medium": 0, "critical": 0}, "findings": []}
FAILED_VALIDATION = {
    "status": "failed",
    "event_count": 0,
    "stages": [{"name": "event_count", "status": "fail", "detail": "0 events, want at least 1"}],
}


@pytest.mark.parametrize(
    "changes, level, headline",
    [
        ({}, "pass", "Passed: no findings"),
        ({"findings": TWO_FINDINGS}, "review", "To review: 2 findings (1 high, 1 low)"),
        (
            {"findings": TWO_FINDINGS, "failing": 1, "fail_on": "high"},
            "fail",
            "Failed: 1 finding at or above --fail-on high",
        ),
        ({"findings": TWO_FINDINGS, "failing": 1}, "fail", "Failed: 1 finding over a budget"),
        (
            {"summary": {"validation": FAILED_VALIDATION}, "command": {"exit_code": 7}},
            "fail",
            "Failed: the command exited 7; telemetry validation failed",
        ),
        (
            {"summary": {"validation": FAILED_VALIDATION}, "required": False},
            "review",
            "To review: telemetry validation failed (not required)",
        ),
        (
            {"command": {"exit_code": 143, "killed_by": "SIGTERM"}},
            "fail",
            "Failed: the command was killed by SIGTERM",
        ),
    ],
)
def test_the_verdict_comes_first(changes: Dict[str, Any], level: str, headline: str) -> None:
    judged = verdict(facts(**changes))
    assert (judged["level"], judged["headline"]) == (level, headline)


def test_a_failed_stage_is_a_point_of_the_verdict() -> None:
    assert verdict(facts(summary={"validation": FAILED_VALIDATION}))["points"] == [
        "validation failed: 0 events",
        "event_count: 0 events, want at least 1",
        "no findings",
    ]


GITHUB_CAPTURE = {"provider": "github_actions", "repository": "acme/app", "run_id": "9"}


@pytest.mark.parametrize(
    "run, links",
    [
        (
            {**GITHUB_CAPTURE, "url": "https://ghe.example.com/acme/app/actions/runs/9"},
            "https://ghe.example.com",
        ),
        ({**GITHUB_CAPTURE, "url": "javascript:alert(1)//acme/app/actions/runs/9"}, "https://github.com"),
        ({**GITHUB_CAPTURE, "url": "https://evil.example/elsewhere"}, "https://github.com"),
        (
            {**GITHUB_CAPTURE, "url": "https://user:pw@ghe.example.com/acme/app/actions/runs/9"},
            "https://github.com",
        ),
        ({**GITHUB_CAPTURE, "repository": "acme/app/../../evil"}, None),
        ({**GITHUB_CAPTURE, "repository": "<img src=x>/app"}, None),
        ({**GITHUB_CAPTURE, "provider": "gitlab"}, None),
    ],
)
def test_links_are_https_to_the_runs_own_server_or_none(run: Dict[str, str], links: Any) -> None:
    found = run_links(run)
    if links is None:
        assert found == {}
    else:
        assert found == {"repository": f"{links}/acme/app", "run": f"{links}/acme/app/actions/runs/9"}


def test_parts_that_are_not_what_github_allows_are_not_linked() -> None:
    found = run_links(
        {
            **GITHUB_CAPTURE,
            "commit": "not-a-sha",
            "pr_number": "7; drop",
            "branch": "feature/a b#c",
            "workflow_ref": "other/repo/.github/workflows/x.yml@main",
        }
    )
    assert found == {
        "repository": "https://github.com/acme/app",
        "run": "https://github.com/acme/app/actions/runs/9",
        "branch": "https://github.com/acme/app/tree/feature/a%20b%23c",
    }


def test_spans_timing_shows_where_events_carry_it(captures: Dict[str, Run]) -> None:
    """What spans add to an event (EVENTS.md): its duration, an approval's wait, the trace."""
    denial = next(e for e in captures["claude"].events if e["event"]["action"] == "approval.denied")
    timed = {
        **denial,
        "event": {**denial["event"], "duration_ms": 4250.5},
        "approval": {**denial["approval"], "wait_ms": 3200},
        "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
    }
    out = io.BytesIO()
    page = ReportPage(out, 1)
    page.add(timed)
    page.finish(facts())
    ((row,), _) = (json.loads(text) for _, text in DATA_RE.findall(out.getvalue().decode()))
    assert (row[DUR], row[WAIT]) == (4250.5, 3200)
    assert row[FIELDS]["trace"] == timed["trace"]


def test_a_spans_event_sits_on_the_timeline_where_it_ended_as_a_records_does(
    captures: Dict[str, Run],
) -> None:
    """A record is stamped when the call ended; an event made from a span (Copilot's) when the
    span began: both are placed at their end, so a duration bar never starts before its call."""
    (event,) = [e for e in captures["copilot"].events if e["event"]["action"] == "file.read"]
    out = io.BytesIO()
    page = ReportPage(out, 1)
    page.add(event)
    page.finish(facts())
    ((row,), _) = (json.loads(text) for _, text in DATA_RE.findall(out.getvalue().decode()))
    started = round(parse_time(event["timestamp"]) * 1000)
    assert event["raw"]["otel_signal"] == "traces" and row[T] == started + row[DUR] and row[DUR] > 0


def test_a_hostile_logs_numbers_json_cannot_carry_cost_only_their_fields() -> None:
    first = {**EVENT, "run": {"provider": "github_actions", "run_id": float("nan")}}
    out = io.BytesIO()
    page = ReportPage(out, 2)
    page.add(first)
    page.add({**EVENT, "event": {**EVENT["event"], "duration_ms": float("inf")}})
    page.finish(facts())
    rows, report = (json.loads(text) for _, text in DATA_RE.findall(out.getvalue().decode()))
    # The page still parses: the NaN shared by nothing, each event's fields left out, the row kept.
    assert report["meta"]["shared"] == {} and [row[TRIM] for row in rows] == [LEFT_OUT, LEFT_OUT]
    assert [row[DUR] for row in rows] == [None, None] and report["limits"]["trimmed"] == 2


EVENT: Dict[str, Any] = {
    "timestamp": "yesterday",
    "vendor": "beacon",
    "product": "endpoint-agent",
    "schema_version": "1.0",
    "event": {"kind": "agent_runtime", "action": "command.executed", "duration_ms": "slow"},
    "severity": "info",
    "endpoint": {"os": "linux"},
    "harness": {"name": "someone_else"},
    "command": {"command": ["not", "a", "string"], "exit_code": True},
}


def test_events_without_a_capture_are_still_shown(tmp_path: Path) -> None:
    """A log another tool wrote: no run, no timestamps beacon parses, odd shapes."""
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(event_line(EVENT))
    page = tmp_path / "page.html"
    assert beacon_run(tmp_path, "ci", "report", "--log-path", str(log), "--html", str(page)).code == 0
    (row,), report = embedded(page)
    assert row[:FIELDS] == [None, 0, 0, 0, 0, "command.executed", "", None, None, None, None, 0]
    assert report["meta"]["links"] == {} and report["harnesses"] == ["someone_else"]
