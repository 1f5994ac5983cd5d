"""A user's own rules: extra patterns to redact and allow-list entries to keep, from JSON.

    {
      "patterns": [
        {"id": "acme-token", "regex": "acme_[A-Za-z0-9]{32}", "keywords": ["acme_"]},
        {"id": "order-signing-key", "regex": "osk=(?P<secret>[0-9a-f]{40})"}
      ],
      "allow": ["AKIAIOSFODNN7EXAMPLE", "test-fixture-[a-z]+"]
    }

A pattern replaces its group named `secret`, or its whole match; with `keywords` it runs only
where one occurs (case-insensitive), without, on every string. An `allow` entry is a regular
expression: text it matches is never redacted by any rule. Anything else in the file is an error.
"""

from __future__ import annotations

import json
import re
from typing import Any, FrozenSet, List, NamedTuple, Sequence, Tuple

from beacon_protect.text import REDACTED


class RulesError(ValueError):
    """The rules file cannot be used; the message says where and why."""


class CustomPattern(NamedTuple):
    id: str
    pattern: re.Pattern[str]
    keywords: Tuple[str, ...]


# Allowed text is set aside behind a mark no rule reads as a secret (a template placeholder),
# then put back.
_MARK = "<beacon-allowed-{}>"
_MARK_RE = re.compile(r"<beacon-allowed-([0-9]+)>")


class CustomRules:
    def __init__(self, patterns: Sequence[CustomPattern] = (), allow: Sequence[re.Pattern[str]] = ()) -> None:
        self.patterns = tuple(patterns)
        self.allow = tuple(allow)
        self.keywords: FrozenSet[str] = frozenset(
            keyword for rule in self.patterns for keyword in rule.keywords
        )

    def __bool__(self) -> bool:
        return bool(self.patterns or self.allow)

    def redact(self, text: str, hits: FrozenSet[str]) -> str:
        for rule in self.patterns:
            if not rule.keywords or not hits.isdisjoint(rule.keywords):
                text = _replace(rule.pattern, text)
        return text

    def set_aside(self, text: str) -> Tuple[str, List[str]]:
        """`text` with what the allow-list matches replaced by marks, and what each mark stands for."""
        kept: List[str] = []
        for pattern in self.allow:
            text = pattern.sub(lambda match: _mark(kept, match.group()), text)
        return text, kept

    @staticmethod
    def put_back(text: str, kept: List[str]) -> str:
        if not kept:
            return text
        return _MARK_RE.sub(lambda match: _restore(kept, match), text)


def _mark(kept: List[str], value: str) -> str:
    if not value:
        return value
    kept.append(value)
    return _MARK.format(len(kept) - 1)


def _restore(kept: List[str], match: re.Match[str]) -> str:
    index = int(match.group(1))
    return kept[index] if index < len(kept) else match.group()


def _replace(pattern: re.Pattern[str], text: str) -> str:
    group = "secret" if "secret" in pattern.groupindex else 0

    def one(match: re.Match[str]) -> str:
        start, end = match.span(group)
        if start < 0 or end == start:
            return match.group()
        whole = match.group()
        offset = match.start()
        return whole[: start - offset] + REDACTED + whole[end - offset :]

    return pattern.sub(one, text)


def load_rules(path: str) -> CustomRules:
    """The rules in a JSON file; RulesError naming the file and the entry when it is not valid."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise RulesError(f"cannot read redaction rules {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RulesError(f"redaction rules {path} are not valid JSON: {exc}") from None
    try:
        return parse_rules(document)
    except RulesError as exc:
        raise RulesError(f"redaction rules {path}: {exc}") from None


def parse_rules(document: Any) -> CustomRules:
    if not isinstance(document, dict):
        raise RulesError("the top level must be an object with 'patterns' and/or 'allow'")
    unknown = sorted(set(document) - {"patterns", "allow"})
    if unknown:
        raise RulesError(f"unknown field {unknown[0]!r} (expected 'patterns', 'allow')")
    patterns = document.get("patterns", [])
    allow = document.get("allow", [])
    if not isinstance(patterns, list) or not isinstance(allow, list):
        raise RulesError("'patterns' and 'allow' must be lists")
    return CustomRules(
        [_pattern(index, entry) for index, entry in enumerate(patterns)],
        [_compile(entry, f"allow[{index}]") for index, entry in enumerate(allow)],
    )


def _pattern(index: int, entry: Any) -> CustomPattern:
    where = f"patterns[{index}]"
    if not isinstance(entry, dict):
        raise RulesError(f"{where} must be an object with 'regex'")
    unknown = sorted(set(entry) - {"id", "regex", "keywords"})
    if unknown:
        raise RulesError(f"{where}: unknown field {unknown[0]!r} (expected 'id', 'regex', 'keywords')")
    if "regex" not in entry:
        raise RulesError(f"{where} has no 'regex'")
    rule_id = entry.get("id", f"custom-{index + 1}")
    keywords = entry.get("keywords", [])
    if not isinstance(rule_id, str) or not rule_id:
        raise RulesError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(keywords, list) or not all(isinstance(word, str) and word for word in keywords):
        raise RulesError(f"{where}: 'keywords' must be a list of non-empty strings")
    pattern = _compile(entry["regex"], f"{where}.regex")
    return CustomPattern(rule_id, pattern, tuple(word.lower() for word in keywords))


def _compile(source: Any, where: str) -> re.Pattern[str]:
    if not isinstance(source, str) or not source:
        raise RulesError(f"{where} must be a non-empty string (a regular expression)")
    try:
        pattern = re.compile(source)
    except re.error as exc:
        raise RulesError(f"{where} is not a valid regular expression: {exc}") from None
    if pattern.match(""):
        raise RulesError(f"{where} matches the empty string")
    return pattern
