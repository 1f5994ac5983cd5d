"""Upload the finished log to S3 or GCS: where it goes (bucket and key, decided before the
capture runs), and doing it with boto3 / google-cloud-storage when installed (imported here,
only when an upload runs) or else the runner's aws / gcloud / gsutil CLI. Never raises for a
delivery failure: the result says what happened.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from beacon_ci.export.common import UPLOAD_TARGETS, ExportError, describe, one_line, secret_values
from beacon_otlp.threads import background_thread

NDJSON = "application/x-ndjson"
UPLOAD_TIMEOUT = 120.0  # seconds per destination, retries included (upstream had 2 minutes for all)


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
    secrets = secret_values(environ)
    outcome: Outcome = {}

    def attempt() -> None:
        try:
            outcome["via"] = _UPLOADERS[plan.provider](plan, environ, timeout, outcome)
        except _UploadFailed as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # a library's own error: whatever it is, it is a failed delivery
            outcome["error"] = describe(exc)

    worker = background_thread(attempt, f"beacon-upload-{plan.provider}")
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


_INSTALL_HINTS = {
    "s3": "neither boto3 nor the aws CLI is available: pip install 'beacon-ci[s3]' (or install the aws CLI)",
    "gcs": (
        "neither google-cloud-storage nor gcloud/gsutil is available: pip install 'beacon-ci[gcs]' "
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
