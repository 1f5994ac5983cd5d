"""The commands that read a log someone already has: `ci validate`, `ci summary`, `ci findings`
and `ci report`. Each reads it once, line by line, in bounded memory, and returns an Outcome (its
document is what --json prints; summary and findings print their own form on stdout, report
writes a page)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_FINDINGS, EXIT_OK, EXIT_VALIDATION, BeaconError
from beacon_ci.eventlog import Validation, to_each, validate_log
from beacon_ci.verdict import Outcome, say_result

if TYPE_CHECKING:
    from beacon_ci.findings.config import FindingsConfig
    from beacon_ci.report.html import ReportFacts


def validate_command(
    env: Environment, log_path: str, harnesses: Sequence[str], min_events: int, capture_id: Optional[str]
) -> Outcome:
    validation = validate_log(log_path, min_events, harnesses, capture_id)
    say_result(env, {"log_path": log_path}, validation, required=True)
    document = {"log_path": log_path, "validation": validation.as_json()}
    return Outcome(EXIT_OK if validation.passed else EXIT_VALIDATION, document)


def summary_command(env: Environment, log_path: str, capture_id: Optional[str], form: str) -> Outcome:
    """Prints the summary on stdout. Exits 0 even when validation failed: judging is validate's
    job, and `beacon ci summary >> "$GITHUB_STEP_SUMMARY"` must not fail a step that reports."""
    from beacon_ci.report.markdown import render_markdown
    from beacon_ci.report.summary import Summary
    from beacon_ci.report.text import render_text

    fold = Summary()
    validation = validate_log(log_path, 1, (), capture_id, on_event=fold.add)
    summary = fold.result(validation.as_json())
    if form == "json":
        output = json.dumps(summary, sort_keys=True)
    else:
        output = render_markdown(summary) if form == "markdown" else render_text(summary)
    print(output, file=env.stdout, flush=True)
    return Outcome(EXIT_OK, summary)


def findings_command(
    env: Environment,
    log_path: str,
    capture_id: Optional[str],
    form: str,
    config: FindingsConfig,
    fail_on: Optional[str],
) -> Outcome:
    """Prints the findings on stdout; exits 5 when one is at or above `fail_on`, or a budget was
    gone over. The summary folds along for the budgets."""
    from beacon_ci.findings.judge import failing

    folds = CaptureFolds()
    validation = validate_log(log_path, 1, (), capture_id, on_event=folds.add)
    if not validation.stages[0].passed:
        raise BeaconError(f"no findings to judge: {validation.stages[0].detail}")
    _, judged = folds.conclude(config)
    print(_findings_form(env, form, judged, log_path), file=env.stdout, flush=True)
    return Outcome(EXIT_FINDINGS if failing(judged, fail_on) else EXIT_OK, judged)


class CaptureFolds:
    """The summary and the findings of a log's capture, folded as the log is read (add)."""

    def __init__(self) -> None:
        from beacon_ci.findings.fold import FindingsFold
        from beacon_ci.report.summary import Summary

        self.summary, self.findings = Summary(), FindingsFold()
        self.add = to_each(self.summary.add, self.findings.add)

    def conclude(
        self, config: FindingsConfig, validation: Optional[Validation] = None
    ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Once, when the log has been read: the summary (with the validation's document) and
        the findings as `config` judges them, the budgets against the summary's usage."""
        from beacon_ci.findings.judge import judge
        from beacon_ci.report.summary import usage_totals

        summary = self.summary.result(validation.as_json() if validation else None)
        return summary, judge(self.findings.result(), config, usage_totals(summary))


def report_command(
    env: Environment,
    log_path: str,
    capture_id: Optional[str],
    html: str,
    config: FindingsConfig,
    fail_on: Optional[str],
) -> Outcome:
    """Writes the HTML page of a log's capture to `html`, from one reading of the log. Exits 0
    whatever the capture holds: the page shows the verdict (with `fail_on`), judging is for
    validate and findings."""
    from beacon_ci.findings.judge import failing
    from beacon_ci.report.html import ReportFacts
    from beacon_ci.verdict import write_page

    if not os.path.isfile(log_path):
        raise BeaconError(f"no report to write: {log_path} is not a file")
    folds = CaptureFolds()

    def facts_of(validation: Validation) -> ReportFacts:
        summary, judged = folds.conclude(config, validation)
        return ReportFacts(
            summary,
            judged,
            fail_on,
            failing(judged, fail_on),
            True,
            None,
            os.path.basename(log_path),
            env.clock(),
        )

    try:
        events = write_page(html, log_path, capture_id, facts_of, on_event=folds.add)
    except OSError as exc:
        raise BeaconError(f"cannot write the report {html}: {exc.strerror or exc}") from None
    env.say(f"wrote the report of {events} event{'' if events == 1 else 's'} to {html}")
    return Outcome(EXIT_OK, {"log_path": log_path, "html_path": html, "event_count": events})


def _findings_form(env: Environment, form: str, judged: Dict[str, Any], log_path: str) -> str:
    from beacon_ci.findings import render

    if form == "sarif":
        from beacon_ci.verdict import sarif_for

        return json.dumps(sarif_for(env, judged, log_path), indent=2)
    if form == "json":
        return json.dumps(judged, sort_keys=True)
    return render.render_markdown(judged) if form == "markdown" else render.render_text(judged)
