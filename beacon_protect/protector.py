"""The Protector: walks a record and sends every string, keys included, through sanitize ->
redact -> truncate, then caps the line.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from beacon_protect.cap import fit_line
from beacon_protect.custom import CustomRules
from beacon_protect.exact import exact_forms
from beacon_protect.names import (
    COLLISION_SUFFIX_RE,
    is_secret_name,
    is_secret_payload,
    is_weak_secret_name,
    looks_random,
)
from beacon_protect.rules import rule_set
from beacon_protect.structures import JsonTooDeep, redact_list, redact_object, unique_key, unique_pairs
from beacon_protect.text import (
    CACHE_CHARS,
    CACHE_ENTRIES,
    FIELD_BYTES,
    LONG_FIELD_BYTES,
    MAX_LINE_BYTES,
    MAX_PASSES,
    MIN_SECRET_LENGTH,
    REDACTED,
    TRUNCATED_MARKER,
    sanitize_text,
    truncate_utf8,
    unescaped,
)

# A string field is a "long" one when the last component of its key is one of these: message,
# prompt.text, command.command, tool.command, approval.reason, and the same names anywhere else.
LONG_FIELD_NAMES = frozenset({"message", "text", "command", "reason"})


_MAX_EVENT_DEPTH = 64  # deeper structures are cut (and a cycle cannot recurse forever)
_MAX_JSON_DEPTH = 100  # JSON decoded out of a string, redacted by key
# Hex ids, UUIDs, Claude's tool use ids, numbers, timestamps: most strings of an event, and none
# can hold a built-in rule's match (every token format has a letter outside a-f, or a separator).
_PLAIN_ID_RE = re.compile(
    r"[0-9a-f]{1,128}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|toolu_[0-9A-Za-z]{8,40}"
    r"|-?[0-9]{1,32}(?:\.[0-9]{1,32})?|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]{1,18}(?:Z|[+\-][0-9:]{1,6})?"
)
_PLAIN_ID_STARTS = frozenset("0123456789abcdeft-")
_SHORT_INT = 10**20
_PLAIN_ID_CHARS = frozenset("0123456789abcdefTZ:.+- _otlu")
_READ_MARGIN = 65536  # characters read past a field's limit, so a secret across the cut is seen whole


class _Findings:
    """What protecting one event did, and an upper bound of its serialized size."""

    __slots__ = ("bound", "redacted", "truncated")

    def __init__(self) -> None:
        self.redacted = False
        self.truncated = False
        self.bound = 2


class Protector:
    """Sanitizes, redacts, truncates and caps events (EVENTS.md "Protection"), for one capture.

    `secret_values` are replaced wherever they appear as a plain substring (also URL-encoded,
    JSON-escaped, or written with \\u escapes); values shorter than MIN_SECRET_LENGTH are
    ignored. Results for short strings are cached (events repeat most of their keys and values)."""

    def __init__(self, secret_values: Iterable[str] = (), rules: Optional[CustomRules] = None) -> None:
        forms = {
            form
            for value in secret_values
            if len(value) >= MIN_SECRET_LENGTH
            for form in exact_forms(value)
            if len(form) >= MIN_SECRET_LENGTH
        }
        # Longest first: a value that contains another is replaced whole.
        self._exact = sorted(forms, key=lambda form: (-len(form), form))
        self._any_exact = re.compile("|".join(re.escape(form) for form in self._exact)) if forms else None
        self._exact_in_ids = [form for form in self._exact if _PLAIN_ID_CHARS.issuperset(form)]
        self._rules = rule_set(rules)
        self._custom = self._rules.custom
        self._ids_are_plain = not self._custom.patterns  # a user's pattern may match anything
        self._redact_text = self._redact_allowing if self._custom.allow else self._redact_unmarked
        self._strings: Dict[str, Tuple[str, bool]] = {}
        self._keys: Dict[str, Tuple[str, bool, int, bool, int]] = {}
        # id of a shared part -> (the part, protected, size bound, redacted, truncated): see seal()
        self._sealed: Dict[int, Tuple[Dict[str, Any], Dict[str, Any], int, bool, bool]] = {}

    def seal(self, *parts: Dict[str, Any]) -> None:
        """Protect, once, objects that many events share unchanged (beacon's own envelope: the
        host, the capture, the CI run). An event that holds one of these very objects gets its
        protected form by identity instead of protecting it again; nothing an agent sends can
        be one of them. The parts must not change after this."""
        for part in parts:
            findings = _Findings()
            protected = self._protect_mapping(part, findings, 1)
            self._sealed[id(part)] = (part, protected, findings.bound, findings.redacted, findings.truncated)

    # --- one string ---------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """`text` sanitized and redacted (not truncated)."""
        return self._redact_text(sanitize_text(text), 0)

    def protect_text(self, text: str, limit: int = FIELD_BYTES) -> str:
        """`text` sanitized, redacted, then truncated to `limit` bytes."""
        return self._redact_and_cut(sanitize_text(text), limit)[0]

    def _redact_and_cut(self, clean: str, limit: int) -> Tuple[str, bool, bool]:
        """Redacted, then cut to `limit` bytes: (result, whether cut, whether redacted). A cut can
        turn text no rule matched into text one does (a connection string now ending at the cut),
        so what is kept is redacted again until stable: protecting it again must not change it.
        Only the head that can be kept is read, with a margin longer than any secret: a 1 MB tool
        output costs what 68 KB does."""
        if len(clean) > limit + _READ_MARGIN:
            clean = clean[: limit + _READ_MARGIN]
        redacted = self._redact_text(clean, 0)
        found = redacted is not clean and redacted.count(REDACTED) > clean.count(REDACTED)
        result, cut = truncate_utf8(redacted, limit)
        for _ in range(MAX_PASSES):
            if not cut:
                break
            head = result[: -len(TRUNCATED_MARKER)]
            again = self._redact_text(head, 0)
            if again == head:
                break
            found = True
            result = truncate_utf8(again + TRUNCATED_MARKER, limit)[0]
        return result, cut, found

    def _redact_allowing(self, text: str, depth: int) -> str:
        """_redact_unmarked with what the user's allow-list matches set aside."""
        text, kept = self._custom.set_aside(text)
        return self._custom.put_back(self._redact_unmarked(text, depth), kept)

    def _redact_unmarked(self, text: str, depth: int) -> str:
        if text.endswith(TRUNCATED_MARKER):  # a cut's marker is not content: no value runs into it
            core = text
            while core.endswith(TRUNCATED_MARKER):
                core = core[: -len(TRUNCATED_MARKER)]
            return self._redact_unmarked(core, depth) + text[len(core) :]
        redacted = self._redact_as_written(text, depth)
        # An escape can hide a secret from every rule (\u0067hp_...): what the text says once its
        # escapes are decoded is redacted too, and replaces the text when that found more.
        plain = unescaped(redacted)
        if plain is redacted:
            return redacted
        again = self._redact_as_written(plain, depth)
        return redacted if again == plain else again

    def _redact_as_written(self, text: str, depth: int) -> str:
        if self._plain_id(text):
            return text
        hits = self._rules.keywords_in(text)
        if not hits and (self._any_exact is None or self._any_exact.search(text) is None):
            return text
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]") and depth < _MAX_JSON_DEPTH:
            structured = self._redact_json(text, depth)
            if structured is not None:
                return structured

        # Until nothing changes: a replacement can uncover a neighbour (AKIA... glued to AKIA...),
        # and the result must not change when protected again.
        def nested(decoded: str) -> str:  # text found inside this one (a decoded base64 blob)
            return (
                self._redact_text(sanitize_text(decoded), depth + 1) if depth < _MAX_JSON_DEPTH else decoded
            )

        for _ in range(MAX_PASSES):
            exact = self._redact_exact(text)
            if exact != text:  # a replaced value no longer hides what stood next to it
                hits = self._rules.keywords_in(exact)
            redacted = self._rules.redact(exact, hits, nested)
            if redacted == text:
                break
            text = redacted
            hits = self._rules.keywords_in(text)
        return text

    def _plain_id(self, text: str) -> bool:
        """An id, a number or a timestamp holding no exact value: no built-in rule can match it."""
        return (
            self._ids_are_plain
            and text[:1] in _PLAIN_ID_STARTS
            and _PLAIN_ID_RE.fullmatch(text) is not None
            and not any(value in text for value in self._exact_in_ids)  # an exact value that is hex
        )

    def _redact_exact(self, text: str) -> str:
        # Before the patterns: one could replace part of an exact value and hide the rest from it.
        for value in self._exact:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _redact_json(self, text: str, depth: int) -> Optional[str]:
        """A string holding a JSON object or array, redacted by key and value and re-serialized
        compactly; the text itself when nothing changed; None when it is not JSON."""
        try:
            decoded = json.loads(text, object_pairs_hook=unique_pairs)
        except (ValueError, RecursionError):
            return None
        if not isinstance(decoded, (dict, list)):
            return None
        try:
            redacted, changed = self._redact_structure(decoded, depth + 1)
        except (JsonTooDeep, RecursionError):
            return None
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")) if changed else text

    def _redact_structure(self, value: Any, depth: int) -> Tuple[Any, bool]:
        if isinstance(value, str):
            result = self._redact_text(sanitize_text(value), depth)
            return result, result != value
        if depth > _MAX_JSON_DEPTH:
            raise JsonTooDeep()
        if isinstance(value, list):
            items = [self._redact_structure(item, depth + 1) for item in value]
            redacted = [item for item, _ in items]
            return redacted, redact_list(redacted) or any(changed for _, changed in items)
        if isinstance(value, dict):
            return self._redact_object(value, depth)
        return value, False

    def _redact_object(self, value: Dict[str, Any], depth: int) -> Tuple[Dict[str, Any], bool]:
        """A decoded JSON object: the value of a secret-named key replaced whole, the rest redacted."""
        result: Dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            new_key, key_changed = self._redact_structure(key, depth)
            if is_secret_name(new_key) and is_secret_payload(item):
                new_item, item_changed = REDACTED, item != REDACTED
            elif isinstance(item, str) and is_weak_secret_name(new_key) and looks_random(sanitize_text(item)):
                new_item, item_changed = REDACTED, True  # {"Key": "<base64>"}, not {"key": "user_id"}
            else:
                new_item, item_changed = self._redact_structure(item, depth + 1)
            result[unique_key(result, new_key)] = new_item
            changed = changed or key_changed or item_changed
        return result, redact_object(result) or changed

    # --- one event ----------------------------------------------------------------------

    def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """A protected copy of `event` (the input is not changed): every string, keys included,
        sanitized, redacted, truncated; `content.redacted` and `field_truncated` set when that
        happened; the serialized line at most MAX_LINE_BYTES (a minimal event when nothing else fits)."""
        findings = _Findings()
        protected: Dict[str, Any] = self._protect_mapping(event, findings, 0)
        if findings.redacted:
            _mark_redacted(protected)
        if findings.truncated:
            protected["field_truncated"] = True
        if findings.bound + 64 <= MAX_LINE_BYTES:  # cannot be too long: no need to serialize
            return protected
        return fit_line(protected, findings.redacted, self._cut)

    def _cut(self, text: str, limit: int) -> Tuple[str, bool]:
        """A protected string cut shorter, and still stable under protection (see _redact_and_cut)."""
        result, cut, _ = self._redact_and_cut(text, limit)
        return result, cut

    def _protect_mapping(self, mapping: Mapping[Any, Any], findings: _Findings, depth: int) -> Any:
        if depth >= _MAX_EVENT_DEPTH:
            return _cut_too_deep(findings)
        result: Dict[str, Any] = {}
        bound = 2 + 2 * len(mapping)
        keys, strings, sealed = self._keys, self._strings, self._sealed
        renamed = False
        # The hot loop of protection: cached keys and short values are looked up inline.
        for key, value in mapping.items():
            facts = keys.get(key) if type(key) is str else None
            if facts is None:
                facts = self._learn_key(key, findings)
            new_key, secret, limit, key_redacted, key_size = facts
            bound += key_size
            if key_redacted:
                findings.redacted = True
            if secret and is_secret_payload(value):
                findings.redacted = findings.redacted or value != REDACTED
                bound += 12
                value = REDACTED
            elif type(value) is str:
                known = strings.get(value)
                if known is None:
                    value = self._protect_string(value, limit, findings)
                else:
                    value = known[0]
                    bound += 4 * len(value) + 3
                    if known[1]:
                        findings.redacted = True
            elif type(value) is dict:
                part = sealed.get(id(value)) if sealed else None
                if part is not None and part[0] is value:
                    value, bound = part[1], bound + part[2]
                    findings.redacted = findings.redacted or part[3]
                    findings.truncated = findings.truncated or part[4]
                else:
                    value = self._protect_mapping(value, findings, depth + 1)
            elif type(value) is int and -_SHORT_INT < value < _SHORT_INT:
                bound += 21  # at most 20 digits and a sign: no need to format it
            else:
                value = self._protect_value(value, limit, findings, depth)
            if new_key is not key:
                renamed = True
            if renamed and new_key in result:  # keys collide only once protection changed one
                new_key = unique_key(result, new_key)
            result[new_key] = value
        if redact_object(result):
            findings.redacted = True
            bound += len(REDACTED) + 2
        findings.bound += bound
        return result

    def _learn_key(self, key: Any, findings: _Findings) -> Tuple[str, bool, int, bool, int]:
        """A key's facts: protected, whether it names a secret, the byte limit of its string
        values, whether protecting it redacted, its serialized size bound. Cached."""
        name = (
            key
            if isinstance(key, str)
            else json.dumps(key)
            if key is None or isinstance(key, bool)
            else str(key)
        )
        mark = _Findings()
        new_key = self._protect_string(name, FIELD_BYTES, mark)
        # Judged by the protected name, as a second protection will see it.
        facts = (new_key, is_secret_name(new_key), _limit_for(new_key), mark.redacted, 4 * len(new_key) + 3)
        if type(key) is str and len(key) <= CACHE_CHARS:
            if len(self._keys) >= CACHE_ENTRIES:
                self._keys.clear()
            self._keys[key] = facts
        findings.truncated = findings.truncated or mark.truncated
        return facts

    def _protect_value(self, value: Any, limit: int, findings: _Findings, depth: int) -> Any:
        if isinstance(value, str):
            return self._protect_string(value, limit, findings)
        if isinstance(value, dict):
            return self._protect_mapping(value, findings, depth + 1)
        if isinstance(value, (list, tuple, set, frozenset)):
            if depth + 1 >= _MAX_EVENT_DEPTH:
                return _cut_too_deep(findings)
            findings.bound += 2 + len(value)
            items = [self._protect_value(item, limit, findings, depth + 1) for item in value]
            if redact_list(items):
                findings.redacted = True
            return items
        if value is None or isinstance(value, bool):
            findings.bound += 5
            return value
        if isinstance(value, int):
            findings.bound += len(str(value))
            return value
        if isinstance(value, float):
            findings.bound += 32
            # The writer refuses NaN and infinities (not JSON): keep them as words.
            return (
                value
                if math.isfinite(value)
                else "NaN"
                if value != value
                else "Infinity"
                if value > 0
                else "-Infinity"
            )
        if isinstance(value, (bytes, bytearray)):
            return self._protect_string(bytes(value).decode("utf-8", "replace"), limit, findings)
        return self._protect_string(str(value), limit, findings)

    def _protect_string(self, text: str, limit: int, findings: _Findings) -> str:
        known = self._strings.get(text)
        if known is not None:
            result, redacted = known
        else:
            result, truncated, redacted = self._redact_and_cut(sanitize_text(text), limit)
            findings.truncated = findings.truncated or truncated
            if len(text) <= CACHE_CHARS:  # too short to be cut at any limit we use
                if len(self._strings) >= CACHE_ENTRIES:
                    self._strings.clear()
                self._strings[text] = (result, redacted)
        findings.redacted = findings.redacted or redacted
        findings.bound += 4 * len(result) + 3  # UTF-8 and JSON escapes: at most 4 bytes a character
        return result


def _cut_too_deep(findings: _Findings) -> str:
    findings.truncated = True
    findings.bound += 20
    return TRUNCATED_MARKER


def _limit_for(name: str) -> int:
    last = COLLISION_SUFFIX_RE.sub("", name).rsplit(".", 1)[-1].lower()
    return LONG_FIELD_BYTES if last in LONG_FIELD_NAMES else FIELD_BYTES


def _mark_redacted(event: Dict[str, Any]) -> None:
    """content.redacted = true (content is an object; a foreign non-object one is kept inside)."""
    content = event.get("content")
    if isinstance(content, dict):
        content["redacted"] = True
    elif content is None:
        event["content"] = {"redacted": True}
    else:
        event["content"] = {"value": content, "redacted": True}
