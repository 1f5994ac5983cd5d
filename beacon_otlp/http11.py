"""HTTP/1.1 on one connection, as the receiver needs it: the request head (request line and
header fields), bodies with Content-Length or chunked framing, bounded decompression, and
responses. A small reader of its own rather than http.server's: every malformed request still
gets a well-formed answer from the receiver's contract, and a capture loads neither http.client,
email nor ssl.
"""

from __future__ import annotations

import io
import re
import socket
import time
import zlib
from typing import Any, Dict, Iterator, Optional, Set, Tuple, overload

MiB = 1024 * 1024
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
}
# The request head: a line (request line or header field) and the number of header fields.
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
MAX_EMPTY_LINES = 8
_TOKEN_RE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 5.6.2
_VERSION_RE = re.compile(rb"HTTP/1\.[0-9]")
_DIGITS_RE = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() takes "²" too
_HEX_RE = re.compile(rb"[0-9A-Fa-f]+")  # chunk-size; int(x, 16) takes "0x1f", "+1f", "1_f", " 1f", "-0"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Reject(Exception):
    """Answer the request with an error status; `reason` is what the stats count."""

    def __init__(self, status: int, reason: str, message: str, close: bool = True) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.close = status, reason, message, close


class Drop(Exception):
    """Close the connection without an answer (client gone, or receiver stopped)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Headers:
    """A request's header fields by lower-case name (the first of a repeated field counts)."""

    def __init__(self) -> None:
        self._fields: Dict[str, str] = {}
        self.repeated: Set[str] = set()

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        if key in self._fields:
            self.repeated.add(key)
        else:
            self._fields[key] = value

    @overload
    def get(self, name: str) -> Optional[str]: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self._fields.get(name.lower(), default)

    def items(self) -> Iterator[Tuple[str, str]]:
        return iter(self._fields.items())


class BadRequest(Exception):
    """A request line or header block that is not HTTP/1.1: answered 400, connection closed."""


def read_head(rfile: Any) -> Optional[Tuple[str, str, str, Headers]]:
    """(method, target, version, header fields) of the next request; None when the client closed
    the connection first. BadRequest for a head that is not HTTP/1.1."""
    line = _read_line(rfile)
    for _ in range(MAX_EMPTY_LINES):  # RFC 9112 2.2: empty lines before a request line are ignored
        if line not in (b"\r\n", b"\n"):
            break
        line = _read_line(rfile)
    if not line:
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not _TOKEN_RE.fullmatch(parts[0]) or not parts[1]:
        raise BadRequest("malformed request line")
    if not _VERSION_RE.fullmatch(parts[2]):
        raise BadRequest("unsupported protocol version; use HTTP/1.1")
    method, target, version = (part.decode("latin-1") for part in parts)
    headers = Headers()
    for _ in range(MAX_HEADERS + 1):
        line = _read_line(rfile)
        if line in (b"\r\n", b"\n"):
            return method, target, version, headers
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN_RE.fullmatch(name):  # no obs-fold either (RFC 9112 5.2)
            raise BadRequest("malformed header field")
        headers.add(name.decode("latin-1"), value.strip(b" \t\r\n").decode("latin-1"))
    raise BadRequest(f"more than {MAX_HEADERS} header fields")


def _read_line(rfile: Any) -> bytes:
    line: bytes = rfile.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise BadRequest(f"a request line or header field over {MAX_LINE_BYTES} bytes")
    if line and not line.endswith(b"\n"):
        raise BadRequest("request head ended early")
    return line


class RequestReader(io.RawIOBase):
    """A connection's socket as its handler reads it. Each read waits at most the read timeout,
    and all the reads of one request (request line, headers and body) end by its deadline,
    counted from its first byte: a client trickling bytes holds a thread no longer than that,
    and no number of such clients holds the connection slots for good."""

    def __init__(self, sock: socket.socket, read_timeout: float, request_deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._read_timeout, self._request_deadline = read_timeout, request_deadline
        self._socket_timeout = sock.gettimeout()
        self._deadline: Optional[float] = None  # set by the first byte of a request
        # Until the connection shows the token, when its request head must have been read
        # (monotonic; set and cleared by the receiver).
        self.head_deadline: Optional[float] = None
        self.timed_out = False  # a read of the current request timed out

    def readable(self) -> bool:
        return True

    def start_request(self) -> None:
        """The next byte read begins a new request: waiting for it is idle time, not the request's."""
        self._deadline = None
        self.timed_out = False

    def readinto(self, buffer: Any) -> int:
        timeout = self._read_timeout
        for deadline in (self._deadline, self.head_deadline):
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
        try:
            if timeout <= 0:
                raise socket.timeout("request deadline passed")
            if timeout != self._socket_timeout:  # the usual case sets nothing
                self._sock.settimeout(timeout)
                self._socket_timeout = timeout
            n = self._sock.recv_into(buffer)
        except socket.timeout:
            self.timed_out = self._deadline is not None
            raise
        if n and self._deadline is None:
            self._deadline = time.monotonic() + self._request_deadline
        return n


def declared_length(headers: Headers) -> Optional[int]:
    """The body length Content-Length declares: None when Transfer-Encoding frames the body, 0
    when neither is sent. A repeated framing field, both of them, or a length that is not ASCII
    digits, is bad framing: a body that could be read two ways is not guessed at (request
    smuggling; RFC 9112 6.3 lets a server refuse Content-Length with Transfer-Encoding)."""
    if headers.repeated & {"content-length", "transfer-encoding"}:
        raise Reject(400, "bad_framing", "a repeated Content-Length or Transfer-Encoding")
    if headers.get("Transfer-Encoding"):
        if headers.get("Content-Length") is not None:
            raise Reject(400, "bad_framing", "both Content-Length and Transfer-Encoding")
        return None
    # Its optional whitespace (space, tab) is gone already; str.strip() would take "\x0b" and "\xa0" too.
    length = headers.get("Content-Length", "0")
    if not _DIGITS_RE.fullmatch(length):
        raise Reject(400, "bad_framing", "invalid Content-Length")
    # int() refuses over 4300 digits, leading zeros included; past 18 a length is past any limit.
    digits = length.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else 10**18


def read_body(handler: Any, limit: int) -> bytes:
    rfile = handler.rfile
    # Not strip() again: its optional whitespace is gone, and "\x0bchunked" is not chunked.
    encoding = handler.headers.get("Transfer-Encoding", "").lower()
    try:
        if encoding and handler.request_version == "HTTP/1.0":  # faulty framing (RFC 9112 6.1)
            raise Reject(400, "bad_framing", "Transfer-Encoding in an HTTP/1.0 request")
        if encoding == "chunked":
            return _read_chunked(rfile, limit)
        if encoding:
            raise Reject(400, "bad_framing", f"unsupported Transfer-Encoding {encoding[:32]!r}")
        return _read_exactly(rfile, declared_length(handler.headers) or 0)
    except (socket.timeout, TimeoutError):
        raise Drop("timeout") from None
    except (ConnectionError, OSError):
        raise Drop("disconnected") from None


def _read_exactly(rfile: Any, n: int) -> bytes:
    """Read n bytes as they arrive: a declared length costs no memory before its bytes do."""
    parts = []
    while n > 0:
        part = rfile.read1(min(n, 1 * MiB))
        if not part:
            raise Drop("disconnected")
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _read_chunked(rfile: Any, limit: int) -> bytes:
    body = bytearray()
    while True:
        line = rfile.readline(1024)
        if not line:
            raise Drop("disconnected")
        if not line.endswith(b"\n"):
            raise Reject(400, "bad_framing", "malformed chunk size line")
        digits = line.split(b";", 1)[0].rstrip(b" \t\r\n")  # whitespace may precede ";" (RFC 9112 7.1.1)
        if not _HEX_RE.fullmatch(digits):
            raise Reject(400, "bad_framing", "malformed chunk size line")
        size = int(digits, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise Reject(413, "too_large", f"body larger than {limit} bytes")
        body += _read_exactly(rfile, size)
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise Reject(400, "bad_framing", "chunk not followed by CRLF")
    for _ in range(64):  # trailer fields, ignored
        line = rfile.readline(8192)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise Reject(400, "bad_framing", "too many trailer lines")


# Deflate's densest output: 1032 bytes from one compressed byte (zlib's technical notes). A body
# this much smaller than the limit cannot inflate past it.
_MAX_DEFLATE_RATIO = 1032
_INFLATE_CHUNK = 256 * 1024


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress a body of at most `limit` bytes once inflated. A body that could inflate
    further (a gzip bomb) is first inflated without keeping its output, chunk by chunk, and
    refused before any of it is held: a bomb costs a chunk of memory, not the limit."""
    encoding = encoding.strip(" \t").lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise Reject(413, "too_large", f"body larger than {limit} bytes", close=False)
        return body
    if len(body) * _MAX_DEFLATE_RATIO > limit:
        for _ in _inflated_chunks(body, encoding, limit):
            pass
    return b"".join(_inflated_chunks(body, encoding, limit))


def _inflated_chunks(body: bytes, encoding: str, limit: int) -> Iterator[bytes]:
    """The inflated body in chunks; Reject when it is not valid or grows past `limit`. Several
    gzip members may follow one another in one body."""
    total, data = 0, body
    while True:
        inflater = zlib.decompressobj(WBITS[encoding])
        while not inflater.eof:
            try:
                chunk = inflater.decompress(data, _INFLATE_CHUNK)
            except zlib.error as exc:
                raise Reject(400, "bad_compression", f"invalid {encoding} data: {exc}", close=False) from None
            total += len(chunk)
            if total > limit:
                raise Reject(413, "too_large", f"decompressed body larger than {limit} bytes", close=False)
            data = inflater.unconsumed_tail
            if not chunk and not data and not inflater.eof:  # all read, nothing pending, no end
                raise Reject(400, "bad_compression", f"truncated {encoding} data", close=False)
            yield chunk
        data = inflater.unused_data
        if not data:
            return


def send(handler: Any, status: int, content_type: str, body: bytes, close: bool) -> None:
    """One HTTP/1.1 response, head and body in a single sendall."""
    head = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        "Server: beacon",
        f"Date: {http_date(time.time())}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    if status == 405:
        head.append("Allow: POST")
    if close:
        head.append("Connection: close")
        handler.close_connection = True
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    try:
        handler.request.sendall(data if handler.command == "HEAD" else data + body)
    except OSError:
        handler.close_connection = True


def http_date(seconds: float) -> str:
    """An IMF-fixdate (RFC 9110 5.6.7), whatever the process's locale."""
    t = time.gmtime(seconds)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
