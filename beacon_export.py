"""beacon_export: the export stage. Upload the finished log to S3 or GCS; forward events to a
SIEM (Splunk or Falcon LogScale HEC) or an OpenTelemetry Collector (OTLP/HTTP logs) as they
arrive.

Standard library only. boto3 and google-cloud-storage are imported lazily, inside the upload,
and only when that upload runs; without them the runner's `aws` / `gcloud` / `gsutil` CLI does
the upload. Nothing here ever raises for a delivery failure: uploads and forwarders return
results that say what happened, in words that never carry a credential. ExportError is for
configuration problems, found before anything runs.
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import gzip
import http.client
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

UPLOAD_TARGETS = ("s3", "gcs")
FORWARD_TARGETS = ("splunk", "falcon", "otlp")
NDJSON = "application/x-ndjson"
UPLOAD_TIMEOUT = 120.0  # seconds per destination, retries included (upstream had 2 minutes for all)
FORWARD_CLOSE_TIMEOUT = 10.0  # what close() gets by default to flush what is queued


class ExportError(Exception):
    """A configuration problem (missing bucket or token, bad endpoint, unsupported target),
    found before anything runs. The message is one line and names no secret."""


# --- what beacon removes from the agent's environment -----------------------------------

# The cloud and SIEM credentials an export uses, by target. Everything AWS_* and CLOUDSDK_*
# goes: the AWS and gcloud credential chains read many variables (AWS_PROFILE,
# AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_*, CLOUDSDK_CONFIG, ...), and a
# prefix cannot miss one the way a list did upstream.
_CREDENTIALS_BY_TARGET: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {  # (names, prefixes)
    "s3": ((), ("AWS_",)),
    "gcs": (("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GHA_CREDS_PATH"), ("CLOUDSDK_",)),
    "splunk": (("BEACON_CI_SPLUNK_HEC_TOKEN",), ()),
    "falcon": (("BEACON_CI_FALCON_HEC_TOKEN",), ()),
    "otlp": (("BEACON_CI_OTLP_HEADERS",), ()),
}
CREDENTIAL_NAMES = tuple(name for names, _ in _CREDENTIALS_BY_TARGET.values() for name in names)
CREDENTIAL_PREFIXES = tuple(prefix for _, prefixes in _CREDENTIALS_BY_TARGET.values() for prefix in prefixes)


def is_export_credential(name: str, targets: Iterable[str] = UPLOAD_TARGETS + FORWARD_TARGETS) -> bool:
    """Is `name` a credential an export to one of `targets` uses (all targets by default)?
    beacon removes these from the agent's environment when an upload or forward is set up."""
    upper = name.upper()
    for target in targets:
        names, prefixes = _CREDENTIALS_BY_TARGET[target]
        if upper in names or upper.startswith(prefixes):
            return True
    return False


# --- messages: one line, no secret --------------------------------------------------------

MESSAGE_LIMIT = 300


# Which export credentials hold a secret value (AWS_ENDPOINT_URL and AWS_REGION do not, and a
# message that hides the endpoint it could not reach helps no one).
_SECRET_WORDS = ("SECRET", "TOKEN", "KEY", "PASSWORD", "CREDENTIAL", "HEADERS")


def _secret_values(environ: Mapping[str, str]) -> List[str]:
    """Values that must never appear in a message: those of secret-holding export credentials,
    longest first (so that a value containing another is replaced whole)."""
    values = {
        value.strip()
        for name, value in environ.items()
        if is_export_credential(name)
        and any(word in name.upper() for word in _SECRET_WORDS)
        and len(value.strip()) >= 4
    }
    return sorted(values, key=len, reverse=True)


def one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """A message fit for a result: secrets replaced, whitespace folded, at most MESSAGE_LIMIT."""
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


# --- upload: where the log goes -------------------------------------------------------------

_BUCKET_VARIABLES = {
    "s3": ("BEACON_CI_S3_BUCKET", "BEACON_CI_S3_PREFIX"),
    "gcs": ("BEACON_CI_GCS_BUCKET", "BEACON_CI_GCS_PREFIX"),
}
_SCHEMES = {"s3": "s3", "gcs": "gs"}
# S3 and GCS bucket names: letters, digits, '.', '-', '_' (legacy S3 and GCS), 3 to 222 long.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]")


class UploadPlan(NamedTuple):
    """Where one upload goes. Resolved before the capture runs, so a missing bucket fails early."""

    provider: str  # s3 | gcs
    bucket: str
    key: str
    log_path: str

    @property
    def uri(self) -> str:
        return f"{_SCHEMES[self.provider]}://{self.bucket}/{self.key}"

    def to_json(self) -> Dict[str, str]:
        return {"provider": self.provider, "bucket": self.bucket, "key": self.key, "uri": self.uri}


class UploadResult(NamedTuple):
    provider: str
    target: str  # the object's URI
    status: str  # ok | fail
    message: str = ""  # why it failed (or what to install); one line, no secret
    via: str = ""  # boto3, google-cloud-storage, aws, gcloud or gsutil: what did (or tried) the upload
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> Dict[str, Any]:
        result = {
            "provider": self.provider,
            "target": self.target,
            "status": self.status,
            "via": self.via,
            "seconds": round(self.seconds, 3),
        }
        if self.message:
            result["message"] = self.message
        return result


def parse_uploads(values: Optional[Sequence[str]]) -> List[str]:
    """`--upload` values (repeatable, each a comma list) -> targets, trimmed, lower-cased,
    deduplicated in order of first appearance."""
    targets: List[str] = []
    for value in values or ():
        for part in value.split(","):
            target = part.strip().lower()
            if not target:
                continue
            if target not in UPLOAD_TARGETS:
                raise ExportError(f"unsupported --upload {part.strip()!r}; use {' or '.join(UPLOAD_TARGETS)}")
            if target not in targets:
                targets.append(target)
    return targets


def plan_upload(
    target: str,
    environ: Mapping[str, str],
    log_path: str,
    run: Optional[Mapping[str, Any]],
    capture_id: str,
    started_at: float,
) -> UploadPlan:
    """The bucket and object key of one upload (upstream-ci.md section 5.2):
    <prefix>/<owner>/<repo>/<run id>/<run attempt>/<log name> when the run names a repository
    and a run id (GitHub Actions; `run` is beacon's run metadata), else
    <prefix>/ci/<UTC start, 20261125T100405Z>-<capture id>/<log name>."""
    if target not in UPLOAD_TARGETS:
        raise ExportError(f"unsupported --upload {target!r}; use {' or '.join(UPLOAD_TARGETS)}")
    bucket_var, prefix_var = _BUCKET_VARIABLES[target]
    bucket = _bucket_name(target, bucket_var, environ.get(bucket_var, ""))
    parts = _clean_parts(environ.get(prefix_var, "").split("/"))
    run = run or {}
    repository, run_id = str(run.get("repository") or "").strip(), str(run.get("run_id") or "").strip()
    if repository and run_id:
        attempt = str(run.get("run_attempt") or "")
        parts += _clean_parts(repository.split("/")) + _clean_parts([run_id, attempt])
    else:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started_at))
        parts += ["ci", *_clean_parts([f"{stamp}-{capture_id}"])]
    parts += _clean_parts([os.path.basename(log_path)]) or ["runtime.jsonl"]
    return UploadPlan(target, bucket, "/".join(parts), log_path)


def _bucket_name(target: str, variable: str, value: str) -> str:
    """The bucket variable's value as a bare name; `s3://name` and `gs://name/` are accepted
    (a common way to write them), anything with a path is not (upstream made s3://s3://...)."""
    name = value.strip()
    if not name:
        raise ExportError(f"--upload {target} needs the bucket name in {variable}")
    scheme = f"{_SCHEMES[target]}://"
    if name.lower().startswith(scheme):
        name = name[len(scheme) :].rstrip("/")
    if not _BUCKET_NAME.fullmatch(name):
        hint = f"; put the path in {_BUCKET_VARIABLES[target][1]}" if "/" in name else ""
        raise ExportError(f"{variable} is not a bucket name: {name[:80]!r}{hint}")
    return name


def _clean_parts(parts: Iterable[str]) -> List[str]:
    """Key parts as upstream cleans them: trimmed, '\\' -> '-', no '/', no '.', '..' or empty parts."""
    cleaned = []
    for part in parts:
        part = part.strip().replace("\\", "-").strip("/").strip()
        if part and part not in (".", ".."):
            cleaned.append(part)
    return cleaned


# --- upload: doing it -----------------------------------------------------------------------

UPLOAD_ATTEMPTS = 3  # per destination: transient errors (throttling, 5xx, dropped connections)
# The libraries and CLIs are set up to end within the timeout; past it and this grace (which lets
# a CLI's process group be killed first), the result is a failure whatever they are still doing.
UPLOAD_GRACE = 2.0


Outcome = Dict[str, Any]  # what an upload attempt leaves: "via" (done), "trying", or "error"


class _UploadFailed(Exception):
    """A delivery failure with a message fit for the result (already one line, no secret)."""


def upload(plan: UploadPlan, environ: Mapping[str, str], timeout: float = UPLOAD_TIMEOUT) -> UploadResult:
    """Upload the log; never raises for a delivery failure (the result says fail and why).

    boto3 and google-cloud-storage read the process environment through their standard
    credential chains (AWS_*, AWS_ENDPOINT_URL, GOOGLE_APPLICATION_CREDENTIALS, ...); `environ`
    is what the CLI fallback runs with, where STORAGE_EMULATOR_HOST is looked up, and whose
    credential values are kept out of messages. `timeout` bounds the whole upload, retries
    included: shortly past it (UPLOAD_GRACE) the result is a failure whatever the library is
    still doing."""
    started = time.monotonic()
    secrets = _secret_values(environ)
    outcome: Outcome = {}

    def attempt() -> None:
        try:
            outcome["via"] = _UPLOADERS[plan.provider](plan, environ, timeout, outcome)
        except _UploadFailed as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # a library's own error: whatever it is, it is a failed delivery
            outcome["error"] = _describe(exc)

    worker = threading.Thread(target=attempt, name=f"beacon-upload-{plan.provider}", daemon=True)
    worker.start()
    worker.join(timeout + UPLOAD_GRACE)
    seconds = time.monotonic() - started
    via = outcome.get("via") or outcome.get("trying", "")
    if worker.is_alive():
        return UploadResult(plan.provider, plan.uri, "fail", f"timed out after {timeout:g} s", via, seconds)
    if "error" in outcome:
        message = one_line(outcome["error"], secrets)
        return UploadResult(plan.provider, plan.uri, "fail", message, via, seconds)
    return UploadResult(plan.provider, plan.uri, "ok", "", via, seconds)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _upload_s3(plan: UploadPlan, environ: Mapping[str, str], timeout: float, outcome: Outcome) -> str:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        return _upload_with_cli(plan, environ, timeout, outcome)
    outcome["trying"] = "boto3"
    config = Config(
        connect_timeout=min(10.0, timeout / 4),
        read_timeout=min(60.0, timeout / 2),
        retries={"mode": "standard", "total_max_attempts": UPLOAD_ATTEMPTS},
    )
    client = boto3.session.Session().client("s3", config=config)
    # botocore computes a SHA-256 of the bytes it sends; S3 checks it against what it received
    # and keeps it (head_object with ChecksumMode=ENABLED returns it). One PUT: a runtime.jsonl
    # is far below S3's 5 GiB limit for one.
    with open(plan.log_path, "rb") as body:
        client.put_object(
            Bucket=plan.bucket, Key=plan.key, Body=body, ContentType=NDJSON, ChecksumAlgorithm="SHA256"
        )
    return "boto3"


def _upload_gcs(plan: UploadPlan, environ: Mapping[str, str], timeout: float, outcome: Outcome) -> str:
    try:
        from google.cloud import storage
        from google.cloud.storage.retry import DEFAULT_RETRY
    except ImportError:
        return _upload_with_cli(plan, environ, timeout, outcome)
    outcome["trying"] = "google-cloud-storage"
    client = _gcs_client(storage, environ)
    blob = client.bucket(plan.bucket).blob(plan.key)
    # An upload is retried only when told to (it is not idempotent in general); sending the same
    # bytes to the same name again is. checksum="md5": the library sends the MD5 with the object
    # and the server rejects a mismatch (or, for a resumable upload, the library checks it).
    blob.upload_from_filename(
        plan.log_path,
        content_type=NDJSON,
        checksum="md5",
        timeout=(min(10.0, timeout / 4), min(60.0, timeout / 2)),
        retry=DEFAULT_RETRY.with_deadline(timeout * 0.8),
    )
    return "google-cloud-storage"


def _gcs_client(storage: Any, environ: Mapping[str, str]) -> Any:
    """A client from the standard credential chain; against an emulator (STORAGE_EMULATOR_HOST),
    anonymous credentials, as google-auth provides for emulators. No project: an upload to a
    named bucket needs none, and guessing one can fail on a runner."""
    emulator = environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if not emulator:
        return storage.Client(project=None)
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project=None, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator}
    )


_UPLOADERS: Dict[str, Callable[[UploadPlan, Mapping[str, str], float, Outcome], str]] = {
    "s3": _upload_s3,
    "gcs": _upload_gcs,
}


# --- upload: the runner's CLI, when the library is not installed ---------------------------

_INSTALL_HINTS = {
    "s3": "neither boto3 nor the aws CLI is available: pip install 'beacon[s3]' (or install the aws CLI)",
    "gcs": (
        "neither google-cloud-storage nor gcloud/gsutil is available: pip install 'beacon[gcs]' "
        "(or install the Google Cloud CLI)"
    ),
}


def cli_command(plan: UploadPlan, environ: Mapping[str, str], timeout: float) -> Optional[List[str]]:
    """The runner's upload command for the plan, or None when no CLI is on PATH."""
    path = environ.get("PATH", os.defpath)
    if plan.provider == "s3":
        aws = shutil.which("aws", path=path)
        if aws:
            per_call = str(int(max(1.0, min(60.0, timeout / 2))))
            return [
                aws,
                "s3",
                "cp",
                plan.log_path,
                plan.uri,
                "--content-type",
                NDJSON,
                "--checksum-algorithm",
                "SHA256",
                "--only-show-errors",
                "--no-progress",
                "--cli-connect-timeout",
                per_call,
                "--cli-read-timeout",
                per_call,
            ]
        return None
    gcloud = shutil.which("gcloud", path=path)
    if gcloud:  # checks the upload's hash by default (storage/check_hashes)
        return [gcloud, "storage", "cp", plan.log_path, plan.uri, f"--content-type={NDJSON}", "--quiet"]
    gsutil = shutil.which("gsutil", path=path)
    if gsutil:  # validates the MD5/CRC32C of every upload
        return [gsutil, "-q", "-h", f"Content-Type:{NDJSON}", "cp", plan.log_path, plan.uri]
    return None


def _upload_with_cli(plan: UploadPlan, environ: Mapping[str, str], timeout: float, outcome: Outcome) -> str:
    command = cli_command(plan, environ, timeout)
    if command is None:
        raise _UploadFailed(_INSTALL_HINTS[plan.provider])
    via = os.path.basename(command[0])
    outcome["trying"] = via
    env = dict(environ)
    if plan.provider == "s3":  # bounded retries, unless the user chose their own
        env.setdefault("AWS_RETRY_MODE", "standard")
        env.setdefault("AWS_MAX_ATTEMPTS", str(UPLOAD_ATTEMPTS))
    code, output = _run_bounded(command, env, timeout)
    if code != 0:
        last = [line for line in output.splitlines() if line.strip()]
        raise _UploadFailed(f"{via} exited with {code}: {last[-1] if last else 'no output'}")
    return via


def _run_bounded(command: Sequence[str], env: Mapping[str, str], timeout: float) -> Tuple[int, str]:
    """Run a command, its output captured; past `timeout` its whole process group is killed
    (a plain subprocess timeout kills only the child, and a grandchild holding the pipe would
    keep us waiting)."""
    child = subprocess.Popen(
        list(command),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        child.communicate()
        raise _UploadFailed(f"{os.path.basename(command[0])} timed out after {timeout:g} s") from None
    return child.returncode, output.decode("utf-8", "replace")


# --- forward: where the events go ------------------------------------------------------------

HEC_PATH = "/services/collector/event"
OTLP_LOGS_PATH = "/v1/logs"
_TOKEN_VARIABLES = {"splunk": "BEACON_CI_SPLUNK_HEC_TOKEN", "falcon": "BEACON_CI_FALCON_HEC_TOKEN"}
_ENDPOINT_VARIABLES = {
    "splunk": "BEACON_CI_SPLUNK_HEC_ENDPOINT",
    "falcon": "BEACON_CI_FALCON_HEC_ENDPOINT",
    "otlp": "BEACON_CI_OTLP_ENDPOINT",
}
OTLP_HEADERS_VARIABLE = "BEACON_CI_OTLP_HEADERS"
_AUTH_SCHEMES = {"splunk": "Splunk", "falcon": "Bearer"}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


class Endpoint(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str  # with the query string, as sent

    @property
    def display(self) -> str:
        """The endpoint as results and messages show it: no query string (it may hold a key)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path.split('?', 1)[0]}"


def parse_endpoint(url: str, default_path: str, source: str) -> Endpoint:
    """Check a forward endpoint and complete its path. `source` names where it came from, for
    the error. Plain http:// only to loopback: the token and the events would cross the network
    in the clear."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ExportError(f"{source} must be an http(s):// URL with a host")
    if parts.username or parts.password:
        raise ExportError(f"{source} must not carry credentials; tokens come from the environment only")
    host = parts.hostname
    if scheme == "http" and not _is_loopback(host):
        raise ExportError(
            f"{source} uses plain http:// to {host}: events and token would cross unencrypted; "
            "use https:// (http:// is accepted only for loopback)"
        )
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ExportError(f"{source} has an invalid port") from None
    path = parts.path.rstrip("/")
    if default_path == OTLP_LOGS_PATH:  # OTEL_EXPORTER_OTLP_ENDPOINT's rule: a base gets /v1/logs
        path = path if path.endswith(OTLP_LOGS_PATH) else path + OTLP_LOGS_PATH
    elif not path:
        path = default_path
    return Endpoint(scheme, host, port, path + (f"?{parts.query}" if parts.query else ""))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_otlp_headers(text: str) -> Dict[str, str]:
    """`k=v,k2=v2` as OTEL_EXPORTER_OTLP_HEADERS has it: values URL-decoded. Errors name the
    entry's position, never its value."""
    headers: Dict[str, str] = {}
    for number, entry in enumerate(text.split(","), 1):
        if not entry.strip():
            continue
        name, equals, value = entry.partition("=")
        name, value = name.strip(), urllib.parse.unquote(value.strip())
        if not equals or not _HEADER_NAME.fullmatch(name):
            raise ExportError(f"{OTLP_HEADERS_VARIABLE}: entry {number} is not name=value")
        if "\r" in value or "\n" in value:
            raise ExportError(f"{OTLP_HEADERS_VARIABLE}: the value of {name} holds a line break")
        headers[name] = value
    return headers


def _tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """The system trust store, or SSL_CERT_FILE / SSL_CERT_DIR from `environ` in its place (as
    OpenSSL reads them from the process environment)."""
    cafile, capath = environ.get("SSL_CERT_FILE") or None, environ.get("SSL_CERT_DIR") or None
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise ExportError(f"cannot load trusted certificates (SSL_CERT_FILE, SSL_CERT_DIR): {exc}") from None


# --- forward: HEC and OTLP bodies ---------------------------------------------------------

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def event_time_ns(event: Mapping[str, Any], now_ns: Callable[[], int] = time.time_ns) -> int:
    """Nanoseconds since the epoch of the event's `timestamp` (beacon writes RFC 3339 UTC with
    milliseconds), exactly; the current time when it has none."""
    match = _RFC3339.fullmatch(str(event.get("timestamp", "")))
    if match:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
        except ValueError:
            return now_ns()
        fraction = int((match.group(7) or "0").ljust(9, "0"))
        return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + fraction
    return now_ns()


def event_time(event: Mapping[str, Any], now_ns: Callable[[], int] = time.time_ns) -> float:
    """HEC's `time`: epoch seconds, with the timestamp's milliseconds."""
    return round(event_time_ns(event, now_ns) / 1e9, 6)


def hec_line(event: Mapping[str, Any]) -> bytes:
    """One HEC event object: the beacon event as given (already redacted), its time as HEC's
    epoch seconds, the endpoint's host name as HEC's host."""
    wrapper: Dict[str, Any] = {"time": event_time(event), "source": "beacon", "sourcetype": "beacon:event"}
    endpoint = event.get("endpoint")
    if isinstance(endpoint, Mapping) and isinstance(endpoint.get("hostname"), str) and endpoint["hostname"]:
        wrapper["host"] = endpoint["hostname"]
    wrapper["event"] = event
    return json.dumps(wrapper, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# OTLP severity numbers for beacon's severities (INFO, INFO2, WARN, ERROR, FATAL).
_SEVERITY_NUMBERS = {"info": 9, "low": 10, "medium": 13, "high": 17, "critical": 21}


def otlp_record(event: Mapping[str, Any]) -> Dict[str, Any]:
    """One LogRecord in the plain OTLP shape: the body is the event as one JSON string (the
    runtime.jsonl line: every backend can parse it, and no type is lost on the way, as a kvlist
    would lose nulls); attributes carry what a pipeline routes and filters on."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    meta = _mapping(event.get("event"))
    attributes = {
        "event.name": str(meta.get("action") or ""),
        "event.category": meta.get("category"),
        "event.outcome": meta.get("outcome"),
        "event.id": meta.get("id"),
        "beacon.harness": _mapping(event.get("harness")).get("name"),
        "beacon.capture.id": _mapping(event.get("capture")).get("id"),
        "session.id": _mapping(event.get("session")).get("id"),
    }
    severity = str(event.get("severity") or "")
    return {
        "time_unix_nano": event_time_ns(event),
        "severity_number": _SEVERITY_NUMBERS.get(severity, 0),
        "severity_text": severity,
        "event_name": attributes["event.name"],
        "body": body,
        "attributes": {k: v for k, v in attributes.items() if isinstance(v, str) and v},
    }


def otlp_request(records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": "beacon"}},
                "scope_logs": [{"scope": {"name": "beacon"}, "log_records": list(records)}],
            }
        ]
    }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def chunk(sizes: Sequence[int], max_items: int, max_bytes: int) -> List[Tuple[int, int]]:
    """Split items of the given sizes into consecutive [start, end) runs of at most `max_items`
    items and `max_bytes` bytes; an item larger than `max_bytes` travels alone."""
    runs: List[Tuple[int, int]] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_items or total + size > max_bytes):
            runs.append((start, index))
            start, total = index, 0
        total += size
    if start < len(sizes):
        runs.append((start, len(sizes)))
    return runs


class _Wire(NamedTuple):
    """How one target puts events on the wire."""

    encode: Callable[[Mapping[str, Any]], Any]  # one event -> what a body is built from
    size: Callable[[Any], int]  # its size, for the per-request byte limit
    body: Callable[[List[Any]], bytes]  # encoded events -> the (uncompressed) request body
    content_type: str


_HEC_WIRE = _Wire(
    hec_line,
    lambda line: len(line) + 1,  # its newline included
    lambda lines: b"\n".join(lines) + b"\n",
    "application/json",
)
_OTLP_WIRE = _Wire(
    otlp_record,
    lambda record: len(record["body"]) + 200,
    lambda records: _encode_logs(otlp_request(records)),
    "application/x-protobuf",
)


def _encode_logs(request: Dict[str, Any]) -> bytes:
    from beacon_otlp import encode_protobuf  # the stdlib OTLP wire layer beside this module

    return encode_protobuf("logs", request)


# --- forward: the forwarder -----------------------------------------------------------------


class _Headers:
    """The user's request headers (the token, the OTLP headers): secret, so nothing prints them
    (repr, str, vars of the forwarder), and messages never quote them."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def items(self) -> Dict[str, str]:
        return dict(self._values)

    def secrets(self) -> List[str]:
        """Each value, and the credential after an auth scheme ("Splunk <token>"), longest first."""
        found = set()
        for value in self._values.values():
            found.add(value)
            found.add(value.partition(" ")[2])
        return sorted((v for v in found if len(v) >= 4), key=len, reverse=True)

    def __repr__(self) -> str:
        return f"<{len(self._values)} headers, values hidden>"


class ForwardPlan(NamedTuple):
    """A checked forward configuration, with no thread yet: what `ci start` checks before the
    detached receiver (which runs the forwarder) is started."""

    target: str
    endpoint: Endpoint
    headers: _Headers  # the token or the OTLP headers, hidden
    wire: _Wire
    tls: Optional[ssl.SSLContext]  # for https

    def to_json(self) -> Dict[str, str]:
        return {"target": self.target, "endpoint": self.endpoint.display}


class RetryPolicy(NamedTuple):
    attempts: int = 5  # per request, the first included
    initial: float = 0.5  # seconds before the first retry; doubles each time
    maximum: float = 8.0  # the longest backoff
    retry_after_cap: float = 30.0  # the longest Retry-After honoured
    request_timeout: float = 10.0  # connect and each read


DEFAULT_RETRY = RetryPolicy()
MAX_QUEUED_EVENTS = 10_000  # events waiting to be sent; past it, submit counts them failed
MAX_BATCH_EVENTS = 500  # events per request
MAX_BATCH_BYTES = 1_000_000  # uncompressed body per request (Splunk's classic HEC limit is 1 MB)
MAX_ANSWER_BYTES = 65536  # of a response body: HEC and OTLP answers are short


class ForwardResult(NamedTuple):
    target: str
    endpoint: str  # without query string; never the token
    sent: int
    failed: int  # submitted but not confirmed delivered: dropped at a full queue, rejected, or given up
    message: str = ""  # the first failure, one line, no secret

    def to_json(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {
            "target": self.target,
            "endpoint": self.endpoint,
            "sent": self.sent,
            "failed": self.failed,
        }
        if self.message:
            result["message"] = self.message
        return result


class Forwarder:
    """Sends events to one destination as they arrive, from a background thread.

    submit() is called by the capture's single consumer thread and never blocks on the network:
    events go into a bounded queue, and what does not fit is counted failed. The sender thread
    takes what is queued (up to MAX_BATCH_EVENTS), sends it in requests of bounded size (gzip),
    and retries connection errors, 429 and 5xx with exponential backoff and jitter (a 429's or
    503's Retry-After is honoured up to a cap); other 4xx are not retried. Delivery is at least
    once: a request the server processed but whose answer was lost is sent again.
    close() flushes within its timeout and returns the counts."""

    def __init__(
        self,
        plan: ForwardPlan,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_queued: int = MAX_QUEUED_EVENTS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.target, self.endpoint = plan.target, plan.endpoint
        self._headers = plan.headers
        self._fixed_headers = {"Content-Type": plan.wire.content_type, "Content-Encoding": "gzip"}
        self._wire, self._tls, self._retry = plan.wire, plan.tls, retry
        self._max_queued = max_queued
        self._max_batch_events, self._max_batch_bytes = max_batch_events, max_batch_bytes
        self._state = threading.Condition()
        self._queue: Deque[Mapping[str, Any]] = deque()
        self._submitted = self._sent = 0
        self._first_error = ""
        self._closing = False
        self._deadline: Optional[float] = None  # monotonic; set by close()
        self._result: Optional[ForwardResult] = None
        self._connection: Optional[http.client.HTTPConnection] = None
        self._thread = threading.Thread(target=self._run, name=f"beacon-forward-{plan.target}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<Forwarder {self.target} to {self.endpoint.display}>"

    # --- the consumer thread's side ----------------------------------------------------

    def submit(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Queue events for sending; never waits for the network. What the queue cannot take
        (or what arrives after close) is counted failed."""
        if not events:
            return
        with self._state:
            room = 0 if self._closing else max(0, self._max_queued - len(self._queue))
            self._queue.extend(events[:room])
            self._submitted += len(events)
            if len(events) > room:
                self._note_error(
                    f"{len(events) - room} events dropped: the forward queue was full "
                    f"({self._max_queued} events waiting)"
                    if not self._closing
                    else "events submitted after close"
                )
            self._state.notify_all()

    def close(self, timeout: float = FORWARD_CLOSE_TIMEOUT) -> ForwardResult:
        """Send what is queued, within `timeout` seconds, stop the sender, count. Idempotent."""
        with self._state:
            if self._result is not None:
                return self._result
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._state.notify_all()
        # The sender gives up at the deadline; a request already on the wire ends by its own
        # socket timeout, which is capped at the deadline too.
        self._thread.join(timeout + 1.0)
        with self._state:
            if self._queue:
                self._note_error(f"{len(self._queue)} events were still queued at the close deadline")
                self._queue.clear()
            failed = self._submitted - self._sent
            self._result = ForwardResult(
                self.target, self.endpoint.display, self._sent, failed, self._first_error if failed else ""
            )
            return self._result

    # --- the sender thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                events = self._take()
                if events is None:
                    return
                self._deliver(events)
        finally:
            self._disconnect()

    def _take(self) -> Optional[List[Mapping[str, Any]]]:
        """Wait for events; None when closing with nothing left, or past the close deadline."""
        with self._state:
            self._state.wait_for(lambda: bool(self._queue) or self._closing)
            if not self._queue or self._past_deadline():
                return None
            count = min(len(self._queue), self._max_batch_events)
            return [self._queue.popleft() for _ in range(count)]

    def _deliver(self, events: List[Mapping[str, Any]]) -> None:
        encoded, good = [], 0
        for event in events:
            try:
                encoded.append(self._wire.encode(event))
                good += 1
            except (TypeError, ValueError) as exc:  # not JSON-serializable: beacon never writes such
                self._note_error(f"an event could not be encoded: {exc}")
        sizes = [self._wire.size(item) for item in encoded]
        for start, end in chunk(sizes, self._max_batch_events, self._max_batch_bytes):
            if self._send(self._wire.body(encoded[start:end])):
                with self._state:
                    self._sent += end - start

    def _send(self, body: bytes) -> bool:
        """POST one body, retrying what may succeed later; True when the server accepted it."""
        payload = gzip.compress(body, compresslevel=5)
        for attempt in range(1, self._retry.attempts + 1):
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                self._note_error("gave up at the close deadline")
                return False
            status, wait, error = self._post(payload, remaining)
            if status is not None and 200 <= status < 300:
                return True
            self._note_error(error)
            if status is not None and status != 429 and status < 500:
                return False  # the request itself is wrong (or the token): sending it again cannot help
            if attempt < self._retry.attempts:
                backoff = min(self._retry.maximum, self._retry.initial * 2 ** (attempt - 1))
                self._sleep(wait if wait is not None else backoff * random.uniform(0.5, 1.0))
        return False

    def _post(self, payload: bytes, remaining: Optional[float]) -> Tuple[Optional[int], Optional[float], str]:
        """One request: (status or None, the Retry-After to honour, what went wrong)."""
        timeout = self._retry.request_timeout
        if remaining is not None:
            timeout = min(timeout, remaining)
        where = self.endpoint.display
        try:
            connection = self._connect(timeout)
            connection.request(
                "POST",
                self.endpoint.path,
                body=payload,
                headers={**self._headers.items(), **self._fixed_headers},
            )
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER_BYTES)
            if response.will_close or not response.isclosed():  # closing, or more than we read
                self._disconnect()
        except (OSError, http.client.HTTPException) as exc:
            self._disconnect()
            return None, None, self._clean(f"cannot send to {where}: {_describe(exc)}")
        status = response.status
        wait = (
            _retry_after(response.getheader("Retry-After"), self._retry.retry_after_cap)
            if status in (429, 503)
            else None
        )
        detail = answer[:1024].decode("utf-8", "replace").strip()
        return status, wait, self._clean(f"{where} answered {status}" + (f": {detail}" if detail else ""))

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            host, port = self.endpoint.host, self.endpoint.port
            if self.endpoint.scheme == "https":
                self._connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            else:
                self._connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self._connection.timeout = timeout
        if self._connection.sock is not None:
            self._connection.sock.settimeout(timeout)
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _remaining(self) -> Optional[float]:
        with self._state:
            return None if self._deadline is None else self._deadline - time.monotonic()

    def _past_deadline(self) -> bool:  # called with the lock held
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _sleep(self, seconds: float) -> None:
        """Back off, but wake for close() so that the deadline is kept."""
        end = time.monotonic() + seconds
        with self._state:
            while not self._past_deadline():
                left = end if self._deadline is None else min(end, self._deadline)
                left -= time.monotonic()
                if left <= 0:
                    return
                self._state.wait(left)

    def _note_error(self, message: str) -> None:
        with self._state:
            if not self._first_error:
                self._first_error = self._clean(message)

    def _clean(self, message: str) -> str:
        return one_line(message, self._headers.secrets())


def _retry_after(value: Optional[str], cap: float) -> Optional[float]:
    """Retry-After in seconds (a number or an HTTP date), capped; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(cap, seconds))


def make_forwarder(
    target: str, endpoint: Optional[str], environ: Mapping[str, str], retry: RetryPolicy = DEFAULT_RETRY
) -> Forwarder:
    """A running forwarder for `--forward target` (`--forward-endpoint endpoint`); ExportError
    (see plan_forward) before any thread starts or anything is sent."""
    return Forwarder(plan_forward(target, endpoint, environ), retry)


def plan_forward(target: str, endpoint: Optional[str], environ: Mapping[str, str]) -> ForwardPlan:
    """Check `--forward target` (`--forward-endpoint endpoint`): ExportError for anything
    misconfigured: unsupported target, no endpoint, no token, a plain http:// endpoint off
    loopback, unreadable trusted certificates, malformed OTLP headers.

    Endpoints: the argument, else BEACON_CI_SPLUNK_HEC_ENDPOINT / BEACON_CI_FALCON_HEC_ENDPOINT /
    BEACON_CI_OTLP_ENDPOINT. An HEC URL without a path gets /services/collector/event; an OTLP
    URL gets /v1/logs appended unless it ends with it. Tokens only from the environment:
    BEACON_CI_SPLUNK_HEC_TOKEN, BEACON_CI_FALCON_HEC_TOKEN; OTLP headers from
    BEACON_CI_OTLP_HEADERS."""
    target = target.strip().lower()
    if target not in FORWARD_TARGETS:
        raise ExportError(f"unsupported --forward {target!r}; use {', '.join(FORWARD_TARGETS)}")
    variable = _ENDPOINT_VARIABLES[target]
    url, source = (
        (endpoint.strip(), "--forward-endpoint")
        if endpoint and endpoint.strip()
        else (environ.get(variable, "").strip(), variable)
    )
    if not url:
        raise ExportError(f"--forward {target} needs an endpoint: pass --forward-endpoint or set {variable}")
    if target == "otlp":
        parsed = parse_endpoint(url, OTLP_LOGS_PATH, source)
        headers, wire = parse_otlp_headers(environ.get(OTLP_HEADERS_VARIABLE, "")), _OTLP_WIRE
    else:
        token_variable = _TOKEN_VARIABLES[target]
        token = environ.get(token_variable, "").strip()
        if not token:
            raise ExportError(
                f"--forward {target} needs the HEC token in {token_variable} "
                "(tokens are not accepted as flags)"
            )
        if "\r" in token or "\n" in token:
            raise ExportError(f"{token_variable} holds a line break")
        parsed = parse_endpoint(url, HEC_PATH, source)
        headers, wire = {"Authorization": f"{_AUTH_SCHEMES[target]} {token}"}, _HEC_WIRE
    tls = _tls_context(environ) if parsed.scheme == "https" else None
    return ForwardPlan(target, parsed, _Headers(headers), wire, tls)
