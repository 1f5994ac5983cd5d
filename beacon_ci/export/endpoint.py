"""Where a forward goes: the checked endpoint (https, or http only to loopback), the token or
OTLP headers from the environment only, kept out of every message, and the trusted
certificates. plan_forward checks it all before anything runs.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import TYPE_CHECKING, Dict, List, Mapping, NamedTuple, Optional

from beacon_ci.export.bodies import HEC_WIRE, OTLP_WIRE, Wire
from beacon_ci.export.common import FORWARD_TARGETS, ExportError

if TYPE_CHECKING:
    import ssl

HEC_PATH = "/services/collector/event"
OTLP_LOGS_PATH = "/v1/logs"
_TOKEN_VARIABLES = {"splunk": "BEACON_CI_SPLUNK_HEC_TOKEN", "falcon": "BEACON_CI_FALCON_HEC_TOKEN"}
_ENDPOINT_VARIABLES = {
    "splunk": "BEACON_CI_SPLUNK_HEC_ENDPOINT",
    "falcon": "BEACON_CI_FALCON_HEC_ENDPOINT",
    "otlp": "BEACON_CI_OTLP_ENDPOINT",
}
OTLP_HEADERS_VARIABLE = "BEACON_CI_OTLP_HEADERS"
_AUTH_SCHEMES = {"splunk": "Splunk", "falcon": "Bearer"}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


class Endpoint(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str  # with the query string, as sent

    @property
    def display(self) -> str:
        """The endpoint as results and messages show it: no query string (it may hold a key)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path.split('?', 1)[0]}"


def parse_endpoint(url: str, default_path: str, source: str) -> Endpoint:
    """Check a forward endpoint and complete its path. `source` names where it came from, for
    the error. Plain http:// only to loopback: the token and the events would cross the network
    in the clear."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ExportError(f"{source} must be an http(s):// URL with a host")
    if parts.username or parts.password:
        raise ExportError(f"{source} must not carry credentials; tokens come from the environment only")
    host = parts.hostname
    if scheme == "http" and not _is_loopback(host):
        raise ExportError(
            f"{source} uses plain http:// to {host}: events and token would cross unencrypted; "
            "use https:// (http:// is accepted only for loopback)"
        )
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ExportError(f"{source} has an invalid port") from None
    path = parts.path.rstrip("/")
    if default_path == OTLP_LOGS_PATH:  # OTEL_EXPORTER_OTLP_ENDPOINT's rule: a base gets /v1/logs
        path = path if path.endswith(OTLP_LOGS_PATH) else path + OTLP_LOGS_PATH
    elif not path:
        path = default_path
    return Endpoint(scheme, host, port, path + (f"?{parts.query}" if parts.query else ""))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_otlp_headers(text: str) -> Dict[str, str]:
    """`k=v,k2=v2` as OTEL_EXPORTER_OTLP_HEADERS has it: values URL-decoded. Errors name the
    entry's position, never its value."""
    headers: Dict[str, str] = {}
    for number, entry in enumerate(text.split(","), 1):
        if not entry.strip():
            continue
        name, equals, value = entry.partition("=")
        name, value = name.strip(), urllib.parse.unquote(value.strip())
        if not equals or not _HEADER_NAME.fullmatch(name):
            raise ExportError(f"{OTLP_HEADERS_VARIABLE}: entry {number} is not name=value")
        if "\r" in value or "\n" in value:
            raise ExportError(f"{OTLP_HEADERS_VARIABLE}: the value of {name} holds a line break")
        headers[name] = value
    return headers


def _tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """The system trust store, or SSL_CERT_FILE / SSL_CERT_DIR from `environ` in its place (as
    OpenSSL reads them from the process environment). ssl is imported here: only an https
    endpoint needs it."""
    import ssl

    cafile, capath = environ.get("SSL_CERT_FILE") or None, environ.get("SSL_CERT_DIR") or None
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise ExportError(f"cannot load trusted certificates (SSL_CERT_FILE, SSL_CERT_DIR): {exc}") from None


class _Headers:
    """The user's request headers (the token, the OTLP headers): secret, so nothing prints them
    (repr, str, vars of the forwarder), and messages never quote them."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def items(self) -> Dict[str, str]:
        return dict(self._values)

    def secrets(self) -> List[str]:
        """Each value, and the credential after an auth scheme ("Splunk <token>"), longest first."""
        found = set()
        for value in self._values.values():
            found.add(value)
            found.add(value.partition(" ")[2])
        return sorted((v for v in found if len(v) >= 4), key=len, reverse=True)

    def __repr__(self) -> str:
        return f"<{len(self._values)} headers, values hidden>"


class ForwardPlan(NamedTuple):
    """A checked forward configuration, with no thread yet: what `ci start` checks before the
    detached receiver (which runs the forwarder) is started."""

    target: str
    endpoint: Endpoint
    headers: _Headers  # the token or the OTLP headers, hidden
    wire: Wire
    tls: Optional[ssl.SSLContext]  # for https

    def to_json(self) -> Dict[str, str]:
        return {"target": self.target, "endpoint": self.endpoint.display}


def plan_forward(target: str, endpoint: Optional[str], environ: Mapping[str, str]) -> ForwardPlan:
    """Check `--forward target` (`--forward-endpoint endpoint`): ExportError for anything
    misconfigured: unsupported target, no endpoint, no token, a plain http:// endpoint off
    loopback, unreadable trusted certificates, malformed OTLP headers.

    Endpoints: the argument, else BEACON_CI_SPLUNK_HEC_ENDPOINT / BEACON_CI_FALCON_HEC_ENDPOINT /
    BEACON_CI_OTLP_ENDPOINT. An HEC URL without a path gets /services/collector/event; an OTLP
    URL gets /v1/logs appended unless it ends with it. Tokens only from the environment:
    BEACON_CI_SPLUNK_HEC_TOKEN, BEACON_CI_FALCON_HEC_TOKEN; OTLP headers from
    BEACON_CI_OTLP_HEADERS."""
    target = target.strip().lower()
    if target not in FORWARD_TARGETS:
        raise ExportError(f"unsupported --forward {target!r}; use {', '.join(FORWARD_TARGETS)}")
    variable = _ENDPOINT_VARIABLES[target]
    url, source = (
        (endpoint.strip(), "--forward-endpoint")
        if endpoint and endpoint.strip()
        else (environ.get(variable, "").strip(), variable)
    )
    if not url:
        raise ExportError(f"--forward {target} needs an endpoint: pass --forward-endpoint or set {variable}")
    if target == "otlp":
        parsed = parse_endpoint(url, OTLP_LOGS_PATH, source)
        headers, wire = parse_otlp_headers(environ.get(OTLP_HEADERS_VARIABLE, "")), OTLP_WIRE
    else:
        token_variable = _TOKEN_VARIABLES[target]
        token = environ.get(token_variable, "").strip()
        if not token:
            raise ExportError(
                f"--forward {target} needs the HEC token in {token_variable} "
                "(tokens are not accepted as flags)"
            )
        if "\r" in token or "\n" in token:
            raise ExportError(f"{token_variable} holds a line break")
        parsed = parse_endpoint(url, HEC_PATH, source)
        headers, wire = {"Authorization": f"{_AUTH_SCHEMES[target]} {token}"}, HEC_WIRE
    tls = _tls_context(environ) if parsed.scheme == "https" else None
    return ForwardPlan(target, parsed, _Headers(headers), wire, tls)
