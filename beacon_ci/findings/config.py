"""What a user says about findings: rules turned off, hosts the agent may reach, budgets. Read
and checked before anything runs; a file that cannot be used is a usage error (exit 2).

    {"disable": ["BCN155", "BCN153"], "allow_hosts": ["docs.python.org", "*.example.com"]}
"""

from __future__ import annotations

import json
from typing import Any, FrozenSet, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from beacon_ci.errors import UsageError
from beacon_ci.findings.hosts import forge_hosts, normalized_host
from beacon_ci.findings.rules import RULES_BY_ID

FINDINGS_CONFIG_VARIABLE = "BEACON_CI_FINDINGS_CONFIG"
CONFIG_FIELDS = ("disable", "allow_hosts")


class FindingsConfig(NamedTuple):
    disabled: FrozenSet[str] = frozenset()
    allow_hosts: Tuple[str, ...] = ()  # beyond the default allow-list (hosts.py)
    max_cost: Optional[float] = None  # USD per capture
    max_tokens: Optional[int] = None  # input plus output tokens per capture


NO_FINDINGS_CONFIG = FindingsConfig()  # every rule, the default allow-list, no budgets


def findings_config(
    environ: Mapping[str, str],
    path: Optional[str] = None,
    allow_hosts: Sequence[str] = (),
    max_cost: Optional[float] = None,
    max_tokens: Optional[int] = None,
) -> FindingsConfig:
    """The configuration from the file (--findings-config, else BEACON_CI_FINDINGS_CONFIG), the
    --allow-host flags, the forge this job runs on, and the budgets."""
    path = path or environ.get(FINDINGS_CONFIG_VARIABLE) or None
    document = _read(path) if path else {}
    where = f"findings config {path}" if path else ""
    disabled = _rule_ids(document.get("disable", []), where)
    hosts = _hosts(document.get("allow_hosts", []), f"{where}: allow_hosts") + _hosts(
        list(allow_hosts), "--allow-host"
    )
    return FindingsConfig(frozenset(disabled), tuple(hosts + forge_hosts(environ)), max_cost, max_tokens)


def _read(path: str) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read the findings config {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"findings config {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"findings config {path} must be a JSON object")
    unknown = sorted(set(document) - set(CONFIG_FIELDS))
    if unknown:
        raise UsageError(
            f"findings config {path}: unknown field {unknown[0]!r} (known: {', '.join(CONFIG_FIELDS)})"
        )
    return document


def _rule_ids(value: Any, where: str) -> List[str]:
    _list_of_text(value, f"{where}: disable")
    for index, rule in enumerate(value):
        if rule not in RULES_BY_ID:
            raise UsageError(f"{where}: disable[{index}] {rule!r} is not a rule id (BCN101 … BCN192)")
    return list(value)


def _hosts(value: Any, where: str) -> List[str]:
    _list_of_text(value, where)
    hosts = []
    for text in value:
        host = normalized_host(text)
        if host is None:
            raise UsageError(f"{where}: {text!r} is not a host name or address (example.com, *.example.com)")
        hosts.append(host)
    return hosts


def _list_of_text(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UsageError(f"{where} must be a list of strings")
