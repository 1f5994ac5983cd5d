"""A stand-in agent for fast exec tests: exports beacon's synthetic Claude Code session to
wherever its environment points (as Claude Code reads it), then exits as told.

    python fake_agent.py [--exit N] [--no-telemetry] [--signals S,...] [--repeat N] [--token T]
                         [--on-signal] [--grandchild PATH] [--late-request PATH] [--echo]
                         [--marker PATH] [--environ PATH] [--process PATH] [--replay AGENT]

--signals exports only these signals' requests (logs, metrics); --repeat exports the session N times.
--replay exports, instead of the synthetic session, the OTLP bodies recorded from a real agent CLI
(tests/fixtures/AGENT: claude, codex or gemini; its first recorded run) as that agent sent them.
--token sends T as its token instead of the one it was given (the receiver answers 401).
--on-signal waits for SIGTERM/SIGINT/SIGHUP, exports, and exits 128+signal (as Claude does);
99 without exporting if no signal comes within a minute.
--grandchild leaves a detached child process (a session of its own) holding an idle keep-alive
connection to the receiver after one export, until the receiver closes it; its pid goes to PATH.
--late-request does the same with a request whose body stops halfway, in flight until then.
--echo copies its stdin to its stdout and to its stderr, byte for byte, until end of file.
--environ writes the names of the variables in its environment to PATH, as a JSON list.
--process writes its pid, process group and session to PATH, as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import beacon_otlp
from beacon_ci.selftest import post_otlp, synthetic_claude_session


def export(signals: Sequence[str] = ("logs", "metrics"), token: Optional[str] = None) -> None:
    endpoint, given = endpoint_and_token()
    json_protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "http/json"
    for signal_name, request in synthetic_claude_session("fake-agent", 1_764_000_000_000_000_000):
        if signal_name not in signals:
            continue
        if json_protocol:
            body, content_type = beacon_otlp.encode_json(signal_name, request), beacon_otlp.JSON
        else:
            body, content_type = beacon_otlp.encode_protobuf(signal_name, request), beacon_otlp.PROTOBUF
        refused = token not in (None, given)
        try:
            status = post_otlp(endpoint, token or given, signal_name, body, content_type)
        except ConnectionError:  # refused at its headers, the rest of its body meets a closed socket
            assert refused
            continue
        assert status == (401 if refused else 200), status


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def replay(agent: str) -> None:
    """Send one recorded run of a real agent, body by body, with its recorded content type."""
    endpoint, token = endpoint_and_token()
    folder = FIXTURES / agent
    run = json.loads((folder / "session.json").read_text())["runs"][0]
    for entry in run["files"]:
        body = (folder / entry["file"]).read_bytes()
        signal_name = entry["path"].rsplit("/", 1)[-1]
        status = post_otlp(endpoint, token, signal_name, body, entry["content_type"])
        assert status == 200, (entry["file"], status)


def echo() -> None:
    while True:
        data = os.read(0, 65536)
        if not data:
            return
        for fd in (1, 2):
            os.write(fd, data)


def endpoint_and_token() -> tuple:
    name, _, token = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    assert name == beacon_otlp.TOKEN_HEADER, name
    return os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"], token


def start_grandchild(role: str, pid_path: str) -> None:
    """Leave a detached grandchild in `role` (--hold-connection, --send-partially), its pid in
    pid_path; return once it holds its connection."""
    grandchild = subprocess.Popen(
        [sys.executable, __file__, role], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    Path(pid_path).write_text(str(grandchild.pid))
    assert grandchild.stdout is not None
    assert grandchild.stdout.readline() == "connected\n"


def hold_connection() -> None:
    """The grandchild: one export, then the connection kept open (as an exporter keeps it
    alive) until the receiver closes it, which ends the grandchild."""
    endpoint, token = endpoint_and_token()
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=None)
    headers = {"Content-Type": beacon_otlp.PROTOBUF, beacon_otlp.TOKEN_HEADER: token}
    conn.request("POST", "/v1/logs", body=b"", headers=headers)  # an empty export: admitted, answered
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
    print("connected", flush=True)
    assert conn.sock is not None
    conn.sock.recv(1)  # until the receiver closes the connection


def send_partially() -> None:
    """The grandchild: a log export whose head the receiver has read (it answered 100 Continue)
    and whose body stops halfway, so it stays in flight until the receiver closes the
    connection, which ends the grandchild."""
    endpoint, token = endpoint_and_token()
    url = urllib.parse.urlsplit(endpoint)
    (request,) = [r for s, r in synthetic_claude_session("late", 1_764_000_000_000_000_000) if s == "logs"]
    body = beacon_otlp.encode_protobuf("logs", request)
    head = (
        f"POST /v1/logs HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: {beacon_otlp.PROTOBUF}\r\n"
        f"{beacon_otlp.TOKEN_HEADER}: {token}\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80))
    sock.sendall(head.encode("latin-1"))
    answer = sock.makefile("rb").readline()
    assert answer.startswith(b"HTTP/1.1 100 "), answer  # the receiver has the request in hand
    sock.sendall(body[: len(body) // 2])
    print("connected", flush=True)
    sock.recv(1)  # until the receiver closes the connection


def wait_for_a_signal() -> Optional[int]:
    """Say "ready" on stdout, then wait (a minute at most) for SIGTERM, SIGINT or SIGHUP. Taken
    synchronously (blocked, then sigtimedwait): a handler that set a threading.Event could
    deadlock on the lock the waiting main thread holds."""
    wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    print("ready", flush=True)
    info = signal.sigtimedwait(wanted, 60)
    return info.si_signo if info else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--no-telemetry", action="store_true")
    parser.add_argument("--signals", default="logs,metrics")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--token")
    parser.add_argument("--on-signal", action="store_true")
    parser.add_argument("--grandchild")
    parser.add_argument("--late-request")
    parser.add_argument("--hold-connection", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--send-partially", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--marker")
    parser.add_argument("--environ")
    parser.add_argument("--process")
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--replay", choices=("claude", "codex", "gemini", "copilot"))
    args = parser.parse_args()
    if args.marker:
        Path(args.marker).write_text("ran")
    if args.environ:
        Path(args.environ).write_text(json.dumps(sorted(os.environ)))
    if args.process:
        ids = {"pid": os.getpid(), "pgid": os.getpgrp(), "sid": os.getsid(0)}
        Path(args.process).write_text(json.dumps(ids))
    if args.echo:
        echo()
    if args.hold_connection:
        hold_connection()
        return 0
    if args.send_partially:
        send_partially()
        return 0
    if args.grandchild:
        start_grandchild("--hold-connection", args.grandchild)
    if args.late_request:
        start_grandchild("--send-partially", args.late_request)
    code = args.exit
    if args.on_signal:
        signum = wait_for_a_signal()
        if signum is None:
            return 99
        code = 128 + signum
    if args.replay:
        replay(args.replay)
    elif not args.no_telemetry:
        for _ in range(args.repeat):
            export(args.signals.split(","), args.token)
    return code


if __name__ == "__main__":
    sys.exit(main())
