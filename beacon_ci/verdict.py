"""The end of exec and finish: judge the capture, report it (summary, job summary, step outputs,
annotations), run the uploads, and choose the exit code."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from beacon_ci import github
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_EXPORT, EXIT_OK, EXIT_VALIDATION
from beacon_ci.eventlog import Validation
from beacon_ci.export import report_forward, upload_log
from beacon_ci.report.text import count_of, render_text


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
    warnings: Sequence[str] = (),
) -> None:
    """The text table on stderr, the Markdown appended to $GITHUB_STEP_SUMMARY (unless
    job_summary is off) with the warnings under its status, one annotation when validation
    failed on GitHub. Never fails the command: it only reports. `summary` is a Summary's
    result, the validation not yet in it."""
    summary = {**summary, "validation": validation.as_json(), "warnings": list(warnings)}
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
    warnings = late_warnings(result)
    write_summary(env, validation, summary, require_telemetry, job_summary, warnings)
    uploaded = upload_log(env, uploads)
    forward_failed = report_forward(env, forwarded)
    github.publish_outputs(env, {**outputs, **verdict_outputs(validation)})
    if forwarded:
        result["forward"] = forwarded
    if uploaded:
        result["uploads"] = [upload.to_json() for upload in uploaded]
    say_result(env, result, validation, require_telemetry, warnings, reasons=False)
    return forward_failed or not all(upload.ok for upload in uploaded)


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
