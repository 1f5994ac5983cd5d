"""Judged findings as SARIF 2.1.0, the form GitHub code scanning accepts
(github/codeql-action/upload-sarif): one run of the tool `beacon` that describes every rule,
and a result per finding with a stable fingerprint and a location. The location is the file the
agent touched when it lies in the workspace, else the workflow file that ran the agent, else the
log that holds the evidence: code scanning shows nothing without one."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from beacon_ci import __version__
from beacon_ci.findings.render import message
from beacon_ci.findings.rules import RULES, SILENCE, Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub ranks a security alert by this number: 9.0 and above critical, 7.0 high, 4.0 medium.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
FINGERPRINT = "beaconFinding/v1"


def sarif_document(
    judged: Mapping[str, Any], workspace: str, workflow_ref: str, log_name: str
) -> Dict[str, Any]:
    """`workspace` is the repository's checkout (paths in it become relative URIs);
    `workflow_ref` GitHub's `owner/repo/.github/workflows/x.yml@ref`; `log_name` the last resort."""
    index = {rule.id: position for position, rule in enumerate(RULES)}
    fallback = workflow_path(workflow_ref) or log_name
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "beacon",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [rule_descriptor(rule) for rule in RULES],
                    }
                },
                "results": [
                    _result(finding, index[finding["rule"]], location_uri(finding, workspace, fallback))
                    for finding in judged["findings"]
                ],
            }
        ],
    }


def rule_descriptor(rule: Rule) -> Dict[str, Any]:
    level = LEVELS[rule.severity]
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.help},
        "help": {
            "text": f"{rule.help}\n\n{SILENCE}",
            "markdown": f"**{rule.title}** ({rule.severity})\n\n{rule.help}\n\n{SILENCE}",
        },
        "defaultConfiguration": {"level": level},
        "properties": {
            "tags": ["security", "ai-agent", rule.family],
            "precision": "high",
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "problem.severity": PROBLEM_SEVERITY[level],
        },
    }


def _result(finding: Mapping[str, Any], rule_index: int, uri: str) -> Dict[str, Any]:
    evidence = ", ".join(finding["events"])
    return {
        "ruleId": finding["rule"],
        "ruleIndex": rule_index,
        "level": LEVELS[finding["severity"]],
        "message": {
            "text": f"{message(finding, 1000)}. Evidence: {finding['event_count']} events in the log"
            + (f" (event.id {evidence})" if evidence else "")
        },
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}}}],
        "partialFingerprints": {FINGERPRINT: fingerprint(finding)},
        "properties": {
            "severity": finding["severity"],
            "harness": finding["harness"],
            "events": list(finding["events"]),
            "eventCount": finding["event_count"],
        },
    }


def fingerprint(finding: Mapping[str, Any]) -> str:
    """The same for the same rule, harness and subject in every run, so code scanning keeps one
    alert for it (and a dismissal holds)."""
    import hashlib  # here: a capture without findings (most) never loads OpenSSL's hashes

    key = "\0".join((finding["rule"], finding["harness"], finding["subject"]))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def location_uri(finding: Mapping[str, Any], workspace: str, fallback: str) -> str:
    """The touched file relative to the workspace, when it lies there; else the fallback."""
    path = finding.get("path") or ""
    if not path or path.startswith(("~", "$")):
        return fallback
    if os.path.isabs(path):
        inside = os.path.relpath(os.path.normpath(path), workspace) if workspace else ""
        if not inside or inside.startswith(".."):
            return fallback
        path = inside
    from urllib.parse import quote  # here: most findings touch no file

    path = os.path.normpath(path).replace(os.sep, "/")
    return fallback if path.startswith("..") or path == "." else quote(path, safe="/")


def workflow_path(workflow_ref: str) -> str:
    """`.github/workflows/ci.yml` from `owner/repo/.github/workflows/ci.yml@refs/heads/main`."""
    path = workflow_ref.split("@", 1)[0].split("/", 2)
    return path[2] if len(path) == 3 and path[2] else ""
