"""Point each agent's telemetry at the receiver, for the child only (never the runner
globally): the OTLP settings every agent shares, and each configured agent's own switches.
"""

from __future__ import annotations

import urllib.parse
from typing import Dict, Mapping, Optional, Sequence

from beacon_ci.agents import claude, copilot, gemini
from beacon_otlp import TOKEN_HEADER

# Inherited variables that would send telemetry elsewhere, or silently disable it.
_OTLP_OVERRIDES = (
    *(
        f"OTEL_EXPORTER_OTLP_{signal}_{setting}"
        for signal in ("LOGS", "METRICS", "TRACES")
        for setting in ("ENDPOINT", "PROTOCOL", "HEADERS", "COMPRESSION")
    ),
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_SDK_DISABLED",
    # TLS material for an https collector: meaningless for beacon's http://127.0.0.1 receiver,
    # and Copilot CLI exports nothing at all over http:// while any of them is set.
    *(
        f"OTEL_EXPORTER_OTLP_{signal}{setting}"
        for signal in ("", "LOGS_", "METRICS_", "TRACES_")
        for setting in ("CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE")
    ),
)
# Export cadence, set only where the user has not: short CI jobs must not ride on the exit flush.
_EXPORT_INTERVALS = {
    "OTEL_METRIC_EXPORT_INTERVAL": "5000",
    "OTEL_LOGS_EXPORT_INTERVAL": "1000",
    "OTEL_BLRP_SCHEDULE_DELAY": "1000",
    "OTEL_BSP_SCHEDULE_DELAY": "1000",
}


def resource_attributes(existing: str, capture_id: str, run: Mapping[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES with beacon's run metadata, replacing any earlier beacon.* keys.
    A CI run's runner is thrown away after the job: beacon.run.ephemeral=true, last, as 1.0 has it."""
    kept = [item for item in existing.split(",") if item.strip() and not item.strip().startswith("beacon.")]
    ours = {"beacon.origin": "ci", "beacon.capture.id": capture_id}
    ours.update({f"beacon.run.{key}": value for key, value in run.items()})
    if run:
        ours["beacon.run.ephemeral"] = "true"
    kept.extend(f"{key}={urllib.parse.quote(value, safe='')}" for key, value in ours.items())
    return ",".join(kept)


# The OpenTelemetry SDKs' name for each --otlp-protocol (context.OTLP_PROTOCOLS).
OTEL_PROTOCOLS = {"protobuf": "http/protobuf", "json": "http/json"}


def child_environment(
    parent: Mapping[str, str],
    harnesses: Sequence[str],
    endpoint: str,
    token: str,
    capture_id: str,
    run: Mapping[str, str],
    codex_home: Optional[str],
    protocol: str = "protobuf",
    traceparent: str = "",
) -> Dict[str, str]:
    """The environment for the agent: the parent's, with every configured harness exporting to
    us, in the capture's trace (`traceparent`)."""
    env = {k: v for k, v in parent.items() if k not in _OTLP_OVERRIDES}
    if traceparent:
        env["TRACEPARENT"] = traceparent
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = OTEL_PROTOCOLS[protocol]  # unset means Claude exports nothing
    env["OTEL_EXPORTER_OTLP_HEADERS"] = f"{TOKEN_HEADER}={token}"
    env["OTEL_RESOURCE_ATTRIBUTES"] = resource_attributes(
        parent.get("OTEL_RESOURCE_ATTRIBUTES", ""), capture_id, run
    )
    for name, value in _EXPORT_INTERVALS.items():
        env.setdefault(name, value)
    if "claude" in harnesses:
        env.update(claude.TELEMETRY_ENVIRONMENT)
    if "gemini" in harnesses:
        env.update(gemini.telemetry_environment(endpoint))
    if "copilot" in harnesses:
        env.update(copilot.TELEMETRY_ENVIRONMENT)
    if "codex" in harnesses and codex_home:
        env["CODEX_HOME"] = codex_home  # Codex reads no OTEL_* variables: its settings are there
    return env
