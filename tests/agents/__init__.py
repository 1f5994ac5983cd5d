"""Real agent CLIs (from the npm registry) driven offline against scripted fake model servers.

Shared plumbing for tests/agents/<agent>.py: a cached npm install per agent, a strict fake
model server base on loopback, and the minimal environment agents run with.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "agents"


def npm_install(name: str, package: str, version: str, timeout: float = 600) -> Path:
    """Install package@version once into .cache/agents/<name> and return its node_modules/.bin."""
    prefix = CACHE / name
    prefix.mkdir(parents=True, exist_ok=True)
    marker = prefix / f".installed-{version}"
    with open(prefix / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once
        if not marker.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is required to install the agent CLIs")
            subprocess.run(
                [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save",
                 f"{package}@{version}"],
                check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            marker.touch()
    return prefix / "node_modules" / ".bin"


def only_loopback_network() -> bool:
    """True inside a network namespace whose only interface is lo (tools/test.sh runs the suite so)."""
    try:
        return sorted(os.listdir("/sys/class/net")) == ["lo"]
    except OSError:
        return False


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
                request = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
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

    def __enter__(self) -> "FakeModelServer":
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


def send_sse(handler: BaseHTTPRequestHandler, events: List[Tuple[Optional[str], Any]],
             headers: Optional[Dict[str, str]] = None) -> None:
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


def send_json(handler: BaseHTTPRequestHandler, status: int, document: Any, headers: Optional[Dict[str, str]] = None) -> None:
    body = json.dumps(document).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)
