"""What every part of the OTLP wire layer shares without loading the decoders: the signals,
the limits on a hostile body, and the decode errors. The receiver needs these at start; the
decoders (wire.py, otlp_json.py and their tables) load with the first request."""

from __future__ import annotations

SIGNALS = ("logs", "traces", "metrics")

# Limits that keep a hostile body from costing unbounded time, stack or memory.
MAX_DEPTH = 64  # nested messages, AnyValue arrays and kvlists included
MAX_ELEMENTS = 500_000  # decoded messages and values per request


class DecodeError(ValueError):
    """The body is not a valid OTLP export request."""


class LimitError(DecodeError):
    """The body is well formed so far but decodes to more than the limits allow (a size)."""


class NestingError(DecodeError):
    """The body nests messages or values deeper than MAX_DEPTH: not a size, but data no OTLP
    exporter sends (the reference parsers have a depth limit too)."""
