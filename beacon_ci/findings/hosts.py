"""Network hosts: read from URLs and scp-style destinations, and judged against an allow-list.

The default allow-list is what an agent in CI needs: the forge (GitHub), the model providers
and the package registries. An entry allows the host itself and every name under it
(`npmjs.org` allows `registry.npmjs.org`). Loopback and single-label names (a service container,
`db:5432`) are the job's own and never count as egress; the cloud metadata services are their
own rule (BCN114)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

DEFAULT_ALLOWED_HOSTS: Tuple[str, ...] = (
    # the forge
    "github.com",
    "githubusercontent.com",
    "ghcr.io",
    "githubassets.com",
    # model providers
    "anthropic.com",
    "claude.ai",
    "openai.com",
    "chatgpt.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    "oauth2.googleapis.com",
    # package registries
    "pypi.org",
    "pythonhosted.org",
    "npmjs.org",
    "npmjs.com",
    "yarnpkg.com",
    "jsr.io",
    "deno.land",
    "crates.io",
    "golang.org",
    "go.dev",
    "rubygems.org",
    "maven.org",
    "maven.apache.org",
    "gradle.org",
    "nuget.org",
    "packagist.org",
    "docker.io",
    "docker.com",
    "anaconda.org",
    "anaconda.com",
    "debian.org",
    "ubuntu.com",
    "alpinelinux.org",
    # the toolchains' own downloads
    "nodejs.org",
    "python.org",
    "rust-lang.org",
    "rustup.rs",
    "astral.sh",
    "pnpm.io",
    "bun.sh",
)
METADATA_HOSTS = frozenset(
    {
        "169.254.169.254",  # AWS, Azure, GCP, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "metadata.google.internal",
        "metadata.goog",
    }
)
OWN_HOSTS = frozenset({"localhost", "host.docker.internal", "0.0.0.0"})

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]+", re.IGNORECASE)
_SCP_DESTINATION = re.compile(r"(?:[^@\s/:]+@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?!//)")
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?")


def url_hosts(text: str) -> List[str]:
    """The host of every URL in the text (credentials and ports dropped), lowercase."""
    hosts = []
    for match in _URL.finditer(text):
        host = url_host(match.group(0))
        if host:
            hosts.append(host)
    return hosts


def url_host(url: str) -> str:
    """The host of one URL: lowercase, without credentials (a redacted password too) or port."""
    _, _, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    host = authority[1:].split("]", 1)[0] if authority.startswith("[") else authority.split(":", 1)[0]
    host = host.lower().rstrip(".")
    return host if valid_host(host) else ""


def scp_host(word: str) -> str:
    """The host of an scp-style destination (`user@host:path`, `host:path`), or ""."""
    match = _SCP_DESTINATION.match(word)
    if not match:
        return ""
    host = match.group(1).strip("[]").lower()
    return host if valid_host(host) and ("." in host or ":" in host) else ""


def valid_host(host: str) -> bool:
    return bool(host) and (_ip(host) is not None or bool(_HOSTNAME.fullmatch(host)))


def is_metadata(host: str) -> bool:
    return host in METADATA_HOSTS


def is_own(host: str) -> bool:
    """The job's own machine or network: loopback, unspecified, a single-label service name."""
    if host in OWN_HOSTS or host.endswith(".localhost"):
        return True
    address = _ip(host)
    if address is not None:
        return address.is_loopback or address.is_unspecified
    return "." not in host and host not in METADATA_HOSTS


def is_allowed(host: str, allowed: Iterable[str]) -> bool:
    """The host is an entry of the allow-list or a name under one (`*.x.com` and `x.com` alike)."""
    for entry in allowed:
        entry = entry.lower().lstrip("*").lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


def forge_hosts(environ: Mapping[str, str]) -> List[str]:
    """The hosts of the forge this job runs on (GitHub Enterprise, a GitLab instance)."""
    hosts = []
    for variable in ("GITHUB_SERVER_URL", "GITHUB_API_URL", "CI_SERVER_URL"):
        host = url_host(environ.get(variable, ""))
        if host:
            hosts.append(host)
    return hosts


def normalized_host(text: str) -> Optional[str]:
    """A host as a user writes it in an allow-list (`example.com`, `*.example.com`), or None."""
    host = text.strip().lower()
    bare = host[2:] if host.startswith("*.") else host
    return host if bare and valid_host(bare) else None


def _ip(host: str) -> Optional[Union[IPv4Address, IPv6Address]]:
    import ipaddress  # here: a capture that reaches no host never loads it

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def remote_hosts(hosts: Sequence[str]) -> List[str]:
    """The hosts that are not the job's own, in order, once each."""
    seen: List[str] = []
    for host in hosts:
        if not is_own(host) and host not in seen:
            seen.append(host)
    return seen
