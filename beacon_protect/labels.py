"""Labelled values: the value after a secret name in assignments, headers, flags, YAML block
scalars and name/value pairs, with the label kept.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from beacon_protect.names import (
    LABEL_WORDS,
    is_flag_name,
    is_secret_name,
    is_secret_value,
    is_weak_secret_name,
    looks_like_credential,
    looks_random,
)
from beacon_protect.text import REDACTED, fold

# A label word, then the rest of the name it is part of, then this: label [quote] separator
# [scheme] value. Separators: = : := => (not == or ::), with spaces (no-break ones included)
# around them, or spaces after a --flag, or a tab (a column of `name<TAB>value`). Values:
# \"escaped\" (JSON inside a string), "double", 'single', `backtick` quoted (all words, to the
# closing quote or the end of the line), or bare up to a space, quote, comma, ';' or '&' ('='
# included: base64 padding). An Authorization scheme word is kept.
# The words a label holds (names.py's, and "code" of ?code=, a weak name); whether the whole
# name it is part of is a secret's, names.py judges.
_LABEL_WORDS = (*LABEL_WORDS, "code")
_LABEL_RE = re.compile("|".join(_LABEL_WORDS))
# What sends a string to this rule: a label word, the shortest ones only before a separator
# (file_path holds no PAT, otel_signal no sig).
_SHORT_WORDS = ("pw", "pat", "sig", "psk", "code")
LABEL_KEYWORDS = (
    *(word for word in _LABEL_WORDS if word not in _SHORT_WORDS),
    "pwd",
    *(word + after for word in _SHORT_WORDS for after in ("=", ":", " ", "\t", '"', "'", "\\", "_")),
)
_NAME_REST_RE = re.compile(r"[a-z0-9_.\-]*")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_AUTH_SCHEMES = r"(?:bearer|basic|token|digest|negotiate|bot|ssws|apikey|api-key|key|sharedkey|hmac)"
_SPACE = "[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]"  # horizontal whitespace
# `==x` (terraform -var="name==x") is an assignment of "=x"; `== x` is a comparison.
_SEPARATOR = _SPACE + r"*(?::=|=>|=(?![=~])|=(?==[^=\s])|:(?![:=]))" + _SPACE + "*"
_QUOTED_VALUE = (
    r"\\\"(?P<v1>(?:(?!\\\").)*)(?:\\\")?"
    r"|\"(?P<v2>(?:[^\"\\\n]|\\.)*)\"?"
    r"|'(?P<v3>(?:[^'\\\n]|\\.)*)'?"
)
_QUOTED_GROUPS = ("v1", "v2", "v3")
_ASSIGNMENT_RE = re.compile(
    r"(?:\\?[\"'`])?\]?"
    r"(?:" + _SEPARATOR + r"|(?P<space>" + _SPACE + r"+)(?=[^\s\-]))"
    r"(?P<scheme>" + _AUTH_SCHEMES + r"[ \t]+(?=\S))?"
    r"(?:" + _QUOTED_VALUE + r"|`(?P<v4>[^`\n]*)`?"
    r"|(?!" + _AUTH_SCHEMES + r"[ \t]+\S)"
    r"(?P<v5>[^\s\"'`,;&{\[(<)\]}>\\](?:[^\s\"'`,;&\\]|\\(?![nrt\"'`\\]))*))"
)
_VALUE_GROUPS = ("v1", "v2", "v3", "v4", "v5")
_MEMBER_VALUE_RE = re.compile(r"[:=][ \t]*(?:\"([^\"]*)\"|'([^']*)'|([^\s,}]+))")
_OBJECT_VALUE_RE = re.compile(r"(?:\\?[\"'])?" + _SEPARATOR + r"(?P<object>\{[^{}]{1,1024}\})")
# A YAML block scalar after the label (`password: |`): its value is the lines indented below.
_BLOCK_HEADER_RE = re.compile(
    r"(?:[\"'])?" + _SPACE + r"*:" + _SPACE + r"*[|>][1-9]?[+\-]?[1-9]?(?=[ \t]*(?:#[^\n]*)?\r?\n)"
)
# A secret name as the value of a name (or key) field, its value in the value field that follows
# on the same line or the next: Kubernetes `- name: DB_PASSWORD` / `  value: x`, HAR headers, logfmt.
_PAIR_NAME_FIELD_RE = re.compile(
    r"(?:^|[\s{,(\[])(?:-[ \t]+)?\\?[\"']?(?:name|key)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?\Z", re.MULTILINE
)
_PAIR_VALUE_FIELD_RE = re.compile(
    r"\\?[\"']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*(?:-[ \t]+)?)?\\?[\"']?(?P<key>value)(?=\\?[\"']?[ \t]*[:=])"
)
# A quoted secret name opening a [name, value] pair in a list: [["X-Api-Key", "x"]], [('a', 'b')].
_LISTED_PAIR_OPEN_RE = re.compile(r"(?:[\[(,][ \t]*[\[(]|\w\()[ \t]*\\?[\"']\Z")
_LISTED_PAIR_RE = re.compile(r"\\?[\"'][ \t]*,[ \t]*(?:" + _QUOTED_VALUE + ")")
_PAIR_NAME_WINDOW = 24  # characters before the name in which its field's name (or list) must be


def _label_starts(low: str) -> List[int]:
    starts = set()
    for word in _LABEL_WORDS:
        at = low.find(word)
        while at >= 0:
            starts.add(at)
            at = low.find(word, at + 1)
    return sorted(starts)


def redact_labelled(text: str) -> str:
    """Replace the values of secret-labelled assignments, headers, flags, YAML block scalars and
    name/value pairs, labels kept; and the other occurrences in the text of those values that look
    like credentials (not words: `token=function` must not erase every "function")."""
    low = fold(text)
    pieces: List[str] = []
    found: List[str] = []
    done = pos = 0
    for start in _label_starts(low):
        label = _LABEL_RE.match(low, start) if start >= pos else None
        if label is None:
            continue
        rest = _NAME_REST_RE.match(low, label.end())
        name_end = rest.end() if rest else label.end()
        pos = name_end  # later label words in this name make the same name: judged once
        name_start = _name_start(text, start, done)
        if text[name_start - 1 : name_start] == " " and not is_secret_name(text[name_start:name_end]):
            two_words = _name_start(text, name_start - 1, done)  # "access key: x", "API key = x"
            if two_words < name_start - 1 and is_secret_name(text[two_words:name_end]):
                name_start = two_words
        if _in_arn(low, name_start):
            continue  # arn:aws:secretsmanager:...:secret:name names a secret, it is none
        span = _labelled_value(text, low, name_start, name_end)
        if span is None:
            continue  # pos is past the name only: the value may itself hold a labelled secret
        value = text[span[0] : span[1]]
        pieces.extend((text[done : span[0]], REDACTED))
        done = pos = span[1]
        if looks_like_credential(value):
            found.append(value)
    if not pieces:
        return text
    pieces.append(text[done:])
    redacted = "".join(pieces)
    for value in sorted(set(found), key=lambda value: (-len(value), value)):  # longest first, each once
        redacted = redacted.replace(value, REDACTED)
    return redacted


def _in_arn(low: str, name_start: int) -> bool:
    if low[name_start - 1 : name_start] != ":":
        return False
    word_start = max(low.rfind(boundary, 0, name_start) for boundary in " \t\n'\"`=(")
    return low.startswith("arn:", word_start + 1)


def _name_start(text: str, start: int, done: int) -> int:
    """Where the name that text[start] is part of begins (csrf_token, AWS_SECRET_...)."""
    while start > done and text[start - 1] in _NAME_CHARS:
        start -= 1
    return start


def _labelled_value(text: str, low: str, name_start: int, name_end: int) -> Optional[Tuple[int, int]]:
    """Where the secret value of the name text[name_start:name_end] is, if it names one: after
    the name, or, the name being a name field's value, after the value field that follows."""
    name = text[name_start:name_end]
    weak = False
    if not is_secret_name(name):
        if not is_weak_secret_name(name):
            return None
        weak = True  # key = ..., ?code=...: a secret only if the value reads as random
    span = _value_after(text, low, name_start, name_end, is_flag_name(name))
    if span is None:
        span = _paired_value(text, low, name_start, name_end)
    if span is None or not is_secret_value(text[span[0] : span[1]]):
        return None
    return span if not weak or looks_random(text[span[0] : span[1]]) else None


def _paired_value(text: str, low: str, name_start: int, name_end: int) -> Optional[Tuple[int, int]]:
    """The value paired with a name that is itself a value: the value field after the name field
    holding it (`- name: DB_PASSWORD` / `  value: x`, `"name": "X-Api-Key", "value": "x"`), or the
    second item of a [name, value] pair in a list (`[("X-Api-Key", "x")]`)."""
    window = max(low.rfind("\n", 0, name_start) + 1, name_start - _PAIR_NAME_WINDOW)
    field = _PAIR_VALUE_FIELD_RE.match(low, name_end)
    if field is not None and _PAIR_NAME_FIELD_RE.search(low, window, name_start):
        return _value_after(text, low, field.start("key"), field.end("key"), False)
    pair = _LISTED_PAIR_RE.match(low, name_end)
    if pair is not None and _LISTED_PAIR_OPEN_RE.search(low, window, name_start):
        group = next(group for group in _QUOTED_GROUPS if pair.start(group) >= 0)
        return pair.start(group), pair.end(group)
    return None


def _value_after(text: str, low: str, key_start: int, key_end: int, flag: bool) -> Optional[Tuple[int, int]]:
    """The span of the value assigned to the key text[key_start:key_end]: a block scalar's lines,
    or what _ASSIGNMENT_RE finds (space-separated only after a --flag or with a tab)."""
    block = _BLOCK_HEADER_RE.match(low, key_end)
    if block is not None:
        return _block_scalar(text, key_start, block.end())
    braces = _OBJECT_VALUE_RE.match(low, key_end)
    if braces is not None:  # "github-oauth": {"github.com": "..."}: the object, whole, if it holds one
        inner = text[braces.start("object") + 1 : braces.end("object") - 1]
        values = (next(value for value in found if value) for found in _MEMBER_VALUE_RE.findall(inner))
        if any(is_secret_value(value) for value in values):
            return braces.start("object"), braces.end("object")
        return None
    match = _ASSIGNMENT_RE.match(low, key_end)
    if match is None:
        return None
    space = match.group("space")
    if space is not None and not flag and "\t" not in space:  # "--token v", not prose "token v"
        return None
    group = next(group for group in _VALUE_GROUPS if match.start(group) >= 0)
    opening = text[key_start - 1 : key_start]
    if group in ("v2", "v3") and opening in ("'", '"') and text[match.start(group) - 1] == opening:
        if text[key_end : key_end + 1] != opening:  # in "Password: " the quote closes the string
            return None
    if match.group("scheme") and not looks_like_credential(text[match.start(group) : match.end(group)]):
        return None  # "auth: token refreshed" is a log line, "Authorization: Token x9..." a header
    return match.start(group), match.end(group)


def _block_scalar(text: str, key_start: int, header_end: int) -> Optional[Tuple[int, int]]:
    """The content of the YAML block scalar whose header ends at header_end: from its first
    non-blank character to the end of its last line indented deeper than the key's line (its
    "- " list markers included); None if empty."""
    before_key = text[text.rfind("\n", 0, key_start) + 1 : key_start]
    column = len(before_key) - len(before_key.lstrip(" \t-"))
    line_start = text.find("\n", header_end) + 1
    first = end = -1
    while 0 < line_start < len(text):
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[line_start:line_end]
        content = line.lstrip(" \t")
        if content.strip():  # blank lines neither end the block nor belong to it
            indent = len(line) - len(content)
            if indent <= column:
                break
            first = line_start + indent if first < 0 else first
            end = line_start + len(line.rstrip())
        line_start = line_end + 1
    return (first, end) if first >= 0 else None
