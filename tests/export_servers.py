"""Real servers on loopback for the export tests: S3 through moto in server mode, GCS through
gcp-storage-emulator, and a strict Splunk/Falcon HEC endpoint. The fixtures are shared with
every test module through conftest.py."""

from __future__ import annotations

import gzip
import json
import os
import socket
import ssl
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

import pytest

HEC_TOKEN = "hec-" + "5ecret" * 6  # what a real HEC token looks like: long, and secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")  # up until the end: libraries keep background threads talking to it
def moto_url() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """The process environment boto3 reads (it has no other), pointed at moto; returned as the
    environ the upload gets. No shared config or credentials file of the user's is read."""
    values = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-creds"),
        "HOME": str(tmp_path),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


@pytest.fixture
def s3(aws_env: Dict[str, str]) -> Any:
    boto3 = pytest.importorskip("boto3")
    client = boto3.client("s3")
    client.create_bucket(Bucket="audit-logs")
    yield client
    for item in client.list_objects_v2(Bucket="audit-logs").get("Contents", []):
        client.delete_object(Bucket="audit-logs", Key=item["Key"])
    client.delete_bucket(Bucket="audit-logs")


@pytest.fixture(scope="session")  # up until the end: libraries keep background threads talking to it
def gcs_emulator() -> Iterator[str]:
    emulator = pytest.importorskip("gcp_storage_emulator.server")
    port = free_port()
    server = emulator.create_server("127.0.0.1", port, in_memory=True, default_bucket="audit-logs")
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def gcs_blob(emulator: str, key: str) -> Any:
    storage = pytest.importorskip("google.cloud.storage")
    from google.auth.credentials import AnonymousCredentials

    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator}
    )
    return client.bucket("audit-logs").get_blob(key)


class StrictHec:
    """An HEC endpoint that accepts only what a real one would: the right path and
    Authorization, gzip, and a body of newline-delimited HEC event objects each with an `event`
    object and a numeric `time`. It can be told to answer with errors first, and it records
    every event it accepted."""

    def __init__(
        self,
        scheme: str = "Splunk",
        token: str = HEC_TOKEN,
        path: str = "/services/collector/event",
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.authorization, self.path = f"{scheme} {token}", path
        self.events: List[Dict[str, Any]] = []
        self.requests = 0
        self.violations: List[str] = []
        self.answers: Deque[Tuple[int, Dict[str, str], bytes]] = deque()  # given before accepting again
        self.hold: Optional[threading.Event] = None  # when set, requests wait for it
        self.changed = threading.Condition()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.httpd.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def answer_next(
        self,
        status: int,
        times: int = 1,
        headers: Optional[Dict[str, str]] = None,
        body: bytes = b'{"text":"Server is busy","code":9}',
    ) -> None:
        for _ in range(times):
            self.answers.append((status, headers or {}, body))

    def wait_for_events(self, count: int, timeout: float = 10.0) -> int:
        with self.changed:
            self.changed.wait_for(lambda: len(self.events) >= count, timeout)
            return len(self.events)

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _check(
        self, handler: BaseHTTPRequestHandler, raw: bytes
    ) -> Tuple[Optional[str], List[Dict[str, Any]]]:
        if handler.path != self.path:
            return f"path {handler.path}", []
        if handler.headers.get("Content-Encoding") != "gzip":
            return "not gzip", []
        try:
            lines = gzip.decompress(raw).split(b"\n")
        except OSError:
            return "bad gzip", []
        if lines[-1] != b"":
            return "body does not end with a newline", []
        events = []
        for line in lines[:-1]:
            try:
                item = json.loads(line)
            except ValueError:
                return "a line is not JSON", []
            if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
                return "no event object", []
            if type(item.get("time")) not in (int, float):
                return "time is not a number", []
            if item.get("source") != "beacon" or item.get("sourcetype") != "beacon:event":
                return "source/sourcetype", []
            events.append(item)
        return (None, events) if events else ("no events", [])

    def _handler(self) -> type:
        hec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if hec.hold is not None:
                    hec.hold.wait(30)
                with hec.changed:
                    hec.requests += 1
                    if self.headers.get("Authorization") != hec.authorization:
                        status, headers, body = 403, {}, b'{"text":"Invalid token","code":4}'
                    else:
                        problem, events = hec._check(self, raw)
                        if problem:
                            hec.violations.append(problem)
                            status, headers, body = 400, {}, b'{"text":"Invalid data format","code":6}'
                        elif hec.answers:
                            status, headers, body = hec.answers.popleft()
                        else:
                            hec.events.extend(events)
                            status, headers, body = 200, {}, b'{"text":"Success","code":0}'
                    hec.changed.notify_all()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def hec() -> Iterator[StrictHec]:
    server = StrictHec()
    yield server
    server.close()
