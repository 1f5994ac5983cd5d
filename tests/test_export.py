"""The export stage (beacon_ci/export): upload to S3 and GCS against real servers on loopback
(moto in server mode, a GCS emulator), through the libraries and through the aws CLI; forward
to a strict HEC endpoint (plain and HTTPS) and to a second beacon receiver over OTLP/HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest
from conftest import TOKEN, Collector
from export_servers import HEC_TOKEN, StrictHec, free_port, gcs_blob
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon_ci.export.bodies import chunk, event_time, event_time_ns
from beacon_ci.export.common import MESSAGE_LIMIT, ExportError, is_export_credential
from beacon_ci.export.endpoint import ForwardPlan, parse_endpoint, parse_otlp_headers, plan_forward
from beacon_ci.export.forward import MAX_QUEUED_EVENTS, Forwarder, ForwardResult, RetryPolicy, make_forwarder
from beacon_ci.export.upload import UPLOAD_GRACE, UploadPlan, parse_uploads, plan_upload, upload
from beacon_otlp import Receiver

ROOT = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, retry_after_cap=5.0, request_timeout=5.0)
GITHUB_RUN = {"provider": "github_actions", "repository": "acme/app", "run_id": "123", "run_attempt": "2"}
STARTED_AT = 1795601045.5  # 2026-11-25T10:04:05.5Z


def make_event(n: int, padding: int = 0) -> Dict[str, Any]:
    """A beacon event as runtime.jsonl holds it, numbered by event.sequence."""
    return {
        "timestamp": f"2026-11-25T10:04:{n % 60:02d}.{n % 1000:03d}Z",
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": "1.0",
        "event": {
            "kind": "agent_runtime",
            "action": "command.executed",
            "category": "command",
            "id": f"{n:032x}",
            "sequence": n,
            "outcome": "success",
        },
        "severity": "medium",
        "endpoint": {"hostname": "runner-7", "os": "linux"},
        "user": {"name": "runner"},
        "harness": {"name": "claude_code", "version": "2.1.197"},
        "origin": "ci",
        "capture": {"id": "5eb864fec66b4377", "mode": "exec", "beacon_version": "0.1.0"},
        "session": {"id": "166bad26"},
        "command": {"command": "ls /nonexistent", "exit_code": 2},
        "message": "x" * padding,
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def dead_port() -> int:
    """A loopback port nothing listens on (bound, never listening, so no one else takes it)."""
    return free_port()


# --- configuration: parsing, keys, credentials, endpoints --------------------------------


def test_parse_uploads_splits_trims_lowercases_and_dedupes() -> None:
    assert parse_uploads(["S3, gcs", " s3", "", "gcs,,"]) == ["s3", "gcs"]
    assert parse_uploads(None) == []


def test_parse_uploads_names_the_unsupported_value() -> None:
    with pytest.raises(ExportError, match=r"unsupported --upload 'azure'"):
        parse_uploads(["s3,azure"])


def test_github_key_layout_follows_upstream() -> None:
    plan = plan_upload(
        "s3",
        {"BEACON_CI_S3_BUCKET": " logs ", "BEACON_CI_S3_PREFIX": "/audit/agents/"},
        "/tmp/beacon/runtime.jsonl",
        GITHUB_RUN,
        "cap1",
        STARTED_AT,
    )
    assert plan == UploadPlan(
        "s3", "logs", "audit/agents/acme/app/123/2/runtime.jsonl", "/tmp/beacon/runtime.jsonl"
    )
    assert plan.uri == "s3://logs/audit/agents/acme/app/123/2/runtime.jsonl"
    assert plan.to_json() == {"provider": "s3", "bucket": "logs", "key": plan.key, "uri": plan.uri}


def test_other_ci_key_has_utc_time_and_capture_id() -> None:
    plan = plan_upload(
        "gcs",
        {"BEACON_CI_GCS_BUCKET": "gs://logs/"},
        "/tmp/runtime.jsonl",
        {"provider": "ci"},
        "5eb864fec66b4377",
        STARTED_AT,
    )
    assert plan.uri == "gs://logs/ci/20261125T100405Z-5eb864fec66b4377/runtime.jsonl"


def test_key_parts_are_cleaned() -> None:
    run = {"repository": " o\\x/ ../r ", "run_id": "..", "run_attempt": ""}
    plan = plan_upload(
        "s3",
        {"BEACON_CI_S3_BUCKET": "bkt", "BEACON_CI_S3_PREFIX": "a/./../ b /"},
        "/l/..",
        {**run, "run_id": "7"},
        "c",
        STARTED_AT,
    )
    assert plan.key == "a/b/o-x/r/7/runtime.jsonl"


@pytest.mark.parametrize("target, variable", [("s3", "BEACON_CI_S3_BUCKET"), ("gcs", "BEACON_CI_GCS_BUCKET")])
def test_missing_bucket_names_the_variable(target: str, variable: str) -> None:
    with pytest.raises(ExportError, match=variable):
        plan_upload(target, {variable: "  "}, "/tmp/runtime.jsonl", None, "c", STARTED_AT)


def test_a_bucket_with_a_path_is_refused_with_a_hint() -> None:
    with pytest.raises(ExportError, match="BEACON_CI_S3_PREFIX"):
        plan_upload(
            "s3", {"BEACON_CI_S3_BUCKET": "s3://logs/agents"}, "/tmp/runtime.jsonl", None, "c", STARTED_AT
        )


def test_export_credentials() -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
        "CLOUDSDK_CONFIG",
        "BEACON_CI_SPLUNK_HEC_TOKEN",
        "BEACON_CI_FALCON_HEC_TOKEN",
        "BEACON_CI_OTLP_HEADERS",
    ):
        assert is_export_credential(name), name
    for name in ("PATH", "HOME", "ANTHROPIC_API_KEY", "BEACON_CI_S3_BUCKET", "BEACON_CI_SPLUNK_HEC_ENDPOINT"):
        assert not is_export_credential(name), name
    # Narrowed to the targets configured: an S3 upload leaves the agent its Google credentials.
    assert is_export_credential("AWS_PROFILE", ["s3"])
    assert not is_export_credential("GOOGLE_APPLICATION_CREDENTIALS", ["s3", "splunk"])


def test_endpoints() -> None:
    assert (
        parse_endpoint("https://hec.example:8088", "/services/collector/event", "x").path
        == "/services/collector/event"
    )
    assert (
        parse_endpoint("https://hec.example/custom/path/", "/services/collector/event", "x").path
        == "/custom/path"
    )
    assert parse_endpoint("http://127.0.0.1:4318", "/v1/logs", "x").path == "/v1/logs"
    assert parse_endpoint("http://[::1]:4318/otel/", "/v1/logs", "x").path == "/otel/v1/logs"
    assert parse_endpoint("http://localhost:4318/v1/logs", "/v1/logs", "x").path == "/v1/logs"
    shown = parse_endpoint("https://hec.example/services/collector?channel=abc", "/", "x")
    assert (
        shown.path.endswith("?channel=abc") and shown.display == "https://hec.example:443/services/collector"
    )


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://hec.example.com:8088", "plain http://"),
        ("http://10.0.0.5:8088", "plain http://"),
        ("ftp://hec.example.com", "http(s)://"),
        ("hec.example.com", "http(s)://"),
        ("https://user:pw@hec.example.com", "must not carry credentials"),
    ],
)
def test_bad_endpoints_are_refused_before_anything_is_sent(url: str, words: str) -> None:
    with pytest.raises(ExportError, match=words.replace("(", r"\(").replace(")", r"\)")) as caught:
        make_forwarder("splunk", url, {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN})
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    "target, variable", [("splunk", "BEACON_CI_SPLUNK_HEC_TOKEN"), ("falcon", "BEACON_CI_FALCON_HEC_TOKEN")]
)
def test_missing_token_names_the_variable(target: str, variable: str) -> None:
    with pytest.raises(ExportError, match=f"{variable}.*not accepted as flags"):
        make_forwarder(target, "https://hec.example.com", {})


def test_missing_endpoint_and_unsupported_target() -> None:
    with pytest.raises(ExportError, match="BEACON_CI_FALCON_HEC_ENDPOINT"):
        make_forwarder("falcon", None, {"BEACON_CI_FALCON_HEC_TOKEN": HEC_TOKEN})
    with pytest.raises(ExportError, match="unsupported --forward 'datadog'"):
        make_forwarder("datadog", "https://x.example", {})


def test_a_forward_plan_is_checked_without_a_thread_and_hides_the_token() -> None:
    before = threading.active_count()
    plan = plan_forward("splunk", "https://hec.example.com", {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN})
    assert threading.active_count() == before
    assert plan.to_json() == {
        "target": "splunk",
        "endpoint": "https://hec.example.com:443/services/collector/event",
    }
    assert HEC_TOKEN not in repr(plan)


def test_otlp_headers_are_url_decoded_and_errors_hide_values() -> None:
    assert parse_otlp_headers("api-key=a%20b%3Dc, x-tenant = t1 ,") == {"api-key": "a b=c", "x-tenant": "t1"}
    with pytest.raises(ExportError, match="entry 2") as caught:
        parse_otlp_headers("api-key=ok,sup3rs3cret")
    assert "sup3rs3cret" not in str(caught.value)


def test_event_time_reads_beacon_timestamps() -> None:
    assert event_time({"timestamp": "2026-11-25T10:04:05.123Z"}) == 1795601045.123
    assert event_time({"timestamp": "garbage"}, now_ns=lambda: 42_000_000_000) == 42.0
    assert event_time_ns({"timestamp": "2026-11-25T10:04:05.123Z"}) == 1795601045_123_000_000


@given(
    st.lists(st.integers(min_value=0, max_value=5000), max_size=200),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=1, max_value=20000),
)
def test_chunking_never_loses_duplicates_or_overfills(
    sizes: List[int], max_items: int, max_bytes: int
) -> None:
    runs = chunk(sizes, max_items, max_bytes)
    assert [i for start, end in runs for i in range(start, end)] == list(range(len(sizes)))
    for start, end in runs:
        assert 0 < end - start <= max_items
        assert sum(sizes[start:end]) <= max_bytes or end - start == 1  # only a lone oversized item exceeds


class Relay:
    """A TCP relay on loopback in front of a server: it keeps what the client sent, and can flip
    bytes of it on the way (same length, so the HTTP framing holds)."""

    def __init__(self, upstream_port: int, find: bytes = b"", replace: bytes = b"") -> None:
        assert len(find) == len(replace)
        self.find, self.replace, self.upstream_port = find, replace, upstream_port
        self.sent = bytearray()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if from_client:
                    self.sent += data
                    if self.find:
                        data = data.replace(self.find, self.replace)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone leaves blocked
        except OSError:
            pass
        self.listener.close()


# --- upload: S3 through moto in server mode --------------------------------------------------


@pytest.fixture
def s3_relay(s3: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    """Uploads go through a relay in front of moto, which shows what they sent."""
    relay = Relay(int(moto_url.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
    yield relay
    relay.close()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "runtime.jsonl"
    path.write_bytes(b"".join(json.dumps(make_event(n, 300)).encode() + b"\n" for n in range(200)))
    return path


def s3_plan(env: Mapping[str, str], log: Path, run: Optional[Mapping[str, str]] = GITHUB_RUN) -> UploadPlan:
    return plan_upload(
        "s3",
        {**env, "BEACON_CI_S3_BUCKET": "audit-logs", "BEACON_CI_S3_PREFIX": "beacon"},
        str(log),
        run,
        "5eb864fec66b4377",
        STARTED_AT,
    )


def check_s3_object(client: Any, key: str, log: Path, relay: Relay) -> None:
    head = client.head_object(Bucket="audit-logs", Key=key, ChecksumMode="ENABLED")
    body = client.get_object(Bucket="audit-logs", Key=key)["Body"].read()
    assert body == log.read_bytes()
    assert head["ContentType"] == "application/x-ndjson"
    # The SHA-256 of the log travelled with it (S3 checks it on arrival and keeps it; moto keeps
    # it too, but older moto does not return it, so the request itself is checked).
    checksum = base64.b64encode(hashlib.sha256(log.read_bytes()).digest())
    assert re.search(rb"(?i)x-amz-checksum-sha256:\s*" + re.escape(checksum), bytes(relay.sent))
    assert head.get("ChecksumSHA256", checksum.decode()) == checksum.decode()


@pytest.mark.parametrize(
    "run, key",
    [
        (GITHUB_RUN, "beacon/acme/app/123/2/runtime.jsonl"),
        (None, "beacon/ci/20261125T100405Z-5eb864fec66b4377/runtime.jsonl"),
    ],
)
def test_s3_upload_with_boto3(s3: Any, s3_relay: Relay, log: Path, run: Any, key: str) -> None:
    env = dict(os.environ)
    plan = s3_plan(env, log, run)
    result = upload(plan, env, timeout=30)
    assert result.to_json()["status"] == "ok", result
    assert (result.via, result.target, plan.key) == ("boto3", f"s3://audit-logs/{key}", key)
    check_s3_object(s3, key, log, s3_relay)


def upload_in_subprocess(
    plan: UploadPlan, env: Mapping[str, str], blocked: Tuple[str, ...]
) -> Dict[str, Any]:
    """Run upload() in a fresh interpreter where `blocked` modules cannot be imported, so the
    code really takes its CLI path (or finds nothing)."""
    script = (
        "import json, sys\n"
        "for name in sys.argv[1].split(','):\n"
        "    sys.modules[name] = None  # import raises ImportError\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "import os\n"
        "from beacon_ci.export.upload import UploadPlan, upload\n"
        "plan = UploadPlan(*json.loads(sys.argv[3]))\n"
        "print(json.dumps(upload(plan, dict(os.environ), 60).to_json()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, ",".join(blocked), str(ROOT), json.dumps(list(plan))],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_s3_upload_falls_back_to_the_aws_cli(s3: Any, s3_relay: Relay, log: Path) -> None:
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("the aws CLI (awscli, from the test extra) is not installed beside this Python")
    env = {**os.environ, "PATH": str(aws.parent)}
    plan = s3_plan(env, log)
    result = upload_in_subprocess(plan, env, blocked=("boto3", "botocore"))
    assert (result["status"], result["via"]) == ("ok", "aws"), result
    check_s3_object(s3, plan.key, log, s3_relay)


@pytest.mark.parametrize("provider, extra", [("s3", "s3"), ("gcs", "gcs")])
def test_neither_library_nor_cli_says_what_to_install(
    tmp_path: Path, log: Path, provider: str, extra: str
) -> None:
    plan = UploadPlan(provider, "audit-logs", "k/runtime.jsonl", str(log))
    result = upload_in_subprocess(plan, {"PATH": str(tmp_path)}, blocked=("boto3", "google.cloud.storage"))
    assert result["status"] == "fail"
    assert f"pip install 'beacon-ci[{extra}]'" in result["message"] and "\n" not in result["message"]


def test_s3_missing_bucket_fails_cleanly(s3: Any, aws_env: Dict[str, str], log: Path) -> None:
    plan = s3_plan(aws_env, log)._replace(bucket="no-such-bucket")
    result = upload(plan, aws_env, timeout=30)
    assert result.status == "fail" and "NoSuchBucket" in result.message
    assert_no_secret(result.to_json(), aws_env["AWS_SECRET_ACCESS_KEY"])


def test_s3_server_down_fails_in_bounded_time(
    aws_env: Dict[str, str], log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("boto3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{dead_port()}")
    env = dict(os.environ)
    started = time.monotonic()
    result = upload(s3_plan(env, log), env, timeout=20)
    assert time.monotonic() - started < 20
    assert result.status == "fail" and "Could not connect" in result.message, result
    assert_no_secret(result.to_json(), env["AWS_SECRET_ACCESS_KEY"])


def test_an_upload_that_hangs_is_cut_at_its_timeout(
    aws_env: Dict[str, str], log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts and never answers: the result comes at the timeout, not later."""
    pytest.importorskip("boto3")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        result = upload(s3_plan(dict(os.environ), log), dict(os.environ), timeout=3)
        elapsed = time.monotonic() - started
    assert result.status == "fail" and elapsed < 3 + UPLOAD_GRACE + 1, (result, elapsed)
    # boto3 goes on retrying in its thread after the cut; let it end here, not during later tests.
    for thread in threading.enumerate():
        if thread.name.startswith("beacon-upload-"):
            thread.join(60)
            assert not thread.is_alive()


def assert_no_secret(value: Any, *secrets: str) -> None:
    text = json.dumps(value) if not isinstance(value, str) else value
    for secret in secrets:
        assert secret not in text


# --- upload: GCS through an emulator ----------------------------------------------------------


def gcs_plan(
    emulator: str, log: Path, run: Optional[Mapping[str, str]] = GITHUB_RUN
) -> Tuple[UploadPlan, Dict[str, str]]:
    env = {
        "STORAGE_EMULATOR_HOST": emulator,
        "BEACON_CI_GCS_BUCKET": "audit-logs",
        "PATH": os.environ["PATH"],
    }
    return plan_upload("gcs", env, str(log), run, "5eb864fec66b4377", STARTED_AT), env


@pytest.mark.parametrize(
    "run, key",
    [
        (GITHUB_RUN, "acme/app/123/2/runtime.jsonl"),
        (None, "ci/20261125T100405Z-5eb864fec66b4377/runtime.jsonl"),
    ],
)
def test_gcs_upload_with_the_library(gcs_emulator: str, log: Path, run: Any, key: str) -> None:
    pytest.importorskip("google.cloud.storage")
    plan, env = gcs_plan(gcs_emulator, log, run)
    result = upload(plan, env, timeout=30)
    assert (result.status, result.via, result.target) == (
        "ok",
        "google-cloud-storage",
        f"gs://audit-logs/{key}",
    )
    blob = gcs_blob(gcs_emulator, key)
    assert blob.download_as_bytes() == log.read_bytes()
    assert blob.content_type == "application/x-ndjson"
    assert blob.md5_hash == base64.b64encode(hashlib.md5(log.read_bytes()).digest()).decode()


def test_gcs_checksum_is_sent_and_checked(gcs_emulator: str, tmp_path: Path) -> None:
    """Bytes corrupted on the way: the MD5 beacon sends no longer matches, so the server refuses."""
    pytest.importorskip("google.cloud.storage")
    log = tmp_path / "runtime.jsonl"
    log.write_bytes(b'{"message":"CORRUPT-ME"}\n')
    relay = Relay(int(gcs_emulator.rsplit(":", 1)[1]), b"CORRUPT-ME", b"CORRUPTED!")
    try:
        plan, env = gcs_plan(relay.url, log)
        plan = plan._replace(key="corrupted/runtime.jsonl")
        result = upload(plan, env, timeout=30)
    finally:
        relay.close()
    assert result.status == "fail" and "match calculated MD5" in result.message, result
    assert gcs_blob(gcs_emulator, "corrupted/runtime.jsonl") is None


def test_gcs_missing_bucket_and_server_down(gcs_emulator: str, log: Path) -> None:
    pytest.importorskip("google.cloud.storage")
    plan, env = gcs_plan(gcs_emulator, log)
    missing = upload(plan._replace(bucket="no-such-bucket"), env, timeout=30)
    assert missing.status == "fail" and "404" in missing.message, missing
    down_env = {**env, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{dead_port()}"}
    started = time.monotonic()
    down = upload(plan, down_env, timeout=5)
    assert down.status == "fail" and time.monotonic() - started < 7, down
    assert "\n" not in down.message and len(down.message) <= MESSAGE_LIMIT


# --- forward: a strict HEC endpoint -------------------------------------------------------------


def splunk(server: StrictHec, retry: RetryPolicy = FAST, **environ: str) -> Forwarder:
    return make_forwarder("splunk", server.url, {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN, **environ}, retry)


def splunk_plan(server: StrictHec) -> ForwardPlan:
    return plan_forward("splunk", server.url, {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN})


def sequences(server: StrictHec) -> List[int]:
    return [item["event"]["event"]["sequence"] for item in server.events]


def test_splunk_gets_every_event_once_in_order_with_its_time(hec: StrictHec) -> None:
    forwarder = splunk(hec)
    events = [make_event(n, 50) for n in range(1200)]  # more than one batch
    for start in range(0, len(events), 100):
        forwarder.submit(events[start : start + 100])
    result = forwarder.close(timeout=30)
    assert result == ForwardResult("splunk", hec.url + "/services/collector/event", 1200, 0)
    assert sequences(hec) == list(range(1200)) and not hec.violations
    first = hec.events[0]
    assert first["event"] == events[0] and first["host"] == "runner-7"
    assert first["time"] == event_time(events[0]) == 1795601040.0
    assert hec.requests >= 3  # 500 events per request at most


def test_falcon_uses_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    server = StrictHec(scheme="Bearer", path="/api/v1/ingest/hec")
    try:
        forwarder = make_forwarder(
            "falcon",
            None,
            {
                "BEACON_CI_FALCON_HEC_TOKEN": HEC_TOKEN,
                "BEACON_CI_FALCON_HEC_ENDPOINT": server.url + "/api/v1/ingest/hec",
            },
        )
        forwarder.submit([make_event(n) for n in range(10)])
        assert forwarder.close(10).to_json() == {
            "target": "falcon",
            "endpoint": server.url + "/api/v1/ingest/hec",
            "sent": 10,
            "failed": 0,
        }
        assert sequences(server) == list(range(10))
    finally:
        server.close()


def test_events_arrive_while_the_forwarder_runs(hec: StrictHec) -> None:
    forwarder = splunk(hec)
    forwarder.submit([make_event(1)])
    assert hec.wait_for_events(1, timeout=10) == 1  # before close() is called
    forwarder.submit([make_event(2), make_event(3)])
    assert hec.wait_for_events(3, timeout=10) == 3
    assert forwarder.close(10).sent == 3


def test_429_and_503_are_retried_and_every_event_arrives_once(hec: StrictHec) -> None:
    hec.answer_next(429, headers={"Retry-After": "1"})
    hec.answer_next(503, times=2)
    forwarder = splunk(hec)
    started = time.monotonic()
    forwarder.submit([make_event(n) for n in range(50)])
    assert hec.wait_for_events(50, timeout=20) == 50
    assert time.monotonic() - started >= 0.9  # the Retry-After was honoured
    result = forwarder.close(10)
    assert (result.sent, result.failed, result.message) == (50, 0, "")
    assert sequences(hec) == list(range(50)) and hec.requests == 4


def test_a_400_is_not_retried_and_later_batches_still_go(hec: StrictHec) -> None:
    hec.answer_next(400, body=b'{"text":"Invalid data format","code":6}')
    forwarder = splunk(hec)
    forwarder.submit([make_event(n) for n in range(10)])
    assert wait_until(lambda: hec.requests == 1)
    forwarder.submit([make_event(n) for n in range(10, 15)])
    assert hec.wait_for_events(5) == 5
    result = forwarder.close(10)
    assert (result.sent, result.failed, hec.requests) == (5, 10, 2)
    assert "answered 400" in result.message and "Invalid data format" in result.message


def test_a_failing_endpoint_costs_bounded_time_and_counts_exactly(hec: StrictHec) -> None:
    hec.answer_next(503, times=1000)
    patient = RetryPolicy(attempts=100, initial=0.5, maximum=5.0, request_timeout=5.0)  # would take minutes
    forwarder = splunk(hec, patient)
    for start in range(0, 1500, 100):
        forwarder.submit([make_event(n) for n in range(start, start + 100)])
    started = time.monotonic()
    result = forwarder.close(timeout=2)
    assert time.monotonic() - started < 4
    assert (result.sent, result.failed) == (0, 1500)
    assert "answered 503" in result.message and not hec.events


def test_an_endpoint_that_is_down(tmp_path: Path) -> None:
    forwarder = make_forwarder(
        "splunk", f"http://127.0.0.1:{dead_port()}", {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN}, FAST
    )
    forwarder.submit([make_event(n) for n in range(20)])
    started = time.monotonic()
    result = forwarder.close(timeout=5)
    assert time.monotonic() - started < 6
    assert (result.sent, result.failed) == (0, 20) and "cannot send to" in result.message


def test_the_token_never_shows(hec: StrictHec) -> None:
    """Not in the result, its JSON, the forwarder's repr, nor a message quoting a server that
    echoes it back; a wrong token is refused (403) and not retried."""
    hec.answer_next(403, body=f'{{"text":"Invalid token: {HEC_TOKEN}"}}'.encode())
    forwarder = splunk(hec)
    forwarder.submit([make_event(1)])
    assert wait_until(lambda: hec.requests == 1)
    result = forwarder.close(10)
    assert result.failed == 1 and "answered 403" in result.message and "[REDACTED]" in result.message
    for shown in (repr(forwarder), str(vars(forwarder)), repr(result), json.dumps(result.to_json())):
        assert HEC_TOKEN not in shown
    wrong = make_forwarder("splunk", hec.url, {"BEACON_CI_SPLUNK_HEC_TOKEN": "not-" + HEC_TOKEN}, FAST)
    wrong.submit([make_event(2)])
    assert wrong.close(10).failed == 1 and hec.requests == 2


def test_a_full_queue_counts_what_it_drops(hec: StrictHec) -> None:
    hec.hold = threading.Event()  # the endpoint stalls: the sender is stuck in its first request
    forwarder = Forwarder(splunk_plan(hec), FAST, max_queued=10)
    forwarder.submit([make_event(0)])
    assert wait_until(lambda: hec.requests == 0 and not forwarder._queue)  # taken by the sender
    started = time.monotonic()
    forwarder.submit([make_event(n) for n in range(1, 101)])
    assert time.monotonic() - started < 0.5  # submit never waits for the network
    hec.hold.set()
    result = forwarder.close(10)
    assert (result.sent, result.failed) == (11, 90) and "queue was full" in result.message


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(st.integers(min_value=0, max_value=3000), max_size=40), max_size=8),
    max_events=st.integers(min_value=1, max_value=30),
    max_bytes=st.integers(min_value=500, max_value=20000),
)
def test_forwarding_never_loses_or_duplicates(
    hec: StrictHec, batches: List[List[int]], max_events: int, max_bytes: int
) -> None:
    hec.events.clear()
    forwarder = Forwarder(splunk_plan(hec), FAST, max_batch_events=max_events, max_batch_bytes=max_bytes)
    number = 0
    for paddings in batches:
        forwarder.submit([make_event(number + i, padding) for i, padding in enumerate(paddings)])
        number += len(paddings)
    result = forwarder.close(30)
    assert (result.sent, result.failed) == (number, 0)
    assert sequences(hec) == list(range(number)) and not hec.violations


def test_a_full_queue_submitted_at_once_is_delivered(hec: StrictHec) -> None:
    forwarder = splunk(hec)
    events = [make_event(n, 200) for n in range(MAX_QUEUED_EVENTS)]  # all at once: they fit
    for start in range(0, len(events), 500):
        forwarder.submit(events[start : start + 500])
    result = forwarder.close(60)
    assert (result.sent, result.failed) == (len(events), 0)
    assert sequences(hec) == list(range(len(events)))


# --- forward: HTTPS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Any, Path]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def tls_hec(ca: Any) -> StrictHec:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return StrictHec(tls=context)


def test_https_is_verified_against_ssl_cert_file(test_ca: Tuple[Any, Path]) -> None:
    server = tls_hec(test_ca[0])
    try:
        forwarder = splunk(server, SSL_CERT_FILE=str(test_ca[1]))
        forwarder.submit([make_event(n) for n in range(5)])
        assert forwarder.close(10).sent == 5 and sequences(server) == list(range(5))
    finally:
        server.close()


def test_https_with_an_untrusted_certificate_is_refused(test_ca: Tuple[Any, Path], tmp_path: Path) -> None:
    server = tls_hec(test_ca[0])
    other_ca = tmp_path / "other.pem"
    pytest.importorskip("trustme").CA().cert_pem.write_to_path(str(other_ca))
    try:
        forwarder = splunk(server, SSL_CERT_FILE=str(other_ca))
        forwarder.submit([make_event(n) for n in range(5)])
        result = forwarder.close(5)
        assert (result.sent, result.failed) == (0, 5) and "CERTIFICATE_VERIFY_FAILED" in result.message, (
            result
        )
        assert not server.events
    finally:
        server.close()


def test_an_unreadable_ssl_cert_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="SSL_CERT_FILE"):
        make_forwarder(
            "splunk",
            "https://hec.example.com",
            {"BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN, "SSL_CERT_FILE": str(tmp_path / "missing.pem")},
        )


# --- forward: OTLP/HTTP logs to a second beacon receiver ------------------------------------


def test_otlp_forward_to_a_beacon_receiver(
    make_receiver: Callable[..., Receiver], collector: Collector
) -> None:
    receiver = make_receiver()
    # The receiver refuses a request without its token header: every record arriving proves
    # the headers from BEACON_CI_OTLP_HEADERS were sent (URL-decoded: %5F is "_").
    headers = f"x-beacon-token={TOKEN.replace('_', '%5F')},x-extra=a%20b"
    forwarder = make_forwarder("otlp", receiver.url, {"BEACON_CI_OTLP_HEADERS": headers}, FAST)
    events = [make_event(n) for n in range(30)]
    forwarder.submit(events[:10])
    assert collector.wait_for_records(10) == 10  # before close
    forwarder.submit(events[10:])
    result = forwarder.close(10)
    assert result.to_json() == {
        "target": "otlp",
        "endpoint": receiver.url + "/v1/logs",
        "sent": 30,
        "failed": 0,
    }
    assert collector.wait_for_records(30) == 30  # answered 200 first, then handed to the consumer
    records, resources = [], []
    for batch in collector.batches:
        assert batch.signal == "logs"
        for resource_logs in batch.request["resource_logs"]:
            resources.append(resource_logs["resource"]["attributes"])
            for scope_logs in resource_logs["scope_logs"]:
                records.extend(scope_logs["log_records"])
    assert all(attrs == {"service.name": "beacon"} for attrs in resources)
    assert [json.loads(r["body"]) for r in records] == events
    first = records[0]
    assert first["time_unix_nano"] == 1795601040_000_000_000
    assert first["severity_text"] == "medium" and first["severity_number"] == 13
    assert first["event_name"] == "command.executed"
    assert first["attributes"] == {
        "event.name": "command.executed",
        "event.category": "command",
        "event.outcome": "success",
        "event.id": events[0]["event"]["id"],
        "beacon.harness": "claude_code",
        "beacon.capture.id": "5eb864fec66b4377",
        "session.id": "166bad26",
    }


def test_otlp_without_the_receivers_token_is_refused_and_counted(
    make_receiver: Callable[..., Receiver],
) -> None:
    receiver = make_receiver()
    forwarder = make_forwarder("otlp", receiver.url + "/v1/logs", {}, FAST)
    forwarder.submit([make_event(1), make_event(2)])
    result = forwarder.close(10)
    assert (result.sent, result.failed) == (0, 2) and "answered 401" in result.message
    assert receiver.stats.snapshot()["rejected"]  # one request, not retried
    assert sum(r["count"] for r in receiver.stats.snapshot()["requests"]) == 1
