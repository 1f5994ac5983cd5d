"""A stand-in agent for fast exec tests: exports beacon's synthetic Claude Code session to
wherever its environment points (as Claude Code reads it), then exits as told.

    python fake_agent.py [--exit N] [--no-telemetry] [--on-signal] [--grandchild] [--marker PATH]
                         [--environ PATH]

--on-signal waits for SIGTERM/SIGINT/SIGHUP, exports, and exits 128+signal (as Claude does).
--grandchild leaves a child process holding an open connection to the receiver.
--environ writes the names of the variables in its environment to PATH, as a JSON list.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import beacon
import beacon_otlp


def export() -> None:
    endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    name, _, token = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    assert name == beacon_otlp.TOKEN_HEADER, name
    json_protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "http/json"
    for signal_name, request in beacon.synthetic_claude_session("fake-agent", 1_764_000_000_000_000_000):
        if json_protocol:
            body, content_type = beacon_otlp.encode_json(signal_name, request), beacon_otlp.JSON
        else:
            body, content_type = beacon_otlp.encode_protobuf(signal_name, request), beacon_otlp.PROTOBUF
        status = beacon.post_otlp(endpoint, token, signal_name, body, content_type)
        assert status == 200, status


def hold_connection(endpoint: str) -> None:
    """A grandchild that keeps a connection to the receiver open until it is killed."""
    host, port = endpoint.rsplit("/", 1)[-1].rsplit(":", 1)
    code = (
        f"import socket,time; s=socket.create_connection(({host!r},{int(port)})); "
        "s.sendall(b'POST /v1/logs HTTP/1.1\\r\\nContent-Length: 100\\r\\n\\r\\n'); time.sleep(3600)"
    )
    subprocess.Popen([sys.executable, "-c", code])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--no-telemetry", action="store_true")
    parser.add_argument("--on-signal", action="store_true")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--marker")
    parser.add_argument("--environ")
    args = parser.parse_args()
    if args.marker:
        Path(args.marker).write_text("ran")
    if args.environ:
        Path(args.environ).write_text(json.dumps(sorted(os.environ)))
    if args.grandchild:
        hold_connection(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    if args.on_signal:
        got = threading.Event()
        received = []

        def handler(signum: int, _frame: object) -> None:
            received.append(signum)
            got.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, handler)
        print("ready", flush=True)
        got.wait(60)
        export()
        return 128 + received[0] if received else 99
    if not args.no_telemetry:
        export()
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
