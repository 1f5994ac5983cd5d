"""--upload and --forward through the commands (exec, start, finish) and the action: real
moto (S3) and GCS emulator servers and the strict HEC endpoint of test_export, the synthetic
agent in between. What is checked: the object is the log, the SIEM gets exactly the events the
log got (already redacted), the agent never sees the export credentials, exit codes, and that
no token shows anywhere."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any, Dict, List

from action_runner import Artifacts, action_copy
from conftest import ROOT
from export_servers import HEC_TOKEN, StrictHec, gcs_blob
from test_action import ACTION_FILES, FAKE, new_job
from test_exec import EVENTS_PER_SESSION, Run, agent, beacon_run, environ, exec_claude
from test_session import exports_from, run_agent, state_of, stop_receivers, wait_until_gone  # noqa: F401

from beacon_ci.errors import EXIT_EXPORT, EXIT_USAGE
from beacon_ci.selftest import SYNTHETIC_SECRET

BUCKET = {"BEACON_CI_S3_BUCKET": "audit-logs", "BEACON_CI_S3_PREFIX": "beacon"}
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/app",
    "GITHUB_RUN_ID": "123",
    "GITHUB_RUN_ATTEMPT": "2",
}
S3_KEY = "beacon/acme/app/123/2/runtime.jsonl"


def log_events(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def names_seen_by_agent(path: Path) -> List[str]:
    names: List[str] = json.loads(path.read_text())
    return names


# --- exec ----------------------------------------------------------------------------------


def test_exec_uploads_the_log_and_keeps_aws_from_the_agent(
    tmp_path: Path, aws_env: Dict[str, str], s3: Any
) -> None:
    env = environ(tmp_path, **aws_env, **BUCKET, **GITHUB)
    seen = tmp_path / "agent-environ.json"
    run = exec_claude(
        tmp_path,
        "--upload",
        "s3",
        *agent("--environ", str(seen)),
        env=env,
    )
    assert run.code == 0, run.stderr
    assert (
        run.result["uploads"][0]["status"] == "ok"
        and run.result["uploads"][0]["target"] == f"s3://audit-logs/{S3_KEY}"
    )
    assert s3.get_object(Bucket="audit-logs", Key=S3_KEY)["Body"].read() == run.log.read_bytes()
    assert not [name for name in names_seen_by_agent(seen) if name.startswith("AWS_")]
    assert f"beacon: uploaded s3://audit-logs/{S3_KEY} (boto3" in run.stderr
    assert aws_env["AWS_SECRET_ACCESS_KEY"] not in run.stdout + run.stderr


def test_exec_uploads_to_both_stores_and_one_failing_does_not_stop_the_other(
    tmp_path: Path, aws_env: Dict[str, str], s3: Any, gcs_emulator: str
) -> None:
    env = environ(
        tmp_path,
        **aws_env,
        **GITHUB,
        BEACON_CI_S3_BUCKET="no-such-bucket",
        BEACON_CI_GCS_BUCKET="audit-logs",
        STORAGE_EMULATOR_HOST=gcs_emulator,
    )
    run = exec_claude(tmp_path, "--upload", "s3,gcs", *agent(), env=env)
    assert run.code == EXIT_EXPORT, run.stderr
    s3_result, gcs_result = run.result["uploads"]
    assert (s3_result["status"], gcs_result["status"]) == ("fail", "ok")
    assert "NoSuchBucket" in s3_result["message"]
    assert gcs_blob(gcs_emulator, "acme/app/123/2/runtime.jsonl").download_as_bytes() == run.log.read_bytes()
    assert "beacon: upload to s3://no-such-bucket/acme/app/123/2/runtime.jsonl failed: " in run.stderr


def test_the_agents_failure_wins_over_a_failed_upload(
    tmp_path: Path, aws_env: Dict[str, str], s3: Any
) -> None:
    env = environ(tmp_path, **aws_env, BEACON_CI_S3_BUCKET="no-such-bucket")
    run = beacon_run(
        tmp_path, "ci", "exec", "--harness", "claude", "--upload", "s3", *agent("--exit", "7"), env=env
    )
    assert run.code == 7


def test_an_upload_without_its_bucket_is_refused_before_the_agent_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    run = beacon_run(
        tmp_path, "ci", "exec", "--harness", "claude", "--upload", "s3", *agent("--marker", str(marker))
    )
    assert run.code == EXIT_USAGE
    assert run.stderr.startswith("beacon: ") and "BEACON_CI_S3_BUCKET" in run.stderr
    assert not marker.exists()
    for bad in (["--upload", "elastic"], ["--forward", "kafka"], ["--forward", "splunk"]):
        run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *bad, *agent("--marker", str(marker)))
        assert run.code == EXIT_USAGE and len(run.stderr.splitlines()) == 1, run.stderr
    assert not marker.exists()


def exec_forwarding(tmp_path: Path, hec: StrictHec, *agent_args: str) -> Run:
    """exec of the synthetic agent, forwarding to the strict HEC with its token in the environment."""
    env = environ(tmp_path, BEACON_CI_SPLUNK_HEC_TOKEN=HEC_TOKEN)
    return exec_claude(
        tmp_path, "--forward", "splunk", "--forward-endpoint", hec.url, *agent(*agent_args), env=env
    )


def test_exec_forwards_the_redacted_events_the_log_got(tmp_path: Path, hec: StrictHec) -> None:
    seen = tmp_path / "agent-environ.json"
    run = exec_forwarding(tmp_path, hec, "--environ", str(seen))
    assert run.code == 0, run.stderr
    logged = log_events(run.log)
    assert [item["event"] for item in hec.events] == logged and len(logged) == EVENTS_PER_SESSION
    assert SYNTHETIC_SECRET not in json.dumps(hec.events)
    assert run.result["forward"] == {
        "target": "splunk",
        "endpoint": hec.url + "/services/collector/event",
        "sent": EVENTS_PER_SESSION,
        "failed": 0,
    }
    assert "BEACON_CI_SPLUNK_HEC_TOKEN" not in names_seen_by_agent(seen)
    assert HEC_TOKEN not in run.stdout + run.stderr + run.log.read_text()
    assert not hec.violations


def test_a_forward_that_fails_gives_the_export_exit_code(tmp_path: Path, hec: StrictHec) -> None:
    hec.answer_next(400, times=100)  # the HEC refuses everything: nothing is retried, all counted
    run = exec_forwarding(tmp_path, hec)
    assert run.code == EXIT_EXPORT
    assert run.result["forward"]["failed"] == EVENTS_PER_SESSION and run.result["forward"]["sent"] == 0
    assert f"; {EVENTS_PER_SESSION} failed: " in run.stderr
    assert run.result["validation"]["status"] == "passed"  # the log itself is complete


# --- start and finish ------------------------------------------------------------------------


def start_forwarding_session(tmp_path: Path, hec: StrictHec, env: Dict[str, str]) -> None:
    """ci start forwarding to the HEC, then an agent step; its events are at the HEC while the
    capture still runs, so a job cancelled now has already delivered them."""
    start = beacon_run(
        tmp_path,
        "ci",
        "start",
        "--harness",
        "claude",
        "--forward",
        "splunk",
        "--forward-endpoint",
        hec.url,
        env=env,
    )
    assert start.code == 0, start.stderr
    assert run_agent(exports_from(start.stdout)) == 0
    assert hec.wait_for_events(EVENTS_PER_SESSION, timeout=10) == EVENTS_PER_SESSION


def test_session_forwards_as_events_arrive_and_finish_uploads(
    tmp_path: Path, hec: StrictHec, aws_env: Dict[str, str], s3: Any
) -> None:
    env = environ(tmp_path, **aws_env, **BUCKET, BEACON_CI_SPLUNK_HEC_TOKEN=HEC_TOKEN)
    start_forwarding_session(tmp_path, hec, env)
    state = state_of(tmp_path)
    assert HEC_TOKEN not in json.dumps(state)
    finish = beacon_run(tmp_path, "ci", "finish", "--json", "--upload", "s3", env=env)
    assert finish.code == 0, finish.stderr
    assert finish.result["forward"]["sent"] == EVENTS_PER_SESSION and finish.result["forward"]["failed"] == 0
    log = Path(state["log_path"])
    assert [item["event"] for item in hec.events] == log_events(log)
    key = finish.result["uploads"][0]["target"].split("/", 3)[3]
    assert key.startswith("beacon/ci/") and key.endswith(f"-{state['capture_id']}/runtime.jsonl")
    assert s3.get_object(Bucket="audit-logs", Key=key)["Body"].read() == log.read_bytes()


def test_start_refuses_a_forward_without_its_token_and_starts_nothing(tmp_path: Path, hec: StrictHec) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--forward", "splunk", "--forward-endpoint", hec.url)
    assert start.code == EXIT_USAGE
    assert "BEACON_CI_SPLUNK_HEC_TOKEN" in start.stderr and "not accepted as flags" in start.stderr
    assert not (tmp_path / "runner" / "beacon" / "session.json").exists()


def test_a_receiver_killed_mid_session_counts_its_forward_failed(tmp_path: Path, hec: StrictHec) -> None:
    env = environ(tmp_path, BEACON_CI_SPLUNK_HEC_TOKEN=HEC_TOKEN)
    start_forwarding_session(tmp_path, hec, env)
    state = state_of(tmp_path)
    os.kill(state["pid"], signal.SIGKILL)
    wait_until_gone(state)
    finish = beacon_run(tmp_path, "ci", "finish", env=env)
    assert finish.code == EXIT_EXPORT
    assert (
        finish.stderr.count(
            f"; {EVENTS_PER_SESSION} failed: the receiver stopped before it could say what it"
        )
        == 1
    )


# --- the action --------------------------------------------------------------------------


def test_the_action_passes_upload_and_forward(
    tmp_path: Path, hec: StrictHec, aws_env: Dict[str, str], s3: Any
) -> None:
    action = action_copy(ROOT, tmp_path / "actions" / "beacon", ACTION_FILES)
    job = new_job(tmp_path, Artifacts(tmp_path / "artifacts"))
    job.env.update(
        {
            **aws_env,
            **BUCKET,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_RUN_ID": "123",
            "GITHUB_RUN_ATTEMPT": "2",
            "BEACON_CI_SPLUNK_HEC_TOKEN": HEC_TOKEN,
        }
    )
    run = job.use(
        action,
        {
            "command": FAKE,
            "harnesses": "claude",
            "upload": "s3",
            "forward": "splunk",
            "forward-endpoint": hec.url,
        },
    )
    assert run.outcome == "success", run.stderr
    log = Path(run.outputs["log-path"])
    assert s3.get_object(Bucket="audit-logs", Key=S3_KEY)["Body"].read() == log.read_bytes()
    assert [item["event"] for item in hec.events] == log_events(log)
    assert HEC_TOKEN not in run.stdout + run.stderr
