"""Strings: sanitize (valid UTF-8, no terminal control), truncate on a character boundary,
decode escapes, fold case in place, and replace what a rule matched. The limits every part
of protection shares live here too.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Tuple

REDACTED = "[REDACTED]"
TRUNCATED_MARKER = "...[truncated]"
MAX_LINE_BYTES = 65536
LONG_FIELD_BYTES = 4096  # commands, prompts, messages, reasons
FIELD_BYTES = 2048  # every other string, keys included
MIN_SECRET_LENGTH = 8  # shorter exact values would erase ordinary words everywhere


MAX_PASSES = 4  # redaction passes over one string (see Protector._redact)
CACHE_CHARS = 256  # strings this short cannot be truncated, so their result depends on the text only
CACHE_ENTRIES = 8192


# CSI (colours, cursor moves), the string controls (OSC titles and hyperlinks, DCS, SOS, PM, APC)
# with their terminator, and the other two-character escapes. A string control's body stops at
# the next escape, so unterminated ones cost linear time and leave their ESC to _CONTROL_RE.
_ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_C0_C1 = r"\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0, DEL, C1; keeps \t and \n
# The bidirectional controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI) reorder what a terminal or a
# browser shows, so a command in the log or the job summary could read as another.
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL_RE = re.compile(f"[{_C0_C1}{_BIDI}]")
_UNSAFE_RE = re.compile(rf"[{_C0_C1}{_BIDI}\ud800-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def sanitize_text(text: str) -> str:
    """Valid UTF-8 with no terminal control: drop ANSI escapes, C0/C1 controls except \\t and
    \\n, and bidirectional controls, and turn lone surrogates (not encodable as UTF-8) into
    U+FFFD."""
    if not _UNSAFE_RE.search(text):
        return text
    if _SURROGATE_RE.search(text):
        # Through UTF-16: a high+low pair becomes its real character, a lone half becomes U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", text))


_MARKER_BYTES = len(TRUNCATED_MARKER.encode("utf-8"))


def truncate_utf8(text: str, limit: int) -> Tuple[str, bool]:
    """(text, False) when it fits in `limit` UTF-8 bytes, else (cut text + marker, True): at most
    `limit` bytes, cut on a character boundary."""
    if len(text) * 4 <= limit:  # no character is longer than 4 bytes: fits without encoding
        return text, False
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    if limit <= _MARKER_BYTES:
        return data[:limit].decode("utf-8", "ignore"), True
    head = data[: limit - _MARKER_BYTES].decode("utf-8", "ignore")  # drops a split last character
    return _without_partial_marker(head) + TRUNCATED_MARKER, True


def _without_partial_marker(head: str) -> str:
    # A cut through "[REDACTED]" would leave "[REDAC", which a second pass might take for a value.
    for size in range(len(REDACTED) - 1, 0, -1):
        if head.endswith(REDACTED[:size]):
            return head[:-size]
    return head


# \uXXXX, \xXX and \/ escapes (JSON, JavaScript, Python reprs), with any run of backslashes
# before them (an escape in a string escaped again). Starts only at a run's first backslash, and
# with a literal (see the next section).
_ESCAPE_RE = re.compile(r"\\(?<!\\\\)\\*(?:u(?P<u>[0-9a-fA-F]{4})|x(?P<x>[0-9a-fA-F]{2})|/)")


def unescaped(text: str) -> str:
    """`text` with the escapes above decoded (and sanitized again), or `text` itself when it has none."""
    if "\\" not in text:
        return text
    plain = text
    for _ in range(MAX_PASSES):  # \u005c decodes to a backslash, which may start another escape
        decoded = _ESCAPE_RE.sub(_decode_escape, plain)
        if decoded == plain:
            break
        plain = decoded
    return text if plain == text else sanitize_text(plain)


def _decode_escape(match: re.Match[str]) -> str:
    code = match.group("u") or match.group("x")
    return chr(int(code, 16)) if code else "/"


# Python's regex engine tries an alternation at every position, which costs milliseconds on a
# 60 KB tool input. So each rule runs only when a literal hint occurs in the text (a fast
# substring search), patterns start with a literal (the engine then jumps between its
# occurrences), case-insensitive rules search a lowercased copy with lowercase patterns, and no
# pattern can backtrack over a long run ((?=(?P<x>...))(?P=x) is an atomic group): every rule
# stays linear in the length of the text, whatever an agent writes.

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """`text` lowercased, each character at its position (lower() may lengthen a few characters;
    then only ASCII letters are lowered: the patterns are ASCII)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


# --- substitution: replace what a rule matched -------------------------------------------

Replacer = Callable[["re.Match[str]", str], Optional[str]]


def substitute(text: str, haystack: str, pattern: re.Pattern[str], replace: Replacer) -> str:
    """Each match of `pattern` in `haystack` (text or its fold, same positions) replaced in
    `text` by replace(match, text), unless that returns None."""
    pieces: List[str] = []
    done = 0
    for match in pattern.finditer(haystack):
        replacement = replace(match, text)
        if replacement is None:
            continue
        pieces.append(text[done : match.start()])
        pieces.append(replacement)
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def replace_group(match: re.Match[str], text: str, group: str) -> str:
    """The matched text with one group replaced by REDACTED, what surrounds it (label, quotes) kept."""
    return text[match.start() : match.start(group)] + REDACTED + text[match.end(group) : match.end()]


Span = Tuple[int, int]


def replace_spans(text: str, spans: List[Span]) -> str:
    """`text` with each span replaced by REDACTED (a span overlapping an earlier one skipped)."""
    if not spans:
        return text
    pieces: List[str] = []
    done = 0
    for start, end in sorted(spans):
        if start < done or end <= start:
            continue
        pieces.extend((text[done:start], REDACTED))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def password_value(match: re.Match[str], text: str) -> Optional[str]:
    """The match with its "value" group redacted, unless it is already."""
    already = text[match.start("value") : match.end("value")] == REDACTED
    return None if already else replace_group(match, text, "value")
