"""File paths that matter: credential stores, private keys and .env files when read; CI
definitions, repository policy and disk devices when written. One table for the paths of file
events (file.read, file.created, file.modified) and for the paths a command reads or writes."""

from __future__ import annotations

import re
from typing import Callable, NamedTuple, Optional, Tuple

# Credential stores: wherever the path holds one of these (a home directory's, root's, any).
# (?![\w.-]) ends a name: the path may stand alone or sit in a longer argument (open('~/.netrc')).
CREDENTIAL_STORE = re.compile(
    r"""(?:^|[/\s'"=:~])(?:
        \.ssh/(?!(?:known_hosts|config|authorized_keys2?|environment|rc)(?:\.\w+)?(?![\w.-]))
              (?![\w.-]+\.pub(?![\w.-]))[\w.-]+
      | \.aws/(?:credentials|sso/cache|cli/cache)
      | \.config/gcloud(?![\w.-])
      | \.docker/config\.json
      | [._]netrc(?![\w.-])
      | \.kube/config(?![\w.-])
      | \.git-credentials(?![\w.-])
      | \.pypirc(?![\w.-])
      | \.vault-token(?![\w.-])
      | \.terraform\.d/credentials\.tfrc\.json
      | \.config/gh/hosts\.ya?ml
      | \.azure/(?:accessTokens\.json|msal_token_cache)
    )
    | /proc/(?:\d+|self|thread-self|\*|\$\$|\$\w+|\$\{\w+\})/environ(?![\w.-])
    | /var/run/secrets/(?:kubernetes\.io|eks\.amazonaws\.com|azure)
    """,
    re.IGNORECASE | re.VERBOSE,
)

_PRIVATE_KEY_SUFFIXES = (".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk")
_PRIVATE_KEY_NAMES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk")
# A .pem file is as often a certificate (public) as a key: these words in its name say certificate.
_CERTIFICATE_WORDS = re.compile(
    r"(?:^|[._-])(?:cert|certs|certificate|crt|ca|cacert|chain|fullchain|pub|public|bundle|root|trust)(?:[._-]|$)",
    re.IGNORECASE,
)
# .env templates hold no secrets (they are committed for that reason).
_ENV_TEMPLATE_WORDS = frozenset(
    {"example", "sample", "template", "tpl", "dist", "default", "defaults", "schema", "test", "tests"}
)

CI_DEFINITION = re.compile(
    r"""(?:^|/)(?:
        \.github/(?:workflows|actions)(?:/.*)?
      | \.gitlab-ci\.ya?ml | \.gitlab/ci(?:/.*)?
      | \.circleci/config\.ya?ml
      | azure-pipelines\.ya?ml | \.azure-pipelines(?:/.*)?
      | bitbucket-pipelines\.ya?ml
      | \.buildkite(?:/.*)?
      | Jenkinsfile
      | \.drone\.ya?ml | \.woodpecker(?:\.ya?ml|/.*)
      | \.travis\.ya?ml
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
REPOSITORY_POLICY = re.compile(
    r"(?:^|/)(?:(?:\.github/|docs/|\.gitlab/)?CODEOWNERS|\.git/hooks(?:/.*)?|\.git/config)$", re.IGNORECASE
)
DISK_DEVICE = re.compile(r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|md\d|dm-\d)")


def basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def is_credential_store(path: str) -> bool:
    return bool(CREDENTIAL_STORE.search(path.replace("\\", "/")))


def is_key_or_env_file(path: str) -> bool:
    """A private key file (not a certificate) or a .env file (not a template). A name that is
    all extension (`.key`, `.data.pem`) is a jq filter or a pattern, not a key file."""
    name = basename(path)
    lowered = name.lower()
    if lowered.startswith("."):
        if lowered == ".env" or lowered.startswith(".env."):
            return not _ENV_TEMPLATE_WORDS & set(lowered.split(".")[2:])
        return lowered == ".envrc"
    if lowered in _PRIVATE_KEY_NAMES or lowered.endswith(_PRIVATE_KEY_SUFFIXES):
        return True
    return lowered.endswith(".pem") and not _CERTIFICATE_WORDS.search(name[:-4])


def is_ci_definition(path: str) -> bool:
    return bool(CI_DEFINITION.search(path.replace("\\", "/")))


def is_repository_policy(path: str) -> bool:
    return bool(REPOSITORY_POLICY.search(path.replace("\\", "/")))


def is_disk_device(path: str) -> bool:
    return bool(DISK_DEVICE.match(path))


class PathRule(NamedTuple):
    rule: str
    written: bool  # True: fires when the path is written (created, modified, deleted); else read
    matches: Callable[[str], bool]


PATH_RULES: Tuple[PathRule, ...] = (
    PathRule("BCN111", False, is_credential_store),
    PathRule("BCN112", False, is_key_or_env_file),
    PathRule("BCN121", True, is_ci_definition),
    PathRule("BCN122", True, is_repository_policy),
    PathRule("BCN161", True, is_disk_device),
)


def path_rule(path: str, written: bool) -> Optional[str]:
    """The first rule a path read (or written) fires, or None."""
    for row in PATH_RULES:
        if row.written == written and row.matches(path):
            return row.rule
    return None
