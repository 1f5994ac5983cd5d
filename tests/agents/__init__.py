"""Real agent CLIs (from the npm registry) driven offline against scripted fake model servers.

Shared plumbing for tests/agents/<agent>.py and the tests that run them: a cached npm install
per agent, a strict fake model server base on loopback, the minimal environment agents run
with, running a CLI in its own process group, and recording the raw OTLP export bodies (the
golden fixtures under tests/fixtures/<agent>/).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import quote

import pytest

import beacon_otlp.receiver as receiver_module
from beacon_otlp import Receiver

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "agents"
FIXTURES = ROOT / "tests" / "fixtures"  # golden fixtures, one directory per agent
# Set in the environment of a test run to rewrite the golden fixtures from that run.
RECORD_FIXTURES = os.environ.get("BEACON_RECORD_FIXTURES") == "1"


@contextlib.contextmanager
def install_lock(name: str) -> Iterator[Path]:
    """Hold the lock of .cache/agents/<name> (parallel test workers install once); yields that prefix."""
    prefix = CACHE / name
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield prefix


def npm_install(name: str, package: str, version: str, timeout: float = 600) -> Path:
    """Install package@version once into .cache/agents/<name> and return its node_modules/.bin."""
    with install_lock(name) as prefix:
        marker = prefix / f".installed-{version}"
        if not marker.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is required to install the agent CLIs")
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    f"{package}@{version}",
                ],
                check=True,
                timeout=timeout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            marker.touch()
    return prefix / "node_modules" / ".bin"


def only_loopback_network() -> bool:
    """True inside a network namespace whose only interface is lo (tools/test.sh runs the suite so).

    Asks the kernel for this process's interfaces: /sys/class/net would show the host's,
    since sysfs keeps the network namespace it was mounted in.
    """
    try:
        return [name for _, name in socket.if_nameindex()] == ["lo"]
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def can_isolate_network() -> bool:
    """Whether this system lets tools/test.sh run the suite in a loopback-only namespace.

    The same test as tools/test.sh's: an unprivileged `unshare -rn` works and `ip` is there
    to bring lo up in it.
    """
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    try:
        return (
            subprocess.run(["unshare", "-rn", "true"], stderr=subprocess.DEVNULL, timeout=30).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_isolated_network() -> None:
    """Skip a real-agent test that could reach off the machine.

    Outside a loopback-only namespace, where the system could make one, the test skips and
    says how to run it. Where the system cannot make one it runs with the host network; the
    agents' non-essential traffic is off and every model API they are given is on loopback.
    """
    if only_loopback_network() or not can_isolate_network():
        return
    pytest.skip(
        "real agent CLIs run only in a network namespace with only loopback: run tools/test.sh, or "
        "unshare -rn sh -c 'ip link set lo up && exec \"$@\"' sh python -m pytest ..."
    )


def base_env(home: Path, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A clean environment: nothing inherited that could redirect telemetry or reach a network."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost,::1",
    }
    env.update(extra or {})
    return env


def otel_resource_attributes(attributes: Dict[str, str]) -> str:
    """OTEL_RESOURCE_ATTRIBUTES for these pairs, each value percent-encoded as the variable's
    specification asks (the OpenTelemetry SDKs decode it)."""
    return ",".join(f"{key}={quote(value, safe='')}" for key, value in attributes.items())


class RecordedRequest:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


Route = Callable[["FakeModelServer", RecordedRequest, BaseHTTPRequestHandler], None]


class FakeModelServer:
    """A strict model API on 127.0.0.1: routes by (method, path prefix); anything else is an error.

    Every request is recorded; `errors` collects protocol violations so a test can assert none.
    """

    def __init__(self, routes: List[Tuple[str, str, Route]]) -> None:
        self.routes = routes
        self.requests: List[RecordedRequest] = []
        self.errors: List[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                body = read_body(self)
                request = RecordedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    server.requests.append(request)
                for method, prefix, route in server.routes:
                    if self.command == method and self.path.split("?", 1)[0].startswith(prefix):
                        try:
                            route(server, request, self)
                        except Exception as exc:  # reported to the test, never swallowed
                            server.fail(f"{self.command} {self.path}: {exc!r}")
                            raise
                        return
                server.fail(f"unexpected request {self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def __enter__(self) -> FakeModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """A request body, Content-Length or chunked."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""
    body = bytearray()
    while True:
        size = int(handler.rfile.readline().split(b";", 1)[0].strip(), 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += handler.rfile.read(size)
        handler.rfile.readline()


def send_sse(
    handler: BaseHTTPRequestHandler,
    events: List[Tuple[Optional[str], Any]],
    headers: Optional[Dict[str, str]] = None,
) -> None:
    """Answer with a complete text/event-stream: (event name or None, JSON data) pairs."""
    parts = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        parts.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    body = "".join(parts).encode("utf-8")
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_json(
    handler: BaseHTTPRequestHandler, status: int, document: Any, headers: Optional[Dict[str, str]] = None
) -> None:
    body = json.dumps(document).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


# --- running an agent CLI --------------------------------------------------------------


def install_or_skip(agent: ModuleType) -> Path:
    """The agent module's installed executable; skips the test where npm (so the real CLI) is
    missing, or where the agent could reach off the machine (require_isolated_network)."""
    if shutil.which("npm") is None:
        pytest.skip(f"npm is not installed: cannot install {agent.PACKAGE}")
    require_isolated_network()
    executable: Path = agent.install()
    return executable


def session_dirs(tmp_path: Path) -> Tuple[Path, Path]:
    """A fresh $HOME and working directory for one run (tmp_path/home, tmp_path/work)."""
    home, workdir = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    workdir.mkdir()
    return home, workdir


def run_in_group(argv: List[str], cwd: Path, env: Dict[str, str], timeout: float) -> Tuple[int, str, str]:
    """Run argv to completion: (exit code, stdout, stderr), decoded as UTF-8.

    The CLI runs in a process group of its own because agents start children (Gemini
    relaunches itself, every agent runs tool commands). On timeout that group, and only
    it, is killed, so nothing the test started outlives it; the test then fails with the
    tail of stderr.
    """
    process = subprocess.Popen(
        argv,
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        tail = stderr.decode("utf-8", "replace")[-3000:]
        pytest.fail(f"{Path(argv[0]).name} ran longer than {timeout}s; stderr:\n{tail}")
    return process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def drain(receiver: Receiver, quiet: float) -> bool:
    """Wait until the receiver has been quiet for `quiet` seconds (at most 10 s), then stop it.

    Agents flush their last exports as they exit; once stop() returns, every batch answered
    200 has reached the consumer. Returns whether the receiver did fall quiet.
    """
    idle = receiver.wait_idle(quiet=quiet, timeout=10.0)
    receiver.stop()
    return idle


# --- recording the raw OTLP exports ----------------------------------------------------


@dataclass
class RawExport:
    """One OTLP/HTTP export request as the agent sent it, and the status the receiver answered.

    `headers` have lower-case names; `status` stays None when the receiver sent no answer.
    """

    path: str
    headers: Dict[str, str]
    body: bytes = field(repr=False)
    status: Optional[int] = None

    @property
    def signal(self) -> str:
        return receiver_module.PATHS[self.path]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def record_exports(monkeypatch: pytest.MonkeyPatch) -> List[RawExport]:
    """Tap beacon_otlp.receiver for this test: every export body a receiver reads, in arrival order.

    The tap sits on the receiver's own body reader rather than in a proxy in front of it, so
    the headers and body are exactly what the agent put on the wire and the agent talks to
    the receiver directly. The answer is tapped too, to give each export its status. Both
    names are looked up eagerly: a reorganised receiver fails here, loudly.
    """
    exports: List[RawExport] = []
    awaiting_answer: Dict[Any, RawExport] = {}  # one request in flight per connection
    lock = threading.Lock()
    read_body, send = receiver_module.read_body, receiver_module.send

    def recording_read_body(handler: Any, limit: int) -> bytes:
        body = read_body(handler, limit)
        export = RawExport(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with lock:
            exports.append(export)
            awaiting_answer[handler] = export
        return body

    def recording_send(handler: Any, status: int, *rest: Any) -> None:
        with lock:
            export = awaiting_answer.pop(handler, None)
        if export is not None:
            export.status = status
        send(handler, status, *rest)

    monkeypatch.setattr(receiver_module, "read_body", recording_read_body)
    monkeypatch.setattr(receiver_module, "send", recording_send)
    return exports


Entry = Dict[str, Any]  # one export as session.json describes it


def save_bodies(
    directory: Path, exports: List[RawExport], extension: str, limit: Optional[int] = None
) -> Tuple[List[Entry], List[Entry]]:
    """Replace the `<nn>-<signal>.<extension>` fixtures in `directory` by these bodies, byte for byte.

    Numbered in arrival order; bodies over `limit` bytes are not written. Returns the
    (written, skipped) entries for session.json. session.json itself is left alone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"[0-9][0-9]-*.{extension}"):
        old.unlink()
    written: List[Entry] = []
    skipped: List[Entry] = []
    for number, export in enumerate(exports, 1):
        name = f"{number:02d}-{export.signal}.{extension}"
        entry = {
            "file": name,
            "path": export.path,
            "content_type": export.content_type,
            "bytes": len(export.body),
        }
        if limit is not None and len(export.body) > limit:
            skipped.append(entry)
            continue
        (directory / name).write_bytes(export.body)
        written.append(entry)
    return written, skipped


def update_session_index(directory: Path, description: Dict[str, Any], run: Dict[str, Any]) -> None:
    """Merge one run into `directory`/session.json: the description on top, runs keyed by protocol.

    Each protocol is recorded by its own test run, so the runs of the others are kept.
    """
    index_path = directory / "session.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    index.update(description)
    runs = [r for r in index.get("runs", []) if r["protocol"] != run["protocol"]]
    runs.append(run)
    index["runs"] = sorted(runs, key=lambda r: r["protocol"])
    index_path.write_text(json.dumps(index, indent=2) + "\n")
