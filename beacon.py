#!/usr/bin/env python3
"""beacon: record what AI coding agents (Claude Code, Codex CLI, Gemini CLI) do in a CI job.

The pipeline: receive (OTLP/HTTP on loopback) -> decode -> normalize -> protect -> write ->
validate -> export -> report. The OTLP wire layer lives in beacon_otlp/; this file holds the
command line and everything that knows about agents. Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TextIO, Tuple

try:
    import beacon_otlp
except ImportError:  # `python3 -I beacon.py` does not put the script's folder on sys.path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import beacon_otlp
from beacon_otlp import JSON, PROTOBUF, TOKEN_HEADER, Batch, Receiver

__version__ = "0.1.0"

# --- errors and exit codes -----------------------------------------------------------

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_EXPORT = 4


class BeaconError(Exception):
    """An error beacon reports as one `beacon:` line and maps to an exit code."""

    exit_code = EXIT_ERROR


class UsageError(BeaconError):
    exit_code = EXIT_USAGE


# --- the environment a command runs in (injectable for tests) -----------------------


class Environment:
    """What a command may read from the outside world: variables, streams and clocks."""

    def __init__(
        self,
        environ: Optional[Mapping[str, str]] = None,
        stdout: Optional[TextIO] = None,
        stderr: Optional[TextIO] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.environ: Dict[str, str] = dict(os.environ if environ is None else environ)
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.clock = clock

    def say(self, message: str) -> None:
        """A human message: stderr, prefixed, so stdout stays the child's and --json's."""
        print(f"beacon: {message}", file=self.stderr, flush=True)


# --- a synthetic agent that speaks OTLP like Claude Code -----------------------------


def synthetic_claude_session(session_id: str, now_ns: int) -> List[Tuple[str, Dict[str, Any]]]:
    """One short Claude Code session as (signal, request) pairs in the plain OTLP shape."""
    resource = {"attributes": {"service.name": "claude-code", "service.version": "2.1.197",
                               "host.arch": "x64", "os.type": "linux", "os.version": "6.1.0"}}
    common = {"user.id": "0" * 64, "session.id": session_id, "terminal.type": "non-interactive",
              "prompt.id": "6f1f1a52-4d1e-4b7c-9a55-3d2f7c1e0b11"}
    events = [
        ("user_prompt", {"prompt_length": "18", "prompt": "Review this change"}),
        ("tool_decision", {"decision": "accept", "source": "config", "tool_name": "Bash",
                           "tool_use_id": "toolu_01SELFTEST0000000000001"}),
        ("tool_result", {"tool_name": "Bash", "tool_use_id": "toolu_01SELFTEST0000000000001",
                         "success": "true", "duration_ms": "12",
                         "tool_input": json.dumps({"command": "git status --short"})}),
        ("api_request", {"model": "claude-opus-4-8", "input_tokens": 120, "output_tokens": 25,
                         "cache_read_tokens": 0, "cache_creation_tokens": 0, "cost_usd": 0.001225,
                         "duration_ms": 840}),
    ]
    records = []
    for sequence, (name, attributes) in enumerate(events):
        records.append({
            "time_unix_nano": now_ns + sequence * 1_000_000,
            "body": f"claude_code.{name}",
            "attributes": {**common, "event.name": name, "event.sequence": sequence, **attributes},
        })
    logs = {"resource_logs": [{"resource": resource, "scope_logs": [
        {"scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.197"}, "log_records": records}]}]}
    usage = {"name": "claude_code.token.usage", "unit": "tokens", "sum": {
        "aggregation_temporality": 1, "is_monotonic": True, "data_points": [
            {"time_unix_nano": now_ns, "as_double": 120.0, "attributes": {"type": "input", "model": "claude-opus-4-8"}},
            {"time_unix_nano": now_ns, "as_double": 25.0, "attributes": {"type": "output", "model": "claude-opus-4-8"}},
        ]}}
    metrics = {"resource_metrics": [{"resource": resource, "scope_metrics": [
        {"scope": {"name": "com.anthropic.claude_code"}, "metrics": [usage]}]}]}
    return [("logs", logs), ("metrics", metrics)]


def post_otlp(url: str, token: str, signal: str, body: bytes, content_type: str,
              compress: bool = False, chunked: bool = True, timeout: float = 10.0) -> int:
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
        yield body[start:start + size]


# --- commands ------------------------------------------------------------------------


def _add_selftest(subparsers: Any) -> None:
    p = subparsers.add_parser("selftest", help="run the pipeline against a built-in synthetic agent")
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_selftest)


def _cmd_selftest(args: argparse.Namespace, env: Environment) -> int:
    token = secrets.token_urlsafe(24)
    received: List[Batch] = []
    lock = threading.Lock()

    def consume(batch: Batch) -> None:
        with lock:
            received.append(batch)

    session = synthetic_claude_session("selftest-" + secrets.token_hex(4), int(env.clock() * 1e9))
    sent = 0
    statuses = []
    with Receiver(consume, token=token) as receiver:
        for content_type, compress in ((PROTOBUF, False), (JSON, False), (PROTOBUF, True)):
            for signal, request in session:
                if content_type == PROTOBUF:
                    body = beacon_otlp.encode_protobuf(signal, request)
                else:
                    body = beacon_otlp.encode_json(signal, request)
                statuses.append(post_otlp(receiver.url, token, signal, body, content_type, compress))
                sent += beacon_otlp.count_records(signal, request)
        receiver.wait_idle(quiet=0.05, timeout=5.0)
    stats = receiver.stats.snapshot()
    got = sum(b.records for b in received)
    ok = got == sent and all(s == 200 for s in statuses)
    result = {"passed": ok, "records_sent": sent, "records_received": got, "receiver": stats}
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True), file=env.stdout)
    verdict = "passed" if ok else "FAILED"
    env.say(f"selftest {verdict}: {got} of {sent} records received over OTLP/HTTP "
            f"({len(statuses)} requests: protobuf, JSON, gzip; chunked)")
    return EXIT_OK if ok else EXIT_ERROR


def _add_ci(subparsers: Any) -> None:
    p = subparsers.add_parser("ci", help="capture agent telemetry in a CI job")
    commands = p.add_subparsers(dest="ci_command", metavar="COMMAND")
    commands.required = True
    _add_selftest(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"beacon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_ci(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None, env: Optional[Environment] = None) -> int:
    env = env or Environment()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        return int(args.func(args, env))
    except BeaconError as exc:
        env.say(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
