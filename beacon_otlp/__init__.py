"""The OTLP wire layer of beacon: decoders for OTLP protobuf and OTLP/JSON, and an
OTLP/HTTP receiver. Standard library only; knows nothing about agents or events."""

from __future__ import annotations

from typing import Any, Dict

from .otlp_json import decode_json, encode_json
from .receiver import JSON, PROTOBUF, TOKEN_HEADER, Batch, Receiver, ReceiverStats, count_records
from .shape import MAX_DEPTH, MAX_ELEMENTS, SIGNALS, DecodeError, LimitError, NestingError
from .threads import background_thread
from .wire import decode_protobuf, encode_protobuf

__all__ = [
    "JSON",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "PROTOBUF",
    "SIGNALS",
    "TOKEN_HEADER",
    "Batch",
    "DecodeError",
    "LimitError",
    "NestingError",
    "Receiver",
    "ReceiverStats",
    "background_thread",
    "count_records",
    "decode",
    "decode_json",
    "decode_protobuf",
    "encode_json",
    "encode_protobuf",
]


def decode(signal: str, content_type: str, data: bytes) -> Dict[str, Any]:
    """Decode a request body by its media type (PROTOBUF or JSON)."""
    if content_type == PROTOBUF:
        return decode_protobuf(signal, data)
    if content_type == JSON:
        return decode_json(signal, data)
    raise ValueError(f"unsupported content type {content_type!r}")
