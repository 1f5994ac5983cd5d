"""`beacon ci exec`: run an agent with its telemetry captured, then judge and report the capture."""

from __future__ import annotations

from typing import Optional, Sequence

from beacon_ci.agents.claude_settings import start_notices
from beacon_ci.capture import Capture
from beacon_ci.context import (
    DRAIN_TIMEOUT,
    SIGNALLED_DRAIN_TIMEOUT,
    detect_run,
    harnesses_for_command,
    new_capture_id,
    parse_harnesses,
    redaction_rules,
    redaction_rules_path,
    resolve_paths,
)
from beacon_ci.environment import Environment
from beacon_ci.export import parse_exports, plan_uploads, without_export_credentials
from beacon_ci.findings.config import NO_FINDINGS_CONFIG, FindingsConfig
from beacon_ci.process import ChildExit, resolve_command, run_child
from beacon_ci.verdict import Outcome, conclude, exit_code_for, report_findings


def run_exec(
    env: Environment,
    command: Sequence[str],
    *,
    harness: str = "auto",
    log_path: Optional[str] = None,
    base_dir: Optional[str] = None,
    min_events: int = 1,
    require_telemetry: bool = True,
    job_summary: bool = True,
    upload: Optional[Sequence[str]] = None,
    forward: Optional[str] = None,
    forward_endpoint: Optional[str] = None,
    otlp_protocol: str = "protobuf",
    drain_timeout: float = DRAIN_TIMEOUT,
    redact_rules: Optional[str] = None,
    findings_config: FindingsConfig = NO_FINDINGS_CONFIG,
    fail_on: Optional[str] = None,
    html: Optional[str] = None,
) -> Outcome:
    """Capture, run the command, drain, validate, judge the findings, report (with the HTML page
    when `html` is a path, or "" for beside the log), export; the exit code is the command's own
    unless it succeeded (ARCHITECTURE.md). Everything that can be
    misconfigured is checked before the command runs (the findings configuration by the CLI)."""
    command = resolve_command(command, env.environ)
    harnesses = parse_harnesses(harness) or harnesses_for_command(command)
    exports = parse_exports(upload, forward, forward_endpoint, env.environ)
    rules = redaction_rules(redaction_rules_path(env.environ, redact_rules))
    paths, capture_id = resolve_paths(env.environ, base_dir, log_path), new_capture_id()
    uploads = plan_uploads(
        exports.uploads, env.environ, paths.log_path, detect_run(env.environ), capture_id, env.clock()
    )
    capture = Capture(
        env, harnesses, paths, "exec", otlp_protocol, capture_id, forward=exports.forward, rules=rules
    )
    child: Optional[ChildExit] = None
    try:
        child_env = without_export_credentials(capture.start(), exports.targets)
        for notice in start_notices(capture.claude_overrides(), capture.claude_settings or "", session=False):
            env.say(notice)
        child = run_child(command, child_env)
    finally:
        signalled = child is None or child.signal_received is not None
        capture.finish(min(drain_timeout, SIGNALLED_DRAIN_TIMEOUT) if signalled else drain_timeout)
    if child.code:
        env.say(child.describe())
    validation = capture.validate(min_events)
    result = {**capture.result(validation), "command": child.as_json()}
    summary = capture.pipeline.summary.result()
    findings = report_findings(
        env,
        capture.pipeline.folded_findings(),
        findings_config,
        fail_on,
        summary,
        paths.base_dir,
        capture_id,
        paths.log_path,
    )
    export_failed = conclude(
        env,
        validation,
        summary,
        result,
        uploads,
        capture.forwarded.to_json() if capture.forwarded else None,
        {"log-path": paths.log_path},
        findings,
        require_telemetry=require_telemetry,
        job_summary=job_summary,
        html=html,
    )
    exit_code = exit_code_for(
        child.code, child.signal_received, validation, require_telemetry, export_failed, findings.failing > 0
    )
    return Outcome(exit_code, result)
