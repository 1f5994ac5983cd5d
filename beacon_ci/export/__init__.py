"""The export stage: upload the finished log (S3, GCS) and forward events as they arrive (Splunk
or Falcon LogScale HEC, an OTLP/HTTP collector).

This module is what the rest of beacon calls. The backends (upload.py, forward.py, and the
cloud SDKs they may load) are imported inside these functions, only when an export is asked
for: a capture without exports never loads them. Standard library only.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from beacon_ci.environment import Environment
from beacon_ci.errors import UsageError
from beacon_ci.export.common import ExportError, is_export_credential


class Exports(NamedTuple):
    """What --upload and --forward asked for, checked before anything runs."""

    uploads: List[str]
    forward: Any  # an endpoint.ForwardPlan, or None

    @property
    def targets(self) -> List[str]:
        return self.uploads + ([self.forward.target] if self.forward else [])


def parse_exports(
    uploads: Optional[Sequence[str]],
    forward: Optional[str],
    endpoint: Optional[str],
    environ: Mapping[str, str],
) -> Exports:
    """A misconfigured export (unknown target, missing token or endpoint) is a usage error."""
    if endpoint and not forward:
        raise UsageError("--forward-endpoint needs --forward splunk|falcon|otlp (where to send, not what)")
    if not uploads and not forward:
        return Exports([], None)
    from beacon_ci.export.endpoint import plan_forward
    from beacon_ci.export.upload import parse_uploads

    try:
        targets = parse_uploads(uploads)
        return Exports(targets, plan_forward(forward, endpoint, environ) if forward else None)
    except ExportError as exc:
        raise UsageError(str(exc)) from None


def plan_uploads(
    targets: Sequence[str],
    environ: Mapping[str, str],
    log_path: str,
    run: Mapping[str, Any],
    capture_id: str,
    started_at: float,
) -> List[Any]:
    """Where each upload goes (upload.UploadPlan); a missing bucket variable is a usage error,
    before anything runs."""
    if not targets:
        return []
    from beacon_ci.export.upload import plan_upload

    try:
        return [plan_upload(target, environ, log_path, run, capture_id, started_at) for target in targets]
    except ExportError as exc:
        raise UsageError(str(exc)) from None


def without_export_credentials(child_env: Mapping[str, str], targets: Sequence[str]) -> Dict[str, str]:
    """The agent's environment without the credentials its exports use (beacon keeps them)."""
    return {k: v for k, v in child_env.items() if not (targets and is_export_credential(k, targets))}


def start_forwarder(plan: Any) -> Any:
    """A running forward.Forwarder for a checked plan."""
    from beacon_ci.export.forward import Forwarder

    return Forwarder(plan)


def upload_log(env: Environment, plans: Sequence[Any]) -> List[Any]:
    """Each upload in turn, one failing not stopping the next. After validation, whatever it
    found: a capture that failed its check is still the record of what the agent did."""
    if not plans:
        return []
    from beacon_ci.export.upload import upload

    results = []
    for plan in plans:
        result = upload(plan, env.environ)
        results.append(result)
        if result.ok:
            env.say(f"uploaded {result.target} ({result.via}, {result.seconds:.1f} s)")
        else:
            env.say(f"upload to {result.target} failed: {result.message}")
    return results


def report_forward(env: Environment, forwarded: Optional[Mapping[str, Any]]) -> bool:
    """Say what the forward delivered; whether it failed."""
    if not forwarded:
        return False
    line = f"forwarded {forwarded['sent']} events to {forwarded['target']} at {forwarded['endpoint']}"
    if forwarded["failed"]:
        line += f"; {forwarded['failed']} failed: {forwarded.get('message', '')}"
    env.say(line)
    return bool(forwarded["failed"])
