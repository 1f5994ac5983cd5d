"""Secret protection for JSON-like records, standard library only: every string (keys included)
is sanitized, redacted and truncated, and the serialized line is capped (EVENTS.md
"Protection"). Knows nothing of agents, CI or the command line.

    protector = Protector(secret_values_from_env(os.environ, [receiver_token]))
    line_ready = protector.protect_event(event)    # a protected copy; the input is unchanged

Modules, bottom up: text (sanitize, truncate, escapes, substitution), names (which names and
values are secrets), patterns (known token formats), commands (credentials on a command line),
labels (labelled values), rules (their order), structures (decoded JSON and lists), exact
(values from the environment), cap (the line cap), protector (the walk over a record).
"""

from __future__ import annotations

from beacon_protect.exact import secret_values_from_env
from beacon_protect.names import is_secret_name
from beacon_protect.protector import Protector
from beacon_protect.text import (
    FIELD_BYTES,
    LONG_FIELD_BYTES,
    MAX_LINE_BYTES,
    MIN_SECRET_LENGTH,
    REDACTED,
    TRUNCATED_MARKER,
    sanitize_text,
    truncate_utf8,
)

__all__ = [
    "FIELD_BYTES",
    "LONG_FIELD_BYTES",
    "MAX_LINE_BYTES",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "TRUNCATED_MARKER",
    "Protector",
    "is_secret_name",
    "sanitize_text",
    "secret_values_from_env",
    "truncate_utf8",
]
