"""What every export shares: configuration errors, which environment variables are export
credentials (removed from the agent's environment), and messages that never carry a secret.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

UPLOAD_TARGETS = ("s3", "gcs")
FORWARD_TARGETS = ("splunk", "falcon", "otlp")


class ExportError(Exception):
    """A configuration problem (missing bucket or token, bad endpoint, unsupported target),
    found before anything runs. The message is one line and names no secret."""


# The cloud and SIEM credentials an export uses, by target. Everything AWS_* and CLOUDSDK_*
# goes: the AWS and gcloud credential chains read many variables (AWS_PROFILE,
# AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_*, CLOUDSDK_CONFIG, ...), and a
# prefix cannot miss one the way a list did upstream.
_CREDENTIALS_BY_TARGET: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {  # (names, prefixes)
    "s3": ((), ("AWS_",)),
    "gcs": (("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GHA_CREDS_PATH"), ("CLOUDSDK_",)),
    "splunk": (("BEACON_CI_SPLUNK_HEC_TOKEN",), ()),
    "falcon": (("BEACON_CI_FALCON_HEC_TOKEN",), ()),
    "otlp": (("BEACON_CI_OTLP_HEADERS",), ()),
}


def is_export_credential(name: str, targets: Iterable[str] = UPLOAD_TARGETS + FORWARD_TARGETS) -> bool:
    """Is `name` a credential an export to one of `targets` uses (all targets by default)?
    beacon removes these from the agent's environment when an upload or forward is set up."""
    upper = name.upper()
    for target in targets:
        names, prefixes = _CREDENTIALS_BY_TARGET[target]
        if upper in names or upper.startswith(prefixes):
            return True
    return False


MESSAGE_LIMIT = 300


# Which export credentials hold a secret value (AWS_ENDPOINT_URL and AWS_REGION do not, and a
# message that hides the endpoint it could not reach helps no one).
_SECRET_WORDS = ("SECRET", "TOKEN", "KEY", "PASSWORD", "CREDENTIAL", "HEADERS")


def secret_values(environ: Mapping[str, str]) -> List[str]:
    """Values that must never appear in a message: those of secret-holding export credentials,
    longest first (so that a value containing another is replaced whole)."""
    values = {
        value.strip()
        for name, value in environ.items()
        if is_export_credential(name)
        and any(word in name.upper() for word in _SECRET_WORDS)
        and len(value.strip()) >= 4
    }
    return sorted(values, key=len, reverse=True)


def one_line(text: str, secrets: Sequence[str] = ()) -> str:
    """A message fit for a result: secrets replaced, whitespace folded, at most MESSAGE_LIMIT."""
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
