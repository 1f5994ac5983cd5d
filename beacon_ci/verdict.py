"""The end of exec and finish: judge the capture (validation, findings), report it (summary,
job summary, SARIF, the HTML page, step outputs, annotations), run the uploads, and choose the
exit code."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence

from beacon_ci import github
from beacon_ci.context import private_dir, private_replacement, write_private
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_EXPORT, EXIT_FINDINGS, EXIT_OK, EXIT_VALIDATION, BeaconError
from beacon_ci.eventlog import Tally, Validation, count_lines, read_log, to_each, validate_written
from beacon_ci.export import report_forward, upload_log
from beacon_ci.findings.config import FindingsConfig
from beacon_ci.findings.judge import failing, judge
from beacon_ci.findings.render import message
from beacon_ci.findings.render import render_text as findings_text
from beacon_ci.report.summary import usage_totals
from beacon_ci.report.text import count_of, render_text

if TYPE_CHECKING:  # the page's modules are imported when a page is written
    from beacon_ci.report.html import ReportFacts

ANNOTATIONS_MAX = 10  # GitHub shows ten of each level per step: one per finding up to this
FINDINGS_LOGGED = 10  # findings listed on stderr; the job summary, the SARIF and --json have them all


class Outcome(NamedTuple):
    """What a command returns: its exit code and its result document (printed by --json)."""

    exit_code: int
    document: Dict[str, Any]


class FindingsReport(NamedTuple):
    """A capture's findings, judged, and what they decide."""

    judged: Dict[str, Any]
    fail_on: Optional[str]
    failing: int  # findings that fail the capture: at or above fail_on, or a budget gone over
    sarif_path: str  # "" when it could not be written

    def to_json(self) -> Dict[str, Any]:
        return {
            **self.judged,
            "fail_on": self.fail_on,
            "failing": self.failing,
            "sarif_path": self.sarif_path,
        }


def exit_code_for(
    child_code: int,
    signal_received: Optional[int],
    validation: Validation,
    require_telemetry: bool,
    export_failed: bool = False,
    findings_failed: bool = False,
) -> int:
    """ARCHITECTURE.md: the child's failure wins; then required validation; then findings at or
    above --fail-on (or a budget); then a failed upload or forward; then success."""
    if child_code:
        return child_code
    if signal_received is not None:
        return 128 + signal_received
    if not validation.passed and require_telemetry:
        return EXIT_VALIDATION
    if findings_failed:
        return EXIT_FINDINGS
    return EXIT_EXPORT if export_failed else EXIT_OK


def report_findings(
    env: Environment,
    folded: Mapping[str, Any],
    config: FindingsConfig,
    fail_on: Optional[str],
    summary: Mapping[str, Any],
    base_dir: str,
    capture_id: str,
    log_path: str,
) -> FindingsReport:
    """Judge what the fold found, with the user's configuration and budgets, and write the SARIF
    file (beside beacon's state, one per capture: `findings-<capture id>.sarif`)."""
    judged = judge(folded, config, usage_totals(summary))
    sarif_path = os.path.join(base_dir, f"findings-{capture_id}.sarif")
    try:
        private_dir(base_dir, adopt=True)
        write_private(sarif_path, json.dumps(sarif_for(env, judged, log_path), indent=1) + "\n")
    except (OSError, BeaconError) as exc:
        env.say(f"the findings were not written as SARIF to {sarif_path}: {exc}")
        sarif_path = ""
    return FindingsReport(judged, fail_on, failing(judged, fail_on), sarif_path)


def sarif_for(env: Environment, judged: Mapping[str, Any], log_path: str) -> Dict[str, Any]:
    """The SARIF document of judged findings: locations relative to the job's checkout, the
    workflow that ran the agent (its events say, else this job), the log as the last resort."""
    from beacon_ci.findings.sarif import sarif_document

    environ = env.environ
    workspace = environ.get("GITHUB_WORKSPACE") or environ.get("CI_PROJECT_DIR") or os.getcwd()
    workflow_ref = judged.get("workflow_ref") or environ.get("GITHUB_WORKFLOW_REF", "")
    return sarif_document(judged, workspace, workflow_ref, os.path.basename(log_path))


def findings_outputs(report: FindingsReport, summary: Mapping[str, Any]) -> Dict[str, str]:
    totals = usage_totals(summary)
    return {
        "findings-count": str(report.judged["count"]),
        "sarif-path": report.sarif_path,
        "cost-usd": f"{totals['cost_usd']:.6f}".rstrip("0").rstrip(".") or "0",
        "input-tokens": str(int(totals["input_tokens"])),
        "output-tokens": str(int(totals["output_tokens"])),
    }


def annotate_findings(env: Environment, judged: Mapping[str, Any]) -> None:
    """One annotation per finding, most severe first: an error from high up, else a warning;
    past ANNOTATIONS_MAX, one warning that says how many more."""
    findings = judged["findings"]
    for finding in findings[:ANNOTATIONS_MAX]:
        level = "error" if finding["severity"] in ("high", "critical") else "warning"
        title = f"beacon {finding['rule']} ({finding['severity']})"
        github.annotate(env, level, message(finding), title)
    hidden = judged["count"] - min(len(findings), ANNOTATIONS_MAX)
    if hidden > 0:
        github.annotate(
            env, "warning", f"beacon: {count_of(hidden, 'more finding')}, in the job summary and SARIF file"
        )


def write_summary(
    env: Environment,
    validation: Validation,
    summary: Dict[str, Any],
    required: bool,
    job_summary: bool = True,
    warnings: Sequence[str] = (),
    findings: Optional[FindingsReport] = None,
) -> None:
    """The text table and the findings on stderr, the Markdown appended to $GITHUB_STEP_SUMMARY
    (unless job_summary is off) with the warnings under its status and the findings after it,
    one annotation when validation failed on GitHub and one per finding. Never fails the
    command: it only reports. `summary` is a Summary's result, the validation not yet in it."""
    summary = {**summary, "validation": validation.as_json(), "warnings": list(warnings)}
    text = render_text(summary) + ("\n" + findings_text(findings.judged, FINDINGS_LOGGED) if findings else "")
    for line in text.splitlines():
        env.say(line)
    if job_summary and github.step_summary_path(env):
        from beacon_ci.findings.render import render_markdown as findings_markdown
        from beacon_ci.report.markdown import render_markdown

        sections = [findings_markdown(findings.judged)] if findings else []
        github.append_step_summary(env, render_markdown(summary, sections))
    if not validation.passed:
        failed = "; ".join(f"{s.name}: {s.detail}" for s in validation.stages if not s.passed)
        github.annotate(
            env, "error" if required else "warning", f"beacon: telemetry validation failed: {failed}"
        )
    if findings:
        annotate_findings(env, findings.judged)


def verdict_outputs(validation: Validation) -> Dict[str, str]:
    return {
        "event-count": str(validation.event_count),
        "validation": "passed" if validation.passed else "failed",
    }


def conclude(
    env: Environment,
    validation: Validation,
    summary: Dict[str, Any],
    result: Dict[str, Any],
    uploads: Sequence[Any],
    forwarded: Optional[Dict[str, Any]],
    outputs: Dict[str, str],
    findings: FindingsReport,
    *,
    require_telemetry: bool,
    job_summary: bool,
    html: Optional[str] = None,
) -> bool:
    """After validation: the summary and findings, the HTML page when `html` asks for one (a
    path, or "" for beside the log), the uploads, what the forward delivered, the step outputs,
    then what was captured. Completes `result` with the findings, the page and the exports;
    whether one of the exports failed."""
    warnings = late_warnings(result)
    write_summary(env, validation, summary, require_telemetry, job_summary, warnings, findings)
    page = {}
    if html is not None:
        page["html-path"] = html_report(env, html, result, validation, summary, findings, require_telemetry)
    uploaded = upload_log(env, uploads)
    forward_failed = report_forward(env, forwarded)
    github.publish_outputs(
        env, {**outputs, **verdict_outputs(validation), **findings_outputs(findings, summary), **page}
    )
    result["findings"] = findings.to_json()
    if page:
        result["html_path"] = page["html-path"]
    if forwarded:
        result["forward"] = forwarded
    if uploaded:
        result["uploads"] = [upload.to_json() for upload in uploaded]
    say_result(env, result, validation, require_telemetry, warnings, reasons=False)
    return forward_failed or not all(upload.ok for upload in uploaded)


def html_report(
    env: Environment,
    path: str,
    result: Mapping[str, Any],
    validation: Validation,
    summary: Mapping[str, Any],
    findings: FindingsReport,
    required: bool,
) -> str:
    """The HTML page of the capture exec or finish has judged, at `path` or, when that is "",
    `report-<capture id>.html` beside the log. Its path, or "" and a warning when it could not be
    written: the page is a view of the log, and nothing about it may change the exit code."""
    from beacon_ci.report.html import ReportFacts

    log_path, capture_id = result["log_path"], result["capture_id"]
    path = path or os.path.join(os.path.dirname(log_path), f"report-{capture_id}.html")
    facts = ReportFacts(
        {**summary, "validation": validation.as_json()},
        findings.judged,
        findings.fail_on,
        findings.failing,
        required,
        result.get("command"),
        os.path.basename(log_path),
        env.clock(),
    )
    try:
        write_page(path, log_path, capture_id, lambda read: facts)
    except Exception as exc:  # whatever it was (a full disk, a bug), the capture stands as judged
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        env.say(f"warning: the HTML report was not written to {path}: {reason}")
        return ""
    env.say(f"HTML report: {path}")
    return path


def write_page(
    path: str,
    log_path: str,
    capture_id: Optional[str],
    facts_of: Callable[[Validation], ReportFacts],
    on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> int:
    """Write the HTML page of a log's capture (every event without `capture_id`) to `path`,
    private, whole or not at all. The log is read once, line by line, and each event goes into
    the page as it is read (and to `on_event`): memory does not grow with the log. The page ends
    with what `facts_of` concludes from the validation of what was read. Returns its events."""
    from beacon_ci.report.html import ReportPage

    with private_replacement(path) as out:
        page = ReportPage(out, count_lines(log_path))
        tally = Tally()
        read_log(log_path, capture_id, tally, page.add if on_event is None else to_each(page.add, on_event))
        page.finish(facts_of(validate_written(log_path, tally, capture_id=capture_id)))
    return page.events


def late_warnings(result: Mapping[str, Any]) -> List[str]:
    """What came too late for the capture (exec's `late`, see Capture.finish): validation does
    not judge it, since the log holds what it holds, but the user must be told it is missing."""
    late = result.get("late") or {}
    requests, connections = late.get("requests", 0), late.get("connections_open_at_close", 0)
    if not (requests or connections):
        return []
    arriving = f"{count_of(requests, 'request')} still arriving and " if requests else ""
    return [
        f"the capture closed with {arriving}{count_of(connections, 'connection')} open: events "
        "arriving after it closed are not captured (a background process of the agent still exporting?)"
    ]


def say_result(
    env: Environment,
    result: Dict[str, Any],
    validation: Validation,
    required: bool,
    warnings: Sequence[str] = (),
    reasons: bool = True,
) -> None:
    """What was captured, what it missed and whether it passed, for people (one line per
    warning, and per failed stage unless the summary above already listed them)."""
    events = result.get("events")
    if events is not None:
        by = ", ".join(f"{name} {n}" for name, n in sorted(events.items())) or "none"
        env.say(f"captured {sum(events.values())} events ({by}) into {result['log_path']}")
    for warning in warnings:
        env.say(f"warning: {warning}")
    say_failing(env, result.get("findings"))
    if validation.passed:
        env.say(f"validation passed: {validation.event_count} events")
        return
    failed = f"validation failed{'' if required else ' (continuing: --require-telemetry=false)'}"
    if not reasons:
        env.say(f"{failed}: the reasons are in the summary above")
        return
    env.say(f"{failed}:")
    for stage in validation.stages:
        if not stage.passed:
            env.say(f"  {stage.name}: {stage.detail}")


def say_failing(env: Environment, findings: Optional[Mapping[str, Any]]) -> None:
    """Which findings fail the capture (exit 5), when some do."""
    if not findings or not findings.get("failing"):
        return
    why = f"at or above --fail-on {findings['fail_on']}" if findings.get("fail_on") else "over a budget"
    env.say(f"{count_of(findings['failing'], 'finding')} {why}: the capture fails (exit {EXIT_FINDINGS})")
