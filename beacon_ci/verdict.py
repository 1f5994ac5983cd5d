"""The end of exec and finish: judge the capture, report it (summary, job summary, step outputs,
annotations), run the uploads, and choose the exit code."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Sequence

from beacon_ci import github
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_EXPORT, EXIT_OK, EXIT_VALIDATION
from beacon_ci.eventlog import Validation
from beacon_ci.export import report_forward, upload_log
from beacon_ci.report.text import render_text


class Outcome(NamedTuple):
    """What a command returns: its exit code and its result document (printed by --json)."""

    exit_code: int
    document: Dict[str, Any]


def exit_code_for(
    child_code: int,
    signal_received: Optional[int],
    validation: Validation,
    require_telemetry: bool,
    export_failed: bool = False,
) -> int:
    """ARCHITECTURE.md: the child's failure wins; then required validation; then a failed
    upload or forward; then success."""
    if child_code:
        return child_code
    if signal_received is not None:
        return 128 + signal_received
    if not validation.passed and require_telemetry:
        return EXIT_VALIDATION
    return EXIT_EXPORT if export_failed else EXIT_OK


def write_summary(
    env: Environment,
    validation: Validation,
    summary: Dict[str, Any],
    required: bool,
    job_summary: bool = True,
) -> None:
    """The text table on stderr, the Markdown appended to $GITHUB_STEP_SUMMARY (unless
    job_summary is off), one annotation when validation failed on GitHub. Never fails the
    command: it only reports. `summary` is a Summary's result, the validation not yet in it."""
    summary = {**summary, "validation": validation.as_json()}
    for line in render_text(summary).splitlines():
        env.say(line)
    if job_summary and github.step_summary_path(env):
        from beacon_ci.report.markdown import render_markdown

        github.append_step_summary(env, render_markdown(summary))
    if not validation.passed:
        failed = "; ".join(f"{s.name}: {s.detail}" for s in validation.stages if not s.passed)
        github.annotate(
            env, "error" if required else "warning", f"beacon: telemetry validation failed: {failed}"
        )


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
    *,
    require_telemetry: bool,
    job_summary: bool,
) -> bool:
    """After validation: the summary, the uploads, what the forward delivered, the step outputs,
    then what was captured. Completes `result` with the exports; whether one of them failed."""
    write_summary(env, validation, summary, require_telemetry, job_summary)
    uploaded = upload_log(env, uploads)
    forward_failed = report_forward(env, forwarded)
    github.publish_outputs(env, {**outputs, **verdict_outputs(validation)})
    if forwarded:
        result["forward"] = forwarded
    if uploaded:
        result["uploads"] = [upload.to_json() for upload in uploaded]
    say_result(env, result, validation, require_telemetry)
    return forward_failed or not all(upload.ok for upload in uploaded)


def say_result(env: Environment, result: Dict[str, Any], validation: Validation, required: bool) -> None:
    """What was captured and whether it passed, for people (one line per failed stage)."""
    events = result.get("events")
    if events is not None:
        by = ", ".join(f"{name} {n}" for name, n in sorted(events.items())) or "none"
        env.say(f"captured {sum(events.values())} events ({by}) into {result['log_path']}")
    if validation.passed:
        env.say(f"validation passed: {validation.event_count} events")
        return
    env.say(f"validation failed{'' if required else ' (continuing: --require-telemetry=false)'}:")
    for stage in validation.stages:
        if not stage.passed:
            env.say(f"  {stage.name}: {stage.detail}")
