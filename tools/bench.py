"""Benchmark of beacon's OTLP wire layer: end-to-end throughput, peak memory, decode cost.

Run it from the repository root (it finds the repository itself, so any cwd works):

    .venv/default/bin/python tools/bench.py

It prints one JSON document on stdout (progress goes to stderr). Options:

    --quick       a smoke run: fewer records, fewer repetitions, a smaller memory run
    --startup     the start-up of `beacon ci exec -- true` only
    --records N   log records per end-to-end scenario (default 200000)

This is a benchmark, not a test: it always exits 0 once it has printed its report; whether the
targets were met is in the report's "targets" section.

What it measures
----------------
1. end_to_end: records/s through real HTTP into a beacon_otlp.Receiver's consumer, for
   protobuf and OTLP/JSON bodies, with 1 and 8 concurrent clients. Every request carries a
   batch of 512 log records shaped like Claude Code's claude_code.user_prompt / api_request /
   tool_result events (beacon_otlp.encode_protobuf and beacon_otlp.encode_json), sent with
   Transfer-Encoding: chunked in 64 KiB chunks (Claude Code sends chunked bodies) over one
   keep-alive http.client connection per client thread. The clients run in a separate
   process (`tools/bench.py --child client`), as an agent would, so that their own Python
   work does not compete with the receiver for this process's GIL. The clock starts when the
   clients are told to go and stops when the consumer (which only counts batch.records) has
   counted every record; it waits on a threading.Condition. Zero loss means: records sent ==
   records consumed, and every request in receiver.stats was answered 200.
2. peak_rss: a 200,000-record protobuf run with 1 client in a fresh child process
   (`tools/bench.py --child rss`), whose consumer just counts and drops batches; the child's
   resource.getrusage(RUSAGE_SELF).ru_maxrss at its end (KiB on Linux) is reported in MB
   (10^6 bytes). Its clients run in a grandchild, so their memory is not counted.
3. pipeline: the same 200,000 protobuf records through beacon's whole capture pipeline
   (beacon.Capture: normalize, protect, JSONL written and fsynced), in a child process pinned
   to one core (its clients on the others); records/s, events written, peak RSS.
4. startup: median wall time of `beacon ci exec -- true` minus that of `true`, 20 runs each,
   with the real interpreter (not a venv's or a pyenv shim), from a clone with its bytecode
   cached (warm), from a fresh clone (cold: the run compiles and caches), and from the pyz;
   with the interpreter's own start (`python -c pass`) and the `-X importtime` breakdown of a
   warm run. `--startup` measures this part alone.
5. decode_us_per_record: beacon's decode_protobuf and decode_json on one 512-record body,
   against the reference ExportLogsServiceRequest.ParseFromString + json_format.MessageToDict
   (protobuf is imported only for this part); best of 5 rounds of time.perf_counter.
6. session: median wall time of `beacon ci start` (until it returns, its receiver listening)
   and of `beacon ci finish` of an empty capture, 20 runs each.
7. forwarding: events/s from an export.forward.Forwarder, first submit to close() returning with
   every event confirmed, to an HEC sink (gzip, newline-delimited JSON) and to a beacon
   receiver over OTLP/HTTP logs, both on loopback, for 10,000 events (a full queue) of the
   synthetic session.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import http.server
import io
import json
import math
import os
import platform
import random
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zlib
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import beacon_otlp  # noqa: E402
from beacon_ci.agents.normalizer import Normalizer  # noqa: E402
from beacon_ci.capture import Capture  # noqa: E402
from beacon_ci.context import CaptureContext, resolve_paths  # noqa: E402
from beacon_ci.environment import Environment  # noqa: E402
from beacon_ci.export.forward import MAX_QUEUED_EVENTS, make_forwarder  # noqa: E402
from beacon_ci.selftest import synthetic_claude_session  # noqa: E402
from beacon_otlp import (  # noqa: E402
    JSON,
    PROTOBUF,
    TOKEN_HEADER,
    Batch,
    decode_json,
    decode_protobuf,
    encode_json,
    encode_protobuf,
)
from beacon_protect import Protector  # noqa: E402

BATCH_RECORDS = 512
CHUNK_BYTES = 64 * 1024  # each body goes out as chunks of this size
VARIANTS = 8  # distinct batches the clients cycle through
SEED = 20260101
DEFAULT_RECORDS = 200_000
RSS_RECORDS = 200_000
CLIENT_COUNTS = (1, 8)
FORMATS = {"protobuf": PROTOBUF, "json": JSON}
TOKEN_ENV = "BEACON_BENCH_TOKEN"
# What a GitHub Actions job's environment gives every event's `run` object: benchmarks capture
# as in CI, where the envelope is largest.
GITHUB_RUN_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "12345678901",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_RUN_NUMBER": "42",
    "GITHUB_WORKFLOW": "Agent review",
    "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/agent.yml@refs/pull/7/merge",
    "GITHUB_JOB": "review",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_SHA": "4f1c2a9d0b6e8f7a3c5d2e1b0a9f8e7d6c5b4a39",
    "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_REF": "refs/pull/7/merge",
    "GITHUB_REF_NAME": "7/merge",
    "GITHUB_HEAD_REF": "feature/parser",
    "GITHUB_BASE_REF": "main",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_SERVER_URL": "https://github.com",
    "RUNNER_OS": "Linux",
    "RUNNER_ENVIRONMENT": "github-hosted",
}

TARGET_RECORDS_PER_S = 20_000  # protobuf, 1 client, end to end
TARGET_PEAK_RSS_MB = 60.0  # for RSS_RECORDS protobuf records
TARGET_PIPELINE_PER_S = 5_000  # HTTP -> normalize -> protect -> fsynced JSONL, one core
TARGET_PIPELINE_RSS_MB = 80.0
TARGET_WARM_EXEC_MS = 60.0  # what `beacon ci exec -- true` adds to `true`, from a clone
TARGET_PYZ_EXEC_MS = 100.0  # the same from the zipapp, which compiles every module every run
EXEC_RUNS = 20
TARGET_START_MS = 1000.0  # ci start returns within a second
FORWARD_EVENTS = MAX_QUEUED_EVENTS  # submitted at once: what the queue holds


def log(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


# --- synthetic Claude Code events ------------------------------------------------------------

_RESOURCE = {
    "service.name": "claude-code",
    "service.version": "2.1.197",
    "host.arch": "x64",
    "os.type": "linux",
    "os.version": "6.8.0-1021-azure",
}
_SCOPE = {"name": "com.anthropic.claude_code.events", "version": "2.1.197"}
_MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001")
_WORDS = ("parser", "receiver", "config", "report", "session", "redact", "export", "bench", "wire", "shape")
# One turn of an agent: a prompt, then model calls alternating with tool calls.
_TURN = (
    "user_prompt",
    "api_request",
    "tool_result",
    "api_request",
    "tool_result",
    "api_request",
    "tool_result",
    "api_request",
)


def _iso(ns: int) -> str:
    seconds, rest = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 10**6:03d}Z"


def _tool_call(rng: random.Random) -> Tuple[str, str, str]:
    """(tool_name, tool_input, tool_parameters), the last two JSON strings as Claude Code sends."""
    word = rng.choice(_WORDS)
    path = f"/home/runner/work/beacon/beacon/src/{word}_{rng.randrange(100)}.py"
    tool = rng.choice(("Bash", "Read", "Edit", "Grep"))
    if tool == "Bash":
        command = f"python -m pytest -q tests/test_{word}.py -k test_{rng.choice(_WORDS)}_{rng.randrange(50)}"
        tool_input = {"command": command, "description": f"Run the {word} tests", "timeout": 120000}
        parameters = {
            "bash_command": "python",
            "full_command": command,
            "description": f"Run the {word} tests",
            "timeout": 120000,
        }
    elif tool == "Read":
        tool_input = {"file_path": path, "offset": rng.randrange(400), "limit": 200}
        parameters = {}
    elif tool == "Edit":
        tool_input = {
            "file_path": path,
            "old_string": f"def {word}(self, value):\n        return value",
            "new_string": f"def {word}(self, value: int) -> int:\n        return value + 1",
            "replace_all": False,
        }
        parameters = {}
    else:
        tool_input = {"pattern": f"class {word.title()}", "path": "src", "output_mode": "content", "-n": True}
        parameters = {}
    return tool, json.dumps(tool_input), json.dumps(parameters)


def make_request(variant: int, records: int = BATCH_RECORDS) -> Dict[str, Any]:
    """An ExportLogsServiceRequest in beacon's plain shape: one resource, one scope, `records`
    log records of Claude Code events (deterministic per variant)."""
    rng = random.Random(SEED + variant)
    user_id = f"{rng.getrandbits(256):064x}"
    session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    organization_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    account_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    now = 1_767_225_600 * 10**9 + variant * 3_600 * 10**9  # 2026-01-01T00:00Z + variant hours
    prompt_id = ""
    log_records: List[Dict[str, Any]] = []
    for index in range(records):
        name = _TURN[index % len(_TURN)]
        now += rng.randrange(5 * 10**6, 900 * 10**6)
        if name == "user_prompt":
            prompt_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        attributes: Dict[str, Any] = {
            "user.id": user_id,
            "session.id": session_id,
            "organization.id": organization_id,
            "user.account_uuid": account_uuid,
            "terminal.type": "non-interactive",
            "event.name": name,
            "event.timestamp": _iso(now),
            "event.sequence": variant * BATCH_RECORDS + index,
            "prompt.id": prompt_id,
        }
        if name == "user_prompt":
            attributes["prompt_length"] = rng.randrange(20, 4000)
            attributes["prompt"] = "<REDACTED>"
        elif name == "api_request":
            input_tokens, output_tokens = rng.randrange(3, 4000), rng.randrange(20, 3000)
            attributes.update(
                {
                    "model": rng.choice(_MODELS),
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cache_read_tokens": rng.randrange(0, 200_000),
                    "cache_creation_tokens": rng.randrange(0, 20_000),
                    "cost_usd": round(input_tokens * 3e-6 + output_tokens * 1.5e-5, 6),
                    "duration_ms": rng.randrange(400, 60_000),
                    "speed": "normal",
                }
            )
        else:
            tool_name, tool_input, tool_parameters = _tool_call(rng)
            attributes.update(
                {
                    "tool_name": tool_name,
                    "tool_use_id": f"toolu_01{rng.getrandbits(88):022x}",
                    "success": "true" if rng.random() < 0.93 else "false",
                    "duration_ms": rng.randrange(1, 30_000),
                    "decision_type": "accept",
                    "decision_source": "config",
                    "tool_input": tool_input,
                    "tool_parameters": tool_parameters,
                    "tool_result_size_bytes": rng.randrange(0, 50_000),
                }
            )
        log_records.append(
            {
                "time_unix_nano": now,
                "observed_time_unix_nano": now + rng.randrange(10_000, 2_000_000),
                "body": f"claude_code.{name}",
                "attributes": attributes,
            }
        )
    return {
        "resource_logs": [
            {
                "resource": {"attributes": dict(_RESOURCE)},
                "scope_logs": [{"scope": dict(_SCOPE), "log_records": log_records}],
            }
        ]
    }


def encode_body(fmt: str, request: Dict[str, Any]) -> bytes:
    return encode_protobuf("logs", request) if fmt == "protobuf" else encode_json("logs", request)


# --- clients (a child process) ------------------------------------------------------------------


def _plan(records: int) -> List[int]:
    """Records per request: full batches, then one partial batch for the remainder."""
    full, rest = divmod(records, BATCH_RECORDS)
    return [BATCH_RECORDS] * full + ([rest] if rest else [])


def client_main(args: argparse.Namespace) -> int:
    """Send `records` records to the receiver on 127.0.0.1:`port` from `clients` threads.

    Protocol with the parent: build every body and open every connection, print "ready",
    wait for "go" on stdin, send, then print one JSON line with what happened."""
    token = os.environ[TOKEN_ENV]
    fmt = args.format
    sizes = _plan(args.records)
    bodies = [encode_body(fmt, make_request(v)) for v in range(min(VARIANTS, len(sizes)))]
    tail = sizes[-1] if sizes and sizes[-1] != BATCH_RECORDS else 0
    tail_body = encode_body(fmt, make_request(0, tail)) if tail else b""

    def chunked(body: bytes) -> Tuple[bytes, ...]:
        return tuple(body[i : i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES))

    chunk_sets = [chunked(b) for b in bodies]
    tail_chunks = chunked(tail_body)
    requests: List[Tuple[Tuple[bytes, ...], int]] = [
        (chunk_sets[i % len(chunk_sets)] if n == BATCH_RECORDS else tail_chunks, n)
        for i, n in enumerate(sizes)
    ]
    headers = {"Content-Type": FORMATS[fmt], TOKEN_HEADER: token, "User-Agent": "beacon-bench"}

    connections = [
        http.client.HTTPConnection("127.0.0.1", args.port, timeout=120) for _ in range(args.clients)
    ]
    for conn in connections:
        conn.connect()
    lock = threading.Lock()
    pending = iter(requests)
    statuses: Counter = Counter()
    errors: List[str] = []
    totals = {"sent_requests": 0, "sent_records": 0, "ok_records": 0}

    def run(conn: http.client.HTTPConnection) -> None:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            chunks, n = item
            with lock:
                totals["sent_requests"] += 1
                totals["sent_records"] += n
            try:
                conn.request("POST", "/v1/logs", body=chunks, headers=headers, encode_chunked=True)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()  # http.client reconnects on the next request
                continue
            with lock:
                statuses[status] += 1
                if status == 200:
                    totals["ok_records"] += n

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return 2
    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,), name=f"client-{i}") for i, c in enumerate(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    report = dict(
        totals,
        statuses={str(k): v for k, v in sorted(statuses.items())},
        errors=errors[:10],
        error_count=len(errors),
        client_seconds=elapsed,
        body_bytes=len(bodies[0]) if bodies else len(tail_body),
    )
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    ok = not errors and set(statuses) <= {200}
    return 0 if ok else 1


# --- one end-to-end scenario (receiver in this process, clients in a child) ---------------


class CountingConsumer:
    """Counts records (after handing each batch to `inner`, if any); wakes a waiter once
    `target` records arrived."""

    def __init__(self, target: int, inner: Optional[Callable[[Batch], None]] = None) -> None:
        self.cond = threading.Condition()
        self.target = target
        self.inner = inner
        self.records = 0
        self.batches = 0

    def __call__(self, batch: Batch) -> None:
        if self.inner is not None:
            self.inner(batch)
        with self.cond:
            self.records += batch.records
            self.batches += 1
            if self.records >= self.target:
                self.cond.notify_all()

    def wait(self, proc: subprocess.Popen[str], timeout: float) -> bool:
        """Until every record was counted; gives up early if the clients failed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.records < self.target:
                if proc.poll() not in (None, 0):
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Woken by the consumer; the timeout only lets us notice a crashed client.
                self.cond.wait(min(left, 1.0))
            return True


class PipelineSink:
    """beacon's whole capture pipeline (normalize, protect, fsynced JSONL) in a temp dir."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="beacon-bench-")
        env = Environment(
            environ={"PATH": os.environ.get("PATH", "")}, stdout=io.StringIO(), stderr=io.StringIO()
        )
        self.capture = Capture(env, ["claude"], resolve_paths({}, base_dir=self.tmp.name), "exec")

    def finish(self) -> Dict[str, Any]:
        self.capture.finish()
        with open(self.capture.paths.log_path, "rb") as log:
            lines = sum(1 for _ in log)
        self.tmp.cleanup()
        return {
            "events_written": self.capture.pipeline.tally.events,
            "log_lines": lines,
            "write_failures": self.capture.pipeline.write_failures,
        }


def run_scenario(fmt: str, clients: int, records: int, sink: str = "count") -> Dict[str, Any]:
    """Clients in a child process send `records` records; the clock stops when the sink has
    consumed every one (for the pipeline: written and fsynced)."""
    pipeline = PipelineSink() if sink == "pipeline" else None
    if pipeline is not None:
        receiver, token = pipeline.capture.receiver, pipeline.capture.token
        consumer = CountingConsumer(records, inner=pipeline.capture.pipeline)
        receiver.consumer = consumer
    else:
        token = secrets.token_hex(16)
        consumer = CountingConsumer(records)
        receiver = beacon_otlp.Receiver(consumer, token=token)
    proc: Optional[subprocess.Popen[str]] = None
    client: Dict[str, Any] = {}
    written: Dict[str, Any] = {}
    seconds = math.nan
    reached = False
    affinity = _pinned_to_one_core() if pipeline is not None else None
    try:
        receiver.start()
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            "client",
            "--format",
            fmt,
            "--clients",
            str(clients),
            "--records",
            str(records),
            "--port",
            str(receiver.port),
        ]
        env = dict(os.environ, **{TOKEN_ENV: token})
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        if affinity is not None and len(affinity) > 1:
            os.sched_setaffinity(proc.pid, affinity - {min(affinity)})  # clients: the other cores
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"bench client failed to start (exit {proc.wait()})")
        started = time.perf_counter()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        reached = consumer.wait(proc, timeout=max(120.0, records / 500))
        if pipeline is not None:
            written = pipeline.finish()  # drain, stop, fsync: part of the measured work
        seconds = time.perf_counter() - started
        out, _ = proc.communicate(timeout=120)
        lines = out.strip().splitlines()
        client = json.loads(lines[-1]) if lines else {}
    finally:
        receiver.stop()
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    stats = receiver.stats.snapshot()
    requests = sum(r["count"] for r in stats["requests"])
    all_200 = all(r["status"] == 200 for r in stats["requests"]) and requests == len(_plan(records))
    sent = int(client.get("sent_records", 0))
    body_bytes = client.get("body_bytes", 0) * (records / BATCH_RECORDS)  # about: the tail is smaller
    result = {
        "records_per_s": round(records / seconds) if reached else None,
        "records": records,
        "records_sent": sent,
        "records_consumed": consumer.records,
        "lost": records - consumer.records,
        "requests": requests,
        "all_200": all_200,
        "zero_loss": reached
        and sent == records == consumer.records
        and all_200
        and not client.get("error_count")
        and stats["consumer_errors"] == 0,
        "seconds": round(seconds, 3),
        "body_bytes": client.get("body_bytes"),
        "mb_per_s": round(body_bytes / seconds / 1e6, 1) if reached else None,
    }
    if pipeline is not None:
        result.update(written)
        result["zero_loss"] = (
            result["zero_loss"] and written.get("events_written") == written.get("log_lines") == records
        )
    if client.get("error_count") or not all_200:
        result["client_statuses"] = client.get("statuses")
        result["client_errors"] = client.get("errors")
        result["rejected"] = stats["rejected"]
    return result


# --- peak RSS (a child process) ---------------------------------------------------------------


def _pinned_to_one_core() -> Optional[set]:
    """Pin this process (receiver, pipeline) to one core; return the previous affinity."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    previous = set(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {min(previous)})
    return previous


def rss_main(args: argparse.Namespace) -> int:
    """A protobuf run with 1 client into the given sink; report ru_maxrss at the end."""
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_scenario("protobuf", 1, args.records, args.sink)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(baseline_maxrss_kib=baseline_kib, maxrss_kib=peak_kib, vm_hwm_kib=_vm_hwm_kib())
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def _vm_hwm_kib() -> Optional[int]:
    """Peak RSS of this process image from /proc (Linux), a cross-check of ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure_rss(records: int, sink: str = "count") -> Dict[str, Any]:
    """Run rss_main in a fresh child. Linux carries a parent's peak RSS into ru_maxrss of a
    child it spawns (the exec'd image inherits the old address space's high-water mark), so
    call this while this process is still small: before any body is built."""
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "rss",
        "--records",
        str(records),
        "--sink",
        sink,
    ]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "records": records,
        "peak_mb": round(child["maxrss_kib"] * 1024 / 1e6, 1),
        "baseline_mb": round(child["baseline_maxrss_kib"] * 1024 / 1e6, 1),
        "vm_hwm_mb": round(child["vm_hwm_kib"] * 1024 / 1e6, 1) if child.get("vm_hwm_kib") else None,
        "records_per_s": child["records_per_s"],
        "lost": child["lost"],
        "zero_loss": child["zero_loss"],
        **{key: child[key] for key in ("events_written", "log_lines", "write_failures") if key in child},
    }


# --- hostile local clients: gzip bombs and slow sockets without the token -----------------------

BOMB_BYTES = 1_200_000_000  # what each bomb inflates to; the receiver's limit is 64 MiB
BOMBS_AT_ONCE = 4
SLOW_SOCKETS = 300
EXPORTER_REQUESTS = 20
TARGET_BOMB_EXTRA_MB = 32.0
TARGET_SLOW_DELAY_S = 1.0


def _gzip_zeros(size: int) -> bytes:
    """A gzip body of `size` zero bytes, compressed a megabyte at a time (never held whole)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block, parts = bytes(1 << 20), []
    for _ in range(size >> 20):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(bytes(size & ((1 << 20) - 1))) + compressor.flush())
    return b"".join(parts)


def _raw_request(
    port: int, token: str, body: bytes, extra: str = "", timeout: float = 60.0
) -> Tuple[int, float]:
    """One request on a fresh connection: (status, seconds until the answer's status line)."""
    head = (
        f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {PROTOBUF}\r\n"
        f"{TOKEN_HEADER}: {token}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        line = sock.makefile("rb").readline()
    return int(line.split()[1]), time.perf_counter() - started


def hostile_main(args: argparse.Namespace) -> int:
    """In a fresh process: peak RSS while BOMBS_AT_ONCE gzip bombs arrive together (against the
    peak before them), and how long an exporter's request takes with SLOW_SOCKETS connections
    open that trickle a request head without the token (against none open)."""
    token = secrets.token_urlsafe(16)
    bomb = _gzip_zeros(BOMB_BYTES)
    normal = encode_protobuf("logs", make_request(0))
    with beacon_otlp.Receiver(lambda batch: None, token=token) as receiver:
        assert _raw_request(receiver.port, token, normal)[0] == 200
        before_kib = _vm_hwm_kib() or 0
        statuses: List[int] = []
        threads = [
            threading.Thread(
                target=lambda: statuses.append(
                    _raw_request(receiver.port, token, bomb, "Content-Encoding: gzip\r\n")[0]
                )
            )
            for _ in range(BOMBS_AT_ONCE)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after_kib = _vm_hwm_kib() or 0
        quiet = [_raw_request(receiver.port, token, normal)[1] for _ in range(EXPORTER_REQUESTS)]
        slow = []
        for _ in range(SLOW_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", receiver.port), timeout=60)
            sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)
        crowded = [_raw_request(receiver.port, token, normal)[1] for _ in range(EXPORTER_REQUESTS)]
        for sock in slow:
            sock.close()
    report = {
        "bomb": {
            "inflates_to_bytes": BOMB_BYTES,
            "body_bytes": len(bomb),
            "at_once": BOMBS_AT_ONCE,
            "statuses": sorted(statuses),
            "peak_rss_before_mb": round(before_kib * 1024 / 1e6, 1),
            "peak_rss_after_mb": round(after_kib * 1024 / 1e6, 1),
            "extra_mb": round((after_kib - before_kib) * 1024 / 1e6, 1),
        },
        "slow_clients": {
            "sockets": SLOW_SOCKETS,
            "exporter_requests": EXPORTER_REQUESTS,
            "median_s_without": round(statistics.median(quiet), 4),
            "median_s_with": round(statistics.median(crowded), 4),
            "max_s_with": round(max(crowded), 4),
        },
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


def measure_hostile() -> Dict[str, Any]:
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", "hostile"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["targets"] = {
        "bomb_extra_mb": {
            "value": report["bomb"]["extra_mb"],
            "target": f"<= {TARGET_BOMB_EXTRA_MB:g}",
            "met": report["bomb"]["extra_mb"] <= TARGET_BOMB_EXTRA_MB
            and set(report["bomb"]["statuses"]) == {413},
        },
        "slow_clients_max_delay_s": {
            "value": report["slow_clients"]["max_s_with"],
            "target": f"<= {TARGET_SLOW_DELAY_S:g}",
            "met": report["slow_clients"]["max_s_with"] <= TARGET_SLOW_DELAY_S,
        },
    }
    return report


# --- start-up: what `beacon ci exec -- true` adds to `true` -------------------------------------

EXEC_TRUE = ("ci", "exec", "--", "true")


def real_interpreter() -> str:
    """The interpreter binary itself: not a venv's python (its site-packages are not a runner's)
    nor a pyenv shim (a shell script that costs more than beacon)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def runtime_copy(target: str) -> str:
    """What a clone of the repository runs: beacon.py and its packages, with no bytecode cache."""
    shutil.copy2(os.path.join(ROOT, "beacon.py"), target)
    for name in sorted(os.listdir(ROOT)):
        if name.startswith("beacon_") and os.path.isfile(os.path.join(ROOT, name, "__init__.py")):
            shutil.copytree(
                os.path.join(ROOT, name),
                os.path.join(target, name),
                ignore=shutil.ignore_patterns("__pycache__"),
            )
    return os.path.join(target, "beacon.py")


def drop_bytecode(folder: str) -> None:
    for path, dirs, _ in os.walk(folder):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(path, "__pycache__"))


def timed_runs(
    commands: Dict[str, List[str]], env: Dict[str, str], runs: int, before: Callable[[str], None]
) -> Dict[str, float]:
    """Median wall time in ms of each command; the commands alternate, so drift in machine load
    hits them alike. `before(name)` runs before each (untimed). `beacon ci exec -- true` exits 3:
    `--harness auto` configures all three agents for a program that is none, and validation then
    fails for want of telemetry, which is part of what is measured."""
    expected = {
        name: 3 if tuple(cmd[-len(EXEC_TRUE) :]) == EXEC_TRUE else 0 for name, cmd in commands.items()
    }
    timings: Dict[str, List[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            before(name)
            started = time.perf_counter()
            code = subprocess.run(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode
            timings[name].append((time.perf_counter() - started) * 1000)
            if code != expected[name]:
                raise SystemExit(f"bench: {' '.join(cmd)} exited {code}, expected {expected[name]}")
    return {name: statistics.median(values) for name, values in timings.items()}


def import_breakdown(python: str, script: str, env: Dict[str, str]) -> Dict[str, Any]:
    """`-X importtime` of one warm run: the total, each of our modules' own time, and the ten
    largest imports by cumulative time (ours and the standard library's)."""
    done = subprocess.run(
        [python, "-X", "importtime", script, *EXEC_TRUE], env=env, capture_output=True, text=True
    )
    rows = []  # (name, self us, cumulative us, depth)
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, cumulative, name = line[len("import time:") :].split("|")
            rows.append((name.strip(), int(own), int(cumulative), (len(name) - len(name.lstrip())) // 2))
    top = [row for row in rows if row[3] == 0]
    return {
        "total_ms": round(sum(row[2] for row in top) / 1000, 1),
        "site_ms": round(sum(row[2] for row in top if row[0] == "site") / 1000, 1),
        "beacon_self_ms": {
            name: round(own / 1000, 2) for name, own, _, _ in sorted(rows) if name.startswith("beacon")
        },
        "largest_cumulative_ms": {
            name: round(cumulative / 1000, 1)
            for name, _, cumulative, _ in sorted(rows, key=lambda r: -r[2])[:10]
        },
    }


def measure_startup(runs: int) -> Dict[str, Any]:
    """The median added wall time of `beacon ci exec -- true` over `true`, with the real
    interpreter: from a clone whose bytecode is cached (warm: every run after the first), from a
    fresh clone (cold: no cache, compiled and cached by that run), and from the zipapp (which
    can keep no cache). Also the interpreter's own start (`python -c pass`), which includes
    whatever the machine's site-packages load, and the import-time breakdown of a warm run."""
    python = real_interpreter()
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as tmp:
        clone = os.path.join(tmp, "clone")
        os.mkdir(clone)
        script = runtime_copy(clone)
        built = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tools", "build_pyz.py"), "--out-dir", tmp],
            capture_output=True,
            text=True,
        )
        if built.returncode:
            raise SystemExit(f"bench: building the pyz failed: {built.stderr}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTHON"))}
        env["RUNNER_TEMP"] = os.path.join(tmp, "runner")  # PYTHON*: no DONTWRITEBYTECODE, no PATH
        cold = os.path.join(tmp, "cold")
        shutil.copytree(clone, cold)
        subprocess.run([python, script, *EXEC_TRUE], env=env, capture_output=True)  # warms the cache
        commands = {
            "true": ["true"],
            "python": [python, "-c", "pass"],
            "warm_clone": [python, script, *EXEC_TRUE],
            "cold_clone": [python, os.path.join(cold, "beacon.py"), *EXEC_TRUE],
            "pyz": [python, os.path.join(tmp, "beacon.pyz"), *EXEC_TRUE],
        }
        medians = timed_runs(
            commands, env, runs, lambda name: drop_bytecode(cold) if name == "cold_clone" else None
        )
        breakdown = import_breakdown(python, script, env)
    plain = medians["true"]
    return {
        "runs": runs,
        "interpreter": python,
        "true_median_ms": round(plain, 1),
        "added_ms": {name: round(value - plain, 1) for name, value in medians.items() if name != "true"},
        "imports_warm": breakdown,
    }


def startup_targets(startup: Dict[str, Any]) -> Dict[str, Any]:
    added = startup["added_ms"]
    return {
        "exec_added_ms_warm_clone": {
            "value": added["warm_clone"],
            "target": f"<= {TARGET_WARM_EXEC_MS:g}",
            "met": added["warm_clone"] <= TARGET_WARM_EXEC_MS,
        },
        "exec_added_ms_pyz": {
            "value": added["pyz"],
            "target": f"<= {TARGET_PYZ_EXEC_MS:g}",
            "met": added["pyz"] <= TARGET_PYZ_EXEC_MS,
        },
    }


def measure_session(runs: int) -> Dict[str, Any]:
    """Median wall time of `beacon ci start` (until it returns, its receiver listening) and of
    `beacon ci finish` with nothing captured, each in a fresh directory."""
    script = os.path.join(ROOT, "beacon.py")
    timings: Dict[str, List[float]] = {"start": [], "finish": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="beacon-bench-") as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
            env["RUNNER_TEMP"] = tmp
            for name, extra in (
                ("start", ["--harness", "claude"]),
                ("finish", ["--require-telemetry", "false"]),
            ):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, script, "ci", name, *extra],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
                timings[name].append((time.perf_counter() - started) * 1000)
    return {
        "runs": runs,
        **{f"{name}_median_ms": round(statistics.median(values), 1) for name, values in timings.items()},
    }


# --- forwarding -------------------------------------------------------------------------------


class _HecSink(http.server.BaseHTTPRequestHandler):
    """Accepts HEC posts and counts their events: what a fast Splunk answers."""

    protocol_version = "HTTP/1.1"
    events = 0

    def do_POST(self) -> None:
        body = gzip.decompress(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).events += body.count(b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def _forward_rate(target: str, url: str, environ: Dict[str, str], events: List[Dict[str, Any]]) -> float:
    forwarder = make_forwarder(target, url, environ)
    started = time.perf_counter()
    for start in range(0, len(events), 100):  # in batches, as the capture submits them
        forwarder.submit(events[start : start + 100])
    result = forwarder.close(120)
    elapsed = time.perf_counter() - started
    if result.failed:
        raise RuntimeError(f"forwarding to {target} lost {result.failed} events: {result.message}")
    return round(result.sent / elapsed)


def measure_forwarding(count: int) -> Dict[str, Any]:
    """Events/s through a Forwarder to an HEC sink and to a beacon receiver (OTLP logs)."""
    events = _sample_events(count)
    _HecSink.events = 0
    hec = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HecSink)
    threading.Thread(target=hec.serve_forever, daemon=True).start()
    received: Counter = Counter()
    receiver = beacon_otlp.Receiver(lambda batch: received.update(logs=batch.records), token="bench-token")
    receiver.start()
    try:
        hec_rate = _forward_rate(
            "splunk",
            f"http://127.0.0.1:{hec.server_address[1]}",
            {"BEACON_CI_SPLUNK_HEC_TOKEN": "bench-token"},
            events,
        )
        otlp_rate = _forward_rate(
            "otlp", receiver.url, {"BEACON_CI_OTLP_HEADERS": f"{TOKEN_HEADER}=bench-token"}, events
        )
    finally:
        hec.shutdown()
        receiver.stop()
    return {
        "events": count,
        "hec_events_per_s": hec_rate,
        "otlp_events_per_s": otlp_rate,
        "hec_received": _HecSink.events,
        "otlp_received": received["logs"],
    }


def _sample_events(count: int) -> List[Dict[str, Any]]:
    """Beacon events as the capture writes them (normalized, protected), from the synthetic session."""
    normalizer = Normalizer(CaptureContext.detect({}, "bench", "exec"), time.time)
    protector = Protector([])
    session: List[Dict[str, Any]] = []
    for signal_name, sent in synthetic_claude_session("bench", time.time_ns()):
        request = decode_protobuf(signal_name, encode_protobuf(signal_name, sent))  # as received
        batch = beacon_otlp.Batch(
            signal_name, request, PROTOBUF, beacon_otlp.count_records(signal_name, request), time.time()
        )
        session += [protector.protect_event(event) for event in normalizer.events(batch)]
    return [session[n % len(session)] for n in range(count)]


# --- scale: a million records through `beacon ci exec`, then ci validate and ci summary --------

SCALE_RECORDS = 1_000_000
TARGET_SCALE_RSS_MB = 80.0
TARGET_SCALE_PER_S = 15_000
TARGET_EXIT_SECONDS = 2.0


def agent_main(args: argparse.Namespace) -> int:
    """The load generator `ci exec` runs: `records` Claude-shaped records in 512-record protobuf
    batches, sent chunked over one keep-alive connection to the endpoint and token beacon put in
    its environment, as Claude Code sends them. Writes when it began sending and when it was done
    to $BEACON_BENCH_AGENT_REPORT."""
    endpoint = urllib.parse.urlsplit(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    name, _, token = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    sizes = _plan(args.records)
    bodies = [encode_body("protobuf", make_request(v)) for v in range(min(VARIANTS, len(sizes)))]
    headers = {"Content-Type": PROTOBUF, name: token, "User-Agent": "beacon-bench-agent"}
    conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=120)
    statuses: Counter = Counter()
    first_send = time.time()
    for index, size in enumerate(sizes):
        body = (
            bodies[index % len(bodies)]
            if size == BATCH_RECORDS
            else encode_body("protobuf", make_request(0, size))
        )
        chunks = tuple(body[i : i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES))
        conn.request("POST", "/v1/logs", body=chunks, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        response.read()
        statuses[response.status] += 1
    conn.close()
    report = {
        "first_send": first_send,
        "exit": time.time(),
        "records": args.records,
        "statuses": dict(statuses),
    }
    with open(os.environ["BEACON_BENCH_AGENT_REPORT"], "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    return 0 if set(statuses) == {200} else 1


def beacon_main(args: argparse.Namespace) -> int:
    """beacon's own CLI in this process, then its peak RSS (children excluded) and exit time,
    written to $BEACON_BENCH_BEACON_REPORT."""
    from beacon_ci.cli import main as beacon

    code = beacon(args.beacon_args, Environment(environ=dict(os.environ)))
    report = {
        "exit": time.time(),
        "code": code,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),  # user and system, all threads
    }
    with open(os.environ["BEACON_BENCH_BEACON_REPORT"], "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    return 0


def _run_beacon(tmp: str, beacon_args: List[str], extra_env: Dict[str, str]) -> Dict[str, Any]:
    report = os.path.join(tmp, "beacon.json")
    env = {**os.environ, **GITHUB_RUN_ENV, "RUNNER_TEMP": tmp, **extra_env}
    env["BEACON_BENCH_BEACON_REPORT"] = report
    started = time.time()
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", "beacon", "--", *beacon_args],
        env=env,
        capture_output=True,
        text=True,
    )
    with open(report, encoding="utf-8") as handle:
        result = json.load(handle)
    result.update(started=started, stdout=done.stdout, stderr_tail=done.stderr[-2000:])
    return result


def measure_scale(records: int) -> Dict[str, Any]:
    """`beacon ci exec --harness claude -- <agent>` for `records` records, then `ci validate`,
    `ci summary` and `ci findings` over the log it wrote: peak RSS of beacon's process (its child excluded),
    records/s from the agent's first send to beacon's exit, seconds from the agent's exit to
    beacon's exit, records lost; the log's size."""
    with tempfile.TemporaryDirectory(prefix="beacon-scale-") as tmp:
        log = os.path.join(tmp, "runtime.jsonl")
        agent_report = os.path.join(tmp, "agent.json")
        child = [sys.executable, os.path.abspath(__file__), "--child", "agent", "--records", str(records)]
        run = _run_beacon(
            tmp,
            [
                "ci",
                "exec",
                "--json",
                "--harness",
                "claude",
                "--log-path",
                log,
                "--summary",
                "false",
                "--",
                *child,
            ],
            {"BEACON_BENCH_AGENT_REPORT": agent_report},
        )
        with open(agent_report, encoding="utf-8") as handle:
            agent = json.load(handle)
        result = json.loads(run["stdout"].strip().splitlines()[-1])
        written = sum(result["events"].values())
        writer = result.get("writer_process") or {"peak_rss_mb": 0.0, "cpu_seconds": 0.0}
        capture_rss = round(run["maxrss_kib"] * 1024 / 1e6, 1)
        exec_row = {
            "exit_code": run["code"],
            # the capture's process and its writer process: both peaks, as if at once
            "peak_rss_mb": round(capture_rss + writer["peak_rss_mb"], 1),
            "peak_rss_mb_capture_process": capture_rss,
            "peak_rss_mb_writer_process": writer["peak_rss_mb"],
            "records_per_s": round(records / (run["exit"] - agent["first_send"])),
            "seconds_child_exit_to_beacon_exit": round(run["exit"] - agent["exit"], 2),
            "records_lost": records - written,
            "cpu_us_per_record": round((run["cpu_s"] + writer["cpu_seconds"]) / records * 1e6, 1),
            "validation": result["validation"]["status"],
        }
        rows: Dict[str, Any] = {"records": records, "log_bytes": os.path.getsize(log), "exec": exec_row}
        for name, argv in (
            ("validate", ["ci", "validate", "--log-path", log, "--harness", "claude"]),
            ("summary", ["ci", "summary", "--log-path", log, "--format", "json"]),
            ("findings", ["ci", "findings", "--log-path", log, "--format", "json"]),
        ):
            done = _run_beacon(tmp, argv, {})
            rows[name] = {
                "exit_code": done["code"],
                "peak_rss_mb": round(done["maxrss_kib"] * 1024 / 1e6, 1),
                "seconds": round(done["exit"] - done["started"], 1),
            }
        return rows


def scale_targets(small: Dict[str, Any], large: Dict[str, Any]) -> Dict[str, Any]:
    rss, rate = large["exec"]["peak_rss_mb"], large["exec"]["records_per_s"]
    exit_s, lost = large["exec"]["seconds_child_exit_to_beacon_exit"], large["exec"]["records_lost"]
    growth = round(rss - small["exec"]["peak_rss_mb"], 1)
    readers = max(large[name]["peak_rss_mb"] for name in ("validate", "summary", "findings"))
    return {
        "scale_peak_rss_mb": {
            "value": rss,
            "target": f"<= {TARGET_SCALE_RSS_MB:g}",
            "met": rss <= TARGET_SCALE_RSS_MB,
        },
        "scale_rss_growth_mb": {
            "value": growth,
            "target": "no growth from 100,000 records",
            "met": growth <= 5,
        },
        "scale_records_per_s": {
            "value": rate,
            "target": f">= {TARGET_SCALE_PER_S}",
            "met": rate >= TARGET_SCALE_PER_S,
        },
        "scale_exit_seconds": {
            "value": exit_s,
            "target": f"<= {TARGET_EXIT_SECONDS:g}",
            "met": exit_s <= TARGET_EXIT_SECONDS,
        },
        "scale_records_lost": {"value": lost, "target": "0", "met": lost == 0},
        "scale_log_readers_peak_rss_mb": {  # ci validate, summary and findings over the log
            "value": readers,
            "target": f"<= {TARGET_SCALE_RSS_MB:g}",
            "met": readers <= TARGET_SCALE_RSS_MB,
        },
    }


# --- protection cost --------------------------------------------------------------------------

# 1 MB strings built to make a careless rule backtrack or rescan: repeated prefixes and labels
# with no value, separators without end, a PEM header with no footer, a URL with no '@'.
ADVERSARIAL_BYTES = 1_000_000
_ADVERSARIAL_UNITS = {
    "letters": "a",
    "token_prefixes": "sk-ghp_AKIAxoxb-hf_",
    "labels_without_values": "password token= secret: ",
    "url_without_at": "https://user:",
    "pem_without_end": "-----BEGIN RSA PRIVATE KEY-----A",
    "connection_string": "AccountKey=;",
    "base64_run": "eyJhbGciOiJIUzI1NiJ9",
    "command_flags": "mysql -p -u -a --password ",
    "spaces": " \t",
}


def claude_events(variants: int) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Normalized (unprotected) events of `variants` Claude-shaped 512-record batches, decoded
    from protobuf as the receiver decodes them, and the envelope parts they share."""
    normalizer = Normalizer(CaptureContext.detect(GITHUB_RUN_ENV, "bench", "exec"), time.time)
    events: List[Dict[str, Any]] = []
    for variant in range(variants):
        request = decode_protobuf("logs", encode_protobuf("logs", make_request(variant)))
        batch = Batch("logs", request, PROTOBUF, BATCH_RECORDS, time.time())
        events += normalizer.events(batch)
    return events, normalizer.shared_parts()


def measure_protection(rounds: int) -> Dict[str, Any]:
    """Microseconds per Claude-shaped event through Protector.protect_event (a fresh Protector per
    round, so its caches fill as in a new capture), and the time to protect an event whose
    message is each 1 MB adversarial string."""
    events, shared = claude_events(VARIANTS)
    best = math.inf
    for _ in range(rounds):
        protector = Protector(["bench-receiver-token-0123456789"])
        protector.seal(*shared)  # as the capture pipeline does
        started = time.perf_counter()
        for event in events:
            protector.protect_event(event)
        best = min(best, time.perf_counter() - started)
    adversarial: Dict[str, float] = {}
    for name, unit in _ADVERSARIAL_UNITS.items():
        text = (unit * (ADVERSARIAL_BYTES // len(unit) + 1))[:ADVERSARIAL_BYTES]
        event = dict(events[0], message=text)  # as a tool's output would arrive
        started = time.perf_counter()
        Protector().protect_event(event)
        adversarial[name] = round((time.perf_counter() - started) * 1000, 1)
    return {
        "us_per_claude_event": round(best / len(events) * 1e6, 2),
        "events": len(events),
        "rounds": rounds,
        "adversarial_1mb_ms": adversarial,
        "adversarial_worst_ms": max(adversarial.values()),
    }


# --- decode cost ------------------------------------------------------------------------------


def best_us_per_record(fn: Callable[[], Any], rounds: int, reps: int, records: int) -> float:
    fn()  # warm up
    best = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, time.perf_counter() - started)
    return round(best / (reps * records) * 1e6, 2)


def measure_decode(rounds: int, reps: int) -> Dict[str, Any]:
    request = make_request(0)
    pb = encode_protobuf("logs", request)
    js = encode_json("logs", request)
    n = BATCH_RECORDS
    # Sanity: our two decoders read the same request from both bodies.
    ours = decode_protobuf("logs", pb)
    agree = ours == decode_json("logs", js) and beacon_otlp.count_records("logs", ours) == n
    us: Dict[str, Any] = {
        "beacon_protobuf": best_us_per_record(lambda: decode_protobuf("logs", pb), rounds, reps, n),
        "beacon_json": best_us_per_record(lambda: decode_json("logs", js), rounds, reps, n),
        "stdlib_json_loads_only": best_us_per_record(lambda: json.loads(js), rounds, reps, n),
    }
    reference: Dict[str, Any] = {}
    try:  # the reference implementation, imported only here
        import google.protobuf
        from google.protobuf import json_format
        from google.protobuf.internal import api_implementation
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    except ImportError as exc:
        reference["missing"] = f"{exc} (install the test extras: pip install -e '.[test]')"
        us["reference_parse_plus_to_dict"] = us["reference_parse_only"] = None
    else:

        def reference_parse() -> Any:
            message = ExportLogsServiceRequest()
            message.ParseFromString(pb)
            return message

        def reference_to_dict() -> Any:
            return json_format.MessageToDict(reference_parse())

        # Sanity: the reference reads the same request from the JSON body as from protobuf.
        agree = agree and json_format.Parse(js, ExportLogsServiceRequest()) == reference_parse()
        us["reference_parse_plus_to_dict"] = best_us_per_record(reference_to_dict, rounds, reps, n)
        us["reference_parse_only"] = best_us_per_record(reference_parse, rounds, reps, n)
        reference.update(
            protobuf=google.protobuf.__version__,
            api_implementation=api_implementation.Type(),
            opentelemetry_proto=_dist_version("opentelemetry-proto"),
        )
    return {
        "us_per_record": us,
        "bodies_agree": bool(agree),
        "body_bytes": {"protobuf": len(pb), "json": len(js)},
        "reference": reference,
        "rounds": rounds,
        "reps_per_round": reps,
    }


def _dist_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


# --- main -------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer records and repetitions")
    parser.add_argument("--records", type=int, default=None, help="records per end-to-end scenario")
    parser.add_argument("--startup", action="store_true", help="measure the start-up only (a few seconds)")
    parser.add_argument("--protect", action="store_true", help="measure the protection cost only")
    parser.add_argument("--scale", action="store_true", help="measure the million-record run only")
    parser.add_argument(
        "--hostile", action="store_true", help="measure gzip bombs and slow clients only (a few seconds)"
    )
    parser.add_argument("beacon_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument(
        "--child", choices=("client", "rss", "agent", "beacon", "hostile"), help=argparse.SUPPRESS
    )
    parser.add_argument("--format", choices=tuple(FORMATS), default="protobuf", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sink", choices=("count", "pipeline"), default="count", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "client":
        return client_main(args)
    if args.child == "rss":
        return rss_main(args)
    if args.child == "agent":
        return agent_main(args)
    if args.child == "hostile":
        return hostile_main(args)
    if args.child == "beacon":
        args.beacon_args = args.beacon_args[1:] if args.beacon_args[:1] == ["--"] else args.beacon_args
        return beacon_main(args)
    if args.scale:
        large_records = args.records or SCALE_RECORDS
        log(f"scale: {large_records // 10} records, then {large_records}, through ci exec")
        small, large = measure_scale(large_records // 10), measure_scale(large_records)
        report = {
            "python": platform.python_version(),
            "scale": {"small": small, "large": large},
            "targets": scale_targets(small, large),
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0

    if args.hostile:
        report = {"python": platform.python_version(), "hostile": measure_hostile()}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    if args.startup:
        startup = measure_startup(EXEC_RUNS)
        report = {
            "python": platform.python_version(),
            "startup": startup,
            "targets": startup_targets(startup),
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    if args.protect:
        protection = measure_protection(5)
        report = {"python": platform.python_version(), "protection": protection}
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    records = args.records if args.records is not None else (10_240 if args.quick else DEFAULT_RECORDS)
    if records < 1:
        parser.error("--records must be at least 1")
    rss_records = 20_480 if args.quick else RSS_RECORDS
    rounds, reps = (5, 2) if args.quick else (5, 10)

    # Memory first, while this process is small (see measure_rss).
    log(f"peak RSS: protobuf, 1 client, {rss_records} records (child process)")
    rss = measure_rss(rss_records)
    log(f"peak RSS: the capture pipeline, {rss_records} records, one core (child process)")
    pipeline = measure_rss(rss_records, "pipeline")
    log(f"start-up: {EXEC_RUNS} runs of beacon ci exec -- true (warm, cold, pyz) and of true")
    startup = measure_startup(EXEC_RUNS)
    log(f"session mode: {EXEC_RUNS} runs of beacon ci start, then ci finish")
    session = measure_session(EXEC_RUNS)
    log(f"forwarding: {FORWARD_EVENTS} events to an HEC sink and to a beacon receiver over OTLP")
    forwarding = measure_forwarding(FORWARD_EVENTS)
    end_to_end: Dict[str, Dict[str, Any]] = {}
    for fmt in FORMATS:
        end_to_end[fmt] = {}
        for clients in CLIENT_COUNTS:
            log(f"end to end: {fmt}, {clients} client(s), {records} records")
            end_to_end[fmt][f"clients_{clients}"] = run_scenario(fmt, clients, records)
    log(f"decode cost: {rounds} rounds x {reps} decodes of {BATCH_RECORDS} records")
    decode = measure_decode(rounds, reps)

    us = decode["us_per_record"]
    pb1 = end_to_end["protobuf"]["clients_1"]["records_per_s"] or 0
    ref_us = us["reference_parse_plus_to_dict"]
    zero_loss = all(s["zero_loss"] for f in end_to_end.values() for s in f.values()) and rss["zero_loss"]
    targets: Dict[str, Any] = {
        "protobuf_1_client_records_per_s": {
            "value": pb1,
            "target": f">= {TARGET_RECORDS_PER_S}",
            "met": pb1 >= TARGET_RECORDS_PER_S,
        },
        "protobuf_decode_vs_reference": {
            "value": round(ref_us / us["beacon_protobuf"], 2) if ref_us else None,
            "target": ">= 1.0 (reference us/record / beacon us/record)",
            "met": bool(ref_us) and us["beacon_protobuf"] <= ref_us,
        },
        "zero_loss": {"value": zero_loss, "target": "every scenario", "met": zero_loss},
        "peak_rss_mb": {
            "value": rss["peak_mb"],
            "target": f"< {TARGET_PEAK_RSS_MB:g} MB for {RSS_RECORDS} records",
            "met": rss["peak_mb"] < TARGET_PEAK_RSS_MB and rss_records >= RSS_RECORDS,
        },
    }
    pipeline_rate = pipeline["records_per_s"] or 0
    targets["pipeline_records_per_s_one_core"] = {
        "value": pipeline_rate,
        "target": f">= {TARGET_PIPELINE_PER_S}",
        "met": pipeline_rate >= TARGET_PIPELINE_PER_S,
    }
    targets["pipeline_zero_loss"] = {
        "value": pipeline["zero_loss"],
        "target": "every record written",
        "met": pipeline["zero_loss"],
    }
    targets["pipeline_peak_rss_mb"] = {
        "value": pipeline["peak_mb"],
        "target": f"< {TARGET_PIPELINE_RSS_MB:g} MB for {RSS_RECORDS} records",
        "met": pipeline["peak_mb"] < TARGET_PIPELINE_RSS_MB and rss_records >= RSS_RECORDS,
    }
    targets.update(startup_targets(startup))
    targets["session_start_ms"] = {
        "value": session["start_median_ms"],
        "target": f"< {TARGET_START_MS:g}",
        "met": session["start_median_ms"] < TARGET_START_MS,
    }
    targets["all_met"] = all(t["met"] for t in targets.values())

    report = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(),
        },
        "settings": {
            "quick": args.quick,
            "batch_records": BATCH_RECORDS,
            "chunk_bytes": CHUNK_BYTES,
            "body_bytes": decode["body_bytes"],
            "clients": "separate process, one thread and keep-alive connection per client",
        },
        "end_to_end": end_to_end,
        "peak_rss_mb_200k_records": rss["peak_mb"] if rss_records == RSS_RECORDS else None,
        "peak_rss": rss,
        "decode_us_per_record": us,
        "pipeline": pipeline,
        "startup": startup,
        "session": session,
        "forwarding": forwarding,
        "decode_bodies_agree": decode["bodies_agree"],
        "decode_rounds": {"rounds": decode["rounds"], "reps_per_round": decode["reps_per_round"]},
        "reference": decode["reference"],
        "targets": targets,
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
