"""The OTLP wire layer of beacon: decoders for OTLP protobuf and OTLP/JSON, and an
OTLP/HTTP receiver. Standard library only; knows nothing about agents or events."""

from __future__ import annotations

from typing import Any, Dict

from .limits import MAX_DEPTH, MAX_ELEMENTS, SIGNALS, DecodeError, LimitError, NestingError
from .receiver import JSON, PROTOBUF, TOKEN_HEADER, Batch, Receiver, ReceiverStats, count_records, decode_body
from .threads import background_thread

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
    if content_type not in (PROTOBUF, JSON):
        raise ValueError(f"unsupported content type {content_type!r}")
    return decode_body(signal, content_type, data)


# The codecs load when first used (receiver.decode_body): the receiver starts without them.
def decode_protobuf(signal: str, data: bytes) -> Dict[str, Any]:
    from .wire import decode_protobuf

    return decode_protobuf(signal, data)


def encode_protobuf(signal: str, request: Dict[str, Any]) -> bytes:
    from .wire import encode_protobuf

    return encode_protobuf(signal, request)


def decode_json(signal: str, data: bytes) -> Dict[str, Any]:
    from .otlp_json import decode_json

    return decode_json(signal, data)


def encode_json(signal: str, request: Dict[str, Any]) -> bytes:
    from .otlp_json import encode_json

    return encode_json(signal, request)
