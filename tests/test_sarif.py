"""SARIF 2.1.0 from `beacon ci findings --format sarif`, validated against the official schema:
every recorded real-agent session (tests/fixtures/), a session that fires every rule, and
hostile text; one run of the tool `beacon` describing every rule; stable fingerprints; a
location for every result.

tests/sarif-schema-2.1.0.json is the OASIS SARIF Technical Committee's schema for SARIF 2.1.0
(errata 01), copied unchanged from
https://github.com/oasis-tcs/sarif-spec/blob/e0583813964ec43cea53b6b531b402866095ed1f/sarif-2.1/schema/sarif-schema-2.1.0.json
(the file as last changed in commit a560296c, 2024-05-02)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest
from conftest import ROOT
from test_exec import environ
from test_findings import FAMILIES, WORK, WORKFLOW_REF, Script
from test_normalize import normalized, recorded_runs

from beacon_ci.cli import main
from beacon_ci.environment import Environment
from beacon_ci.eventlog import EventWriter
from beacon_ci.findings.rules import RULES
from beacon_protect import Protector

SCHEMA = json.loads((ROOT / "tests" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def write_log(path: Path, events: List[Dict[str, Any]]) -> Path:
    writer = EventWriter(str(path))
    writer.write_all(events)
    writer.close()
    return path


def sarif_of(tmp_path: Path, log: Path, **extra: str) -> Dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(environ=environ(tmp_path, **extra), stdout=out, stderr=err)
    assert main(["ci", "findings", "--format", "sarif", "--log-path", str(log)], env) == 0, err.getvalue()
    return json.loads(out.getvalue())


def valid(document: Dict[str, Any]) -> Dict[str, Any]:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]
    assert errors == []
    return document


def protected(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    protector = Protector([])
    return [protector.protect_event(event) for event in events]


def results(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    (run,) = document["runs"]
    return list(run["results"])


@pytest.mark.parametrize("agent, protocol", recorded_runs())
def test_every_recorded_session_gives_valid_sarif(tmp_path: Path, agent: str, protocol: str) -> None:
    log = write_log(tmp_path / "runtime.jsonl", protected(normalized(agent, protocol)))
    document = valid(sarif_of(tmp_path, log))
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "beacon"
    assert [rule["id"] for rule in driver["rules"]] == [rule.id for rule in RULES]
    assert all(rule["help"]["text"] and rule["help"]["markdown"] for rule in driver["rules"])
    # Each session: a command carrying fake tokens (redacted) and one denied command.
    assert [result["ruleId"] for result in run["results"]] == ["BCN181", "BCN182"]
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "runtime.jsonl"
        assert len(result["partialFingerprints"]["beaconFinding/v1"]) == 64


def test_a_session_that_fires_every_family_gives_valid_sarif(tmp_path: Path) -> None:
    script = Script()
    for family, _ in FAMILIES.values():
        script.records += family.records
    document = valid(sarif_of(tmp_path, script.write(tmp_path / "runtime.jsonl")))
    assert len(results(document)) >= 30
    levels = {result["ruleId"]: result["level"] for result in results(document)}
    assert (levels["BCN161"], levels["BCN101"], levels["BCN141"], levels["BCN182"]) == (
        "error",
        "error",
        "warning",
        "note",
    )


def test_fingerprints_are_stable_from_run_to_run(tmp_path: Path) -> None:
    first = sarif_of(tmp_path, write_log(tmp_path / "a.jsonl", protected(normalized("codex", "json"))))
    second = sarif_of(tmp_path, write_log(tmp_path / "b.jsonl", protected(normalized("codex", "json"))))
    assert results(first)[0]["properties"]["events"] != results(second)[0]["properties"]["events"]
    assert [r["partialFingerprints"] for r in results(first)] == [
        r["partialFingerprints"] for r in results(second)
    ]


def test_a_result_points_at_the_file_the_agent_touched_else_the_workflow(tmp_path: Path) -> None:
    script = (
        Script()
        .claude("Edit", file_path=f"{WORK}/.github/workflows/ci.yml", old_string="a", new_string="b")
        .codex_patch("Update File: .github/CODEOWNERS")
        .claude("Read", file_path="/home/runner/.aws/credentials")
        .bash("sudo true")
    )
    document = valid(sarif_of(tmp_path, script.write(tmp_path / "runtime.jsonl"), GITHUB_WORKSPACE=WORK))
    uris = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in results(document)
    }
    assert uris == {
        "BCN121": ".github/workflows/ci.yml",  # in the workspace: relative to it
        "BCN122": ".github/CODEOWNERS",  # already relative
        "BCN111": ".github/workflows/agent.yml",  # outside it: the workflow that ran the agent
        "BCN155": ".github/workflows/agent.yml",  # no file: the workflow, from the events' run
    }
    assert WORKFLOW_REF.startswith("acme/app/.github/workflows/agent.yml@")


def test_without_a_workflow_in_the_events_the_jobs_own_is_used(tmp_path: Path) -> None:
    log = write_log(tmp_path / "runtime.jsonl", protected(normalized("gemini", "http/json")))
    document = sarif_of(
        tmp_path, log, GITHUB_WORKFLOW_REF="acme/app/.github/workflows/review.yml@refs/pull/3/merge"
    )
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results(document)}
    assert uris == {".github/workflows/review.yml"}


def test_hostile_text_stays_valid_sarif(tmp_path: Path) -> None:
    script = (
        Script()
        .bash("sudo echo '\u202e\x1b[31m\"}]}' && rm -rf / # \ud83d\ude00 %s %n")
        .claude("Edit", file_path=f"{WORK}/.github/workflows/we ird#?.yml", old_string="a", new_string="b")
    )
    document = valid(sarif_of(tmp_path, script.write(tmp_path / "runtime.jsonl"), GITHUB_WORKSPACE=WORK))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results(document)]
    assert ".github/workflows/we%20ird%23%3F.yml" in uris
