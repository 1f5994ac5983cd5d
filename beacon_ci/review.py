"""The commands that read a log someone already has: `ci validate`, `ci summary` and
`ci findings`. Each reads it once, line by line, in bounded memory, and returns an Outcome (its
document is what --json prints; summary and findings print their own form on stdout)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_FINDINGS, EXIT_OK, EXIT_VALIDATION, BeaconError
from beacon_ci.eventlog import to_each, validate_log
from beacon_ci.verdict import Outcome, say_result

if TYPE_CHECKING:
    from beacon_ci.findings.config import FindingsConfig


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
    from beacon_ci.findings.fold import FindingsFold
    from beacon_ci.findings.judge import failing, judge
    from beacon_ci.report.summary import Summary, usage_totals

    summary, fold = Summary(), FindingsFold()
    validation = validate_log(log_path, 1, (), capture_id, on_event=to_each(summary.add, fold.add))
    if not validation.stages[0].passed:
        raise BeaconError(f"no findings to judge: {validation.stages[0].detail}")
    judged = judge(fold.result(), config, usage_totals(summary.result()))
    print(_findings_form(env, form, judged, log_path), file=env.stdout, flush=True)
    return Outcome(EXIT_FINDINGS if failing(judged, fail_on) else EXIT_OK, judged)


def _findings_form(env: Environment, form: str, judged: Dict[str, Any], log_path: str) -> str:
    from beacon_ci.findings import render

    if form == "sarif":
        from beacon_ci.verdict import sarif_for

        return json.dumps(sarif_for(env, judged, log_path), indent=2)
    if form == "json":
        return json.dumps(judged, sort_keys=True)
    return render.render_markdown(judged) if form == "markdown" else render.render_text(judged)
