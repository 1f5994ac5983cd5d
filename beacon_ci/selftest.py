"""`beacon ci selftest`: the whole pipeline against a built-in synthetic Claude Code, with no
agent and no API key: protobuf, JSON and gzip bodies, chunked, and a secret that must not leak."""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional, Tuple

import beacon_otlp
from beacon_ci.capture import Capture
from beacon_ci.context import resolve_paths
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_ERROR, EXIT_OK
from beacon_ci.verdict import Outcome, write_summary
from beacon_otlp import JSON, PROTOBUF, TOKEN_HEADER

# A fake GitHub token in the synthetic agent's tool input: the selftest proves it is redacted.
SYNTHETIC_SECRET = "ghp_" + "S3lfT3stT0k3n" * 2 + "abcdefghij"
SYNTHETIC_EVENTS = 6  # events one pass of the synthetic session becomes: 4 log records, 2 usage points


def synthetic_claude_session(session_id: str, now_ns: int) -> List[Tuple[str, Dict[str, Any]]]:
    """One short Claude Code session as (signal, request) pairs in the plain OTLP shape."""
    resource = {
        "attributes": {
            "service.name": "claude-code",
            "service.version": "2.1.197",
            "host.arch": "x64",
            "os.type": "linux",
            "os.version": "6.1.0",
        }
    }
    common = {
        "user.id": "0" * 64,
        "session.id": session_id,
        "terminal.type": "non-interactive",
        "prompt.id": "6f1f1a52-4d1e-4b7c-9a55-3d2f7c1e0b11",
    }
    events: List[Tuple[str, Dict[str, Any]]] = [
        ("user_prompt", {"prompt_length": "18", "prompt": "Review this change"}),
        (
            "tool_decision",
            {
                "decision": "accept",
                "source": "config",
                "tool_name": "Bash",
                "tool_use_id": "toolu_01SELFTEST0000000000001",
            },
        ),
        (
            "tool_result",
            {
                "tool_name": "Bash",
                "tool_use_id": "toolu_01SELFTEST0000000000001",
                "success": "true",
                "duration_ms": "12",
                "tool_input": json.dumps(
                    {"command": f"git push https://x-access-token:{SYNTHETIC_SECRET}@github.com/acme/app.git"}
                ),
            },
        ),
        (
            "api_request",
            {
                "model": "claude-opus-4-8",
                "input_tokens": 120,
                "output_tokens": 25,
                "cache_read_tokens": 0,
                "cache_creation_tokens": 0,
                "cost_usd": 0.001225,
                "duration_ms": 840,
            },
        ),
    ]
    records = []
    for sequence, (name, attributes) in enumerate(events):
        records.append(
            {
                "time_unix_nano": now_ns + sequence * 1_000_000,
                "body": f"claude_code.{name}",
                "attributes": {**common, "event.name": name, "event.sequence": sequence, **attributes},
            }
        )
    logs = {
        "resource_logs": [
            {
                "resource": resource,
                "scope_logs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.197"},
                        "log_records": records,
                    }
                ],
            }
        ]
    }
    usage = {
        "name": "claude_code.token.usage",
        "unit": "tokens",
        "sum": {
            "aggregation_temporality": 1,
            "is_monotonic": True,
            "data_points": [
                {
                    "time_unix_nano": now_ns,
                    "as_double": 120.0,
                    "attributes": {"type": "input", "model": "claude-opus-4-8"},
                },
                {
                    "time_unix_nano": now_ns,
                    "as_double": 25.0,
                    "attributes": {"type": "output", "model": "claude-opus-4-8"},
                },
            ],
        },
    }
    metrics = {
        "resource_metrics": [
            {
                "resource": resource,
                "scope_metrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": [usage]}],
            }
        ]
    }
    return [("logs", logs), ("metrics", metrics)]


def post_otlp(
    url: str,
    token: str,
    signal: str,
    body: bytes,
    content_type: str,
    compress: bool = False,
    chunked: bool = True,
    timeout: float = 10.0,
) -> int:
    """Send one OTLP/HTTP export the way agents do (chunked, optionally gzip); return the status."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": content_type, TOKEN_HEADER: token}
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        if chunked:
            conn.request("POST", f"/v1/{signal}", body=_chunks(body), headers=headers, encode_chunked=True)
        else:
            conn.request("POST", f"/v1/{signal}", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def run_selftest(env: Environment, log_path: Optional[str] = None) -> Outcome:
    """Send the synthetic session three ways through a real capture into the log (the default
    one, or `log_path`), which stays for you to open; pass when every event was written, every
    request answered 200, and the planted secret redacted. Shows the summary exec shows."""
    capture = Capture(env, ["claude"], resolve_paths(env.environ, log_path=log_path), "selftest")
    session = synthetic_claude_session("selftest-" + capture.capture_id, int(env.clock() * 1e9))
    sent = statuses = 0
    try:
        capture.start()
        for content_type, compress in ((PROTOBUF, False), (JSON, False), (PROTOBUF, True)):
            encode = beacon_otlp.encode_protobuf if content_type == PROTOBUF else beacon_otlp.encode_json
            for signal_name, request in session:
                body = encode(signal_name, request)
                status = post_otlp(
                    capture.receiver.url, capture.token, signal_name, body, content_type, compress
                )
                statuses += status == 200
                sent += beacon_otlp.count_records(signal_name, request)
    finally:
        capture.finish()
    expected = 3 * SYNTHETIC_EVENTS
    validation = capture.validate(min_events=expected)
    leaked = _holds(capture.paths.log_path, SYNTHETIC_SECRET)
    write_summary(env, validation, capture.pipeline.summary.result(), required=True, job_summary=False)
    result = capture.result(validation)
    ok = validation.passed and validation.event_count == expected and not leaked and statuses == 6
    result.update({"passed": ok, "records_sent": sent, "secret_leaked": leaked})
    env.say(
        f"selftest {'passed' if ok else 'FAILED'}: {validation.event_count} of {expected} events written "
        f"from {sent} OTLP records (protobuf, JSON, gzip; chunked); secret "
        f"{'LEAKED' if leaked else 'redacted'}"
    )
    env.say(
        f"the events are in {capture.paths.log_path} (capture {capture.capture_id}): one JSON object a line"
    )
    return Outcome(EXIT_OK if ok else EXIT_ERROR, result)


def _holds(path: str, text: str) -> bool:
    """Whether the log holds `text` anywhere, read a line at a time (it may be large)."""
    needle = text.encode("utf-8")
    with open(path, "rb") as log:
        return any(needle in line for line in log)
