"""Judging folded findings: the user's configuration (rules off, hosts allowed), the budgets,
each finding's rule metadata, most severe first; and whether they fail the capture."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from beacon_ci.findings.config import FindingsConfig
from beacon_ci.findings.hosts import is_allowed
from beacon_ci.findings.rules import BUDGET_RULES, RULES_BY_ID, SEVERITIES, SEVERITY_RANK, at_least


def judge(folded: Mapping[str, Any], config: FindingsConfig, totals: Mapping[str, float]) -> Dict[str, Any]:
    """The findings a reviewer sees. `folded` is a FindingsFold's result, `totals` the capture's
    usage (report.summary.usage_totals)."""
    findings = [dict(f) for f in folded.get("findings", ()) if _kept(f, config)]
    findings += budget_findings(config, totals, folded.get("usage_events", []))
    for finding in findings:
        rule = RULES_BY_ID[finding["rule"]]
        finding.update(name=rule.name, title=rule.title, severity=rule.severity)
    findings.sort(key=_most_severe_first)
    omitted = {
        r: n for r, n in folded.get("omitted", {}).items() if r in RULES_BY_ID and r not in config.disabled
    }
    by_severity = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        by_severity[finding["severity"]] += 1
    for rule, count in omitted.items():
        by_severity[RULES_BY_ID[rule].severity] += count
    return {
        "count": sum(by_severity.values()),
        "by_severity": by_severity,
        "findings": findings,
        "omitted": omitted,
        "workflow_ref": folded.get("workflow_ref", ""),
    }


def _kept(finding: Mapping[str, Any], config: FindingsConfig) -> bool:
    if finding.get("rule") not in RULES_BY_ID or finding["rule"] in config.disabled:
        return False
    host = finding.get("host")
    return not (finding["rule"] == "BCN141" and host and is_allowed(host, config.allow_hosts))


def _most_severe_first(finding: Mapping[str, Any]) -> Any:
    return (-SEVERITY_RANK[finding["severity"]], finding["rule"], finding["harness"], finding["subject"])


def budget_findings(
    config: FindingsConfig, totals: Mapping[str, float], usage_events: List[str]
) -> List[Dict[str, Any]]:
    """BCN191 and BCN192, for the whole capture, when it went over --max-cost or --max-tokens."""
    found = []
    cost, tokens = totals.get("cost_usd", 0.0), totals.get("input_tokens", 0) + totals.get("output_tokens", 0)
    if config.max_cost is not None and cost > config.max_cost and "BCN191" not in config.disabled:
        found.append(_budget("BCN191", f"${cost:.4f} spent, budget ${config.max_cost:g}", usage_events))
    if config.max_tokens is not None and tokens > config.max_tokens and "BCN192" not in config.disabled:
        found.append(_budget("BCN192", f"{int(tokens)} tokens, budget {config.max_tokens}", usage_events))
    return found


def _budget(rule: str, detail: str, usage_events: List[str]) -> Dict[str, Any]:
    return {
        "rule": rule,
        "harness": "",
        "subject": "",
        "quote": "",
        "detail": detail,
        "events": list(usage_events),
        "event_count": len(usage_events),
    }


def failing(judged: Mapping[str, Any], fail_on: Optional[str]) -> int:
    """How many findings fail the capture (exit 5): every budget gone over and, with --fail-on,
    each finding at or above that severity (those past the kept bound too)."""

    def fails(rule: str) -> bool:
        return rule in BUDGET_RULES or (fail_on is not None and at_least(RULES_BY_ID[rule].severity, fail_on))

    kept = sum(1 for finding in judged["findings"] if fails(finding["rule"]))
    return kept + sum(n for rule, n in judged["omitted"].items() if fails(rule))
