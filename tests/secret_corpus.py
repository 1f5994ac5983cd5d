"""An independent corpus for beacon's secret protection: synthetic secrets in the shapes public
secret scanners describe (gitleaks, trufflehog, detect-secrets: prefixes, lengths, alphabets),
strings that only look like secrets, and the five places an agent's telemetry carries them.

The corpus is written without reading beacon_protect: it says what must not survive, not how a
rule finds it. Every secret is generated at run time from a seeded random.Random, in its format's
alphabet and length, so no file holds a key and every run sees the same values. Most formats are
rows of the text tables below; keys and cloud credentials, which have structure, are functions.

    python tests/secret_corpus.py          the in-process result as JSON (to iterate on rules)
    python tests/secret_corpus.py --post   the child of `beacon ci exec`: post every record
                                           to the receiver its environment points at
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import string
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = "beacon-secret-corpus-v1"
WINDOW = 12  # a leak is any run of this many characters of a secret body (the whole body if shorter)
CONTEXTS = ("shell", "output", "file", "prompt", "mcp")
FAMILIES = ("token", "cloud", "command-line", "file", "prose", "label")
WORKDIR = "/home/runner/work/app/app"


# --- what a corpus entry is ---------------------------------------------------------------


class Sample(NamedTuple):
    """A snippet as it appears in the wild, and the parts of it that must not survive."""

    text: str
    bodies: List[str]
    command: bool = False  # the text is a shell command of its own (run as is, not echoed)
    path: str = ""  # the file it lives in (relative to the workspace, or absolute); "" = by family
    source: str = ""  # the command that printed it, for the tool-output context; "" = `cat path`


Maker = Callable[[random.Random], Sample]


class SecretCase(NamedTuple):
    format_id: str
    family: str
    variant: str
    make: Maker

    @property
    def case_id(self) -> str:
        return f"{self.format_id}/{self.variant}"


class Lookalike(NamedTuple):
    """A string that is not a secret and must come through unchanged."""

    lookalike_id: str
    make: Callable[[random.Random], str]
    command: bool = False


def case_rng(case_id: str) -> random.Random:
    """One generator per case, seeded by its id: a case's values do not depend on the others."""
    return random.Random(f"{SEED}:{case_id}")


# --- random material in a format's alphabet -----------------------------------------------

DIGITS = string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
LETTERS = string.ascii_letters
ALNUM = LETTERS + DIGITS
LOWER_ALNUM = LOWER + DIGITS
UPPER_ALNUM = UPPER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
PASSWORD_SYMBOLS = "-_.!#^*+=~"  # none of ' " \ $ ` % @ : / which would change the quoting around them

# The alphabets a shape's {name:length} fields draw from.
ALPHABETS = {
    "alnum": ALNUM,
    "letters": LETTERS,
    "lower": LOWER,
    "upper": UPPER,
    "digits": DIGITS,
    "hex": HEX,
    "HEX": HEX.upper(),
    "lalnum": LOWER_ALNUM,
    "ualnum": UPPER_ALNUM,
    "urlsafe": URLSAFE,
    "word": ALNUM + "_",
    "b64": B64,
    "b32": "abcdefghijklmnopqrstuvwxyz234567",
    "bech32": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    "azure": ALNUM + "_~.-",  # Entra ID client secrets
    "django": LOWER_ALNUM + "!#^*-_=+",  # Django's get_random_secret_key()
}


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64_core(raw: bytes, head: int, tail: int = 0) -> str:
    """The base64 characters of b64(raw) that encode only bytes [head, len - tail): the part of
    an encoded blob that is secret, without the encoding of its constant header or footer."""
    encoded = b64(raw)
    start = -(-head // 3) * 4
    end = (len(raw) - tail) // 3 * 4
    return encoded[start:end]


def digits_run(n: int) -> Callable[[random.Random], str]:
    """n digits that do not start with 0 (ids, account numbers)."""
    return lambda rng: str(rng.randint(1, 9)) + rand(rng, DIGITS, n - 1)


def uuid4(rng: random.Random) -> str:
    h = rand(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def password(rng: random.Random, low: int = 14, high: int = 22, symbols: str = PASSWORD_SYMBOLS) -> str:
    """A human-chosen-looking but high-entropy password: every character class, shuffled."""
    n = rng.randint(low, high)
    chars = [rng.choice(UPPER), rng.choice(LOWER), rng.choice(DIGITS)]
    if symbols:
        chars.append(rng.choice(symbols))
    chars += [rng.choice(ALNUM + symbols) for _ in range(n - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def url_password(rng: random.Random) -> str:
    """A password that needs no percent-encoding in a URL's user part."""
    return password(rng, 14, 22, symbols="-_.~")


# --- shapes and values: how the tables say what to generate --------------------------------

# A value generator returns (the value as written, its secret body).
TokenGen = Callable[[random.Random], Tuple[str, str]]
_FIELD = re.compile(r"\{(\w+)(?::(\d+))?\}")


def field(rng: random.Random, name: str, length: int) -> str:
    if name == "uuid":
        return uuid4(rng)
    if name == "num":
        return digits_run(length)(rng)
    return rand(rng, ALPHABETS[name], length)


def shape(spec: str) -> TokenGen:
    """A token from its shape, literal text with {alphabet:length} fields ({num:n} is digits
    not starting with 0, {uuid} a UUID): `ghp_{alnum:36}`. Its body is the token minus its
    literal prefix: the prefix says which format it is, the rest is the secret."""
    parts = _FIELD.split(spec)  # literal, name, length, literal, name, length, ..., literal

    def gen(rng: random.Random) -> Tuple[str, str]:
        out = [parts[0]]
        for i in range(1, len(parts), 3):
            out.append(field(rng, parts[i], int(parts[i + 1] or 0)))
            out.append(parts[i + 2])
        token = "".join(out)
        return token, token[len(parts[0]) :]

    return gen


def same(make: Callable[[random.Random], str]) -> TokenGen:
    """A value that is all secret: its body is itself."""

    def gen(rng: random.Random) -> Tuple[str, str]:
        value = make(rng)
        return value, value

    return gen


def basic_credentials(user: str) -> TokenGen:
    """base64("user:password"), as .npmrc _auth, docker's auth and Basic headers hold it; the
    body is what encodes the password (the user's part is constant)."""

    def gen(rng: random.Random) -> Tuple[str, str]:
        raw = f"{user}:{password(rng)}".encode()
        return b64(raw), b64_core(raw, head=len(user) + 1)

    return gen


def value(spec: str) -> TokenGen:
    """A table's value column: @name (a named generator), basic:USER, or a shape."""
    if spec.startswith("@"):
        return NAMED_VALUES[spec[1:]]
    if spec.startswith("basic:"):
        return basic_credentials(spec[len("basic:") :])
    return shape(spec)


# --- text tables ---------------------------------------------------------------------------


def rows(table: str, columns: int) -> List[List[str]]:
    """A text table's rows, split into `columns` whitespace-separated cells (the last takes the
    rest of the line). `#` lines are comments; a line ending in a backslash goes on on the next
    (whose indentation is dropped)."""
    out: List[List[str]] = []
    pending = ""
    for line in table.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1]
            continue
        cells = (pending + stripped).split(None, columns - 1)
        assert len(cells) == columns, cells
        out.append(cells)
        pending = ""
    return out


def unescape(template: str) -> str:
    """Tables write a newline in a template as \\n."""
    return template.replace("\\n", "\n")


def templated(
    format_id: str, family: str, variant: str, gen: TokenGen, path: str, template: str, escapes: bool = True
) -> SecretCase:
    """A case whose text is a template with the value where it says @@; path "-": a command.
    Command lines keep their backslashes (`net use \\\\host\\share`): no \\n in them."""

    def make(rng: random.Random) -> Sample:
        written, body = gen(rng)
        text = (unescape(template) if escapes else template).replace("@@", written)
        return Sample(text, [body], command=path == "-", path="" if path == "-" else path)

    return SecretCase(format_id, family, variant, make)


# --- tokens with structure: what a shape cannot say ----------------------------------------


def jwt_gen(alg: str = "HS256", signature_bytes: int = 32) -> TokenGen:
    """A JWT: its header is constant per algorithm; the claims and signature are the secret."""

    def gen(rng: random.Random) -> Tuple[str, str]:
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
        iat = rng.randint(1_750_000_000, 1_790_000_000)
        claims = {"sub": uuid4(rng), "iat": iat, "exp": iat + 3600, "jti": rand(rng, HEX, 16)}
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = b64url(rand_bytes(rng, signature_bytes))
        return f"{header}.{payload}.{signature}", f"{payload}.{signature}"

    return gen


def slack_webhook(rng: random.Random) -> Tuple[str, str]:
    secret = rand(rng, ALNUM, 24)
    workspace, channel = rand(rng, UPPER_ALNUM, 10), rand(rng, UPPER_ALNUM, 10)
    return f"https://hooks.slack.com/services/T{workspace}/B{channel}/{secret}", secret


def discord_webhook(rng: random.Random) -> Tuple[str, str]:
    secret = rand(rng, URLSAFE, 68)
    return f"https://discord.com/api/webhooks/{digits_run(19)(rng)}/{secret}", secret


def teams_webhook(rng: random.Random) -> Tuple[str, str]:
    secret = rand(rng, HEX, 32)
    tenant = f"{uuid4(rng)}@{uuid4(rng)}"
    return f"https://acme.webhook.office.com/webhookb2/{tenant}/IncomingWebhook/{secret}/{uuid4(rng)}", secret


def telegram_bot_url(rng: random.Random) -> Tuple[str, str]:
    secret = "AA" + rand(rng, URLSAFE, 33)
    return f"https://api.telegram.org/bot{digits_run(10)(rng)}:{secret}/sendMessage", secret


def asana_pat(rng: random.Random) -> Tuple[str, str]:
    secret = rand(rng, HEX, 32)
    return f"2/{digits_run(16)(rng)}/{digits_run(16)(rng)}:{secret}", secret


def bedrock_key(rng: random.Random) -> Tuple[str, str]:
    """ABSK + base64("BedrockAPIKey-<id>-at-<account>:<secret>"): the constant head is no secret."""
    head = f"BedrockAPIKey-{rand(rng, LOWER_ALNUM, 4)}-at-{digits_run(12)(rng)}:"
    raw = head.encode() + b64(rand_bytes(rng, 60)).encode()
    return "ABSK" + b64(raw), b64_core(raw, head=len("BedrockAPIKe"))


def grafana_cloud_token(rng: random.Random) -> Tuple[str, str]:
    """glc_ + base64 of a JSON whose "k" is the key."""
    claims = {
        "o": digits_run(6)(rng),
        "n": f"stack-{digits_run(6)(rng)}-ci",
        "k": rand(rng, ALNUM, 24),
        "m": {"r": "prod-us-east-0"},
    }
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return "glc_" + b64(raw), b64_core(raw, head=raw.index(b'"k"'))


def sentry_org_token(rng: random.Random) -> Tuple[str, str]:
    """sntrys_ + base64 of public claims + _ + the secret."""
    claims = {
        "iat": rng.randint(1_750_000_000, 1_790_000_000),
        "url": "https://sentry.io",
        "region_url": "https://us.sentry.io",
        "org": "acme",
    }
    secret = rand(rng, ALNUM, 43)
    return "sntrys_" + b64(json.dumps(claims, separators=(",", ":")).encode()).rstrip(
        "="
    ) + "_" + secret, secret


def mapbox_secret_token(rng: random.Random) -> Tuple[str, str]:
    secret = rand(rng, URLSAFE, 22)
    head = b64url(json.dumps({"u": "acme", "a": rand(rng, LOWER_ALNUM, 25)}, separators=(",", ":")).encode())
    return f"sk.{head}.{secret}", secret


def flyio_macaroon(rng: random.Random) -> Tuple[str, str]:
    body = b64(rand_bytes(rng, 240))
    return "FlyV1 fm2_" + body, body


def laravel_app_key(rng: random.Random) -> Tuple[str, str]:
    key = b64(rand_bytes(rng, 32))
    return "base64:" + key, key


def passphrase(rng: random.Random) -> str:
    words = ["".join(rand(rng, LOWER, rng.randint(5, 8))) for _ in range(4)]
    return "-".join(words) + "-" + rand(rng, DIGITS, 3)


# --- private keys --------------------------------------------------------------------------


def pem_block(
    rng: random.Random, label: str, der_head: bytes, size: int, width: int = 64
) -> Tuple[str, List[str]]:
    """A PEM block of random key material after a realistic DER head. The bodies are its base64
    lines (12+ characters), the first without the encoding of the constant head."""
    raw = der_head + rand_bytes(rng, size)
    encoded = b64(raw)
    lines = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    skip = -(-len(der_head) // 3) * 4
    bodies = [lines[0][skip:], *lines[1:]]
    text = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"
    return text, [b for b in bodies if len(b) >= WINDOW]


KEY_HEADS = {
    "RSA PRIVATE KEY": (b"\x30\x82\x04\xa3\x02\x01\x00\x02\x82\x01\x01\x00", 1179, 64),
    "EC PRIVATE KEY": (b"\x30\x77\x02\x01\x01\x04\x20", 112, 64),
    "PRIVATE KEY": (
        b"\x30\x82\x04\xbd\x02\x01\x00\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00",
        1194,
        64,
    ),
    "ENCRYPTED PRIVATE KEY": (
        b"\x30\x82\x05\x0e\x30\x40\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d",
        1281,
        64,
    ),
    "DSA PRIVATE KEY": (b"\x30\x82\x01\xbb\x02\x01\x00\x02\x81\x81\x00", 432, 64),
    "OPENSSH PRIVATE KEY": (b"openssh-key-v1\x00\x00\x00\x00\x04none", 380, 70),
}


def private_key(label: str) -> Callable[[random.Random], Tuple[str, List[str]]]:
    head, size, width = KEY_HEADS[label]
    return lambda rng: pem_block(rng, label, head, size, width)


def pgp_private_key(rng: random.Random) -> Tuple[str, List[str]]:
    text, bodies = pem_block(rng, "PGP PRIVATE KEY BLOCK", b"\x95\x05\x86\x04", 1400)
    lines = text.split("\n")
    checksum = "=" + b64(rand_bytes(rng, 3))
    text = "\n".join([lines[0], "", *lines[1:-1], checksum, lines[-1]])
    return text, bodies


def putty_ed25519(rng: random.Random) -> Tuple[str, List[str]]:
    name = b"ssh-ed25519"
    public = b64(len(name).to_bytes(4, "big") + name + (32).to_bytes(4, "big") + rand_bytes(rng, 32))
    private = b64((32).to_bytes(4, "big") + rand_bytes(rng, 32))
    text = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci-runner\n"
        f"Public-Lines: 2\n{public[:64]}\n{public[64:]}\nPrivate-Lines: 1\n{private}\n"
        f"Private-MAC: {rand(rng, HEX, 64)}"
    )
    return text, [private[4:]]


def putty_rsa(rng: random.Random) -> Tuple[str, List[str]]:
    name = b"ssh-rsa"
    public = b64(
        len(name).to_bytes(4, "big")
        + name
        + b"\x00\x00\x00\x03\x01\x00\x01\x00\x00\x01\x01\x00"
        + rand_bytes(rng, 256)
    )
    private = b64(b"\x00\x00\x01\x00" + rand_bytes(rng, 630))
    pub_lines = [public[i : i + 64] for i in range(0, len(public), 64)]
    priv_lines = [private[i : i + 64] for i in range(0, len(private), 64)]
    text = (
        "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: rsa-key-20260501\n"
        f"Public-Lines: {len(pub_lines)}\n" + "\n".join(pub_lines) + "\n"
        f"Private-Lines: {len(priv_lines)}\n" + "\n".join(priv_lines) + "\n"
        f"Private-MAC: {rand(rng, HEX, 40)}"
    )
    bodies = [priv_lines[0][8:], *priv_lines[1:]]
    return text, [b for b in bodies if len(b) >= WINDOW]


def key_cases(
    format_id: str, gen: Callable[[random.Random], Tuple[str, List[str]]], path: str
) -> List[SecretCase]:
    """A private key as a file of its own, and pasted into a config value (YAML block scalar)."""

    def as_file(rng: random.Random) -> Sample:
        text, bodies = gen(rng)
        return Sample(text, bodies, path=path)

    def in_yaml(rng: random.Random) -> Sample:
        text, bodies = gen(rng)
        indented = "\n".join("    " + line if line else "" for line in text.split("\n"))
        return Sample(
            f"deploy:\n  host: 10.0.4.12\n  ssh_key: |\n{indented}", bodies, path="deploy/values.yaml"
        )

    return [SecretCase(format_id, "file", "file", as_file), SecretCase(format_id, "file", "yaml", in_yaml)]


# --- cloud credentials ---------------------------------------------------------------------


def aws_key_id(rng: random.Random, prefix: str = "AKIA") -> str:
    return prefix + rand(rng, UPPER + "234567", 16)


def aws_secret(rng: random.Random) -> str:
    return rand(rng, B64, 40)


def azure_key(rng: random.Random, nbytes: int = 64) -> str:
    return b64(rand_bytes(rng, nbytes))


def sas_sig(rng: random.Random) -> str:
    """A SAS signature as it sits in a URL: base64 of an HMAC-SHA256, percent-encoded."""
    return b64(rand_bytes(rng, 32)).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def gcp_service_account(rng: random.Random) -> Tuple[Dict[str, str], List[str]]:
    project = f"acme-prod-{rand(rng, DIGITS, 4)}"
    key_text, key_bodies = private_key("PRIVATE KEY")(rng)
    key_id = rand(rng, HEX, 40)
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key_id,
        "private_key": key_text + "\n",
        "client_email": f"ci-deployer@{project}.iam.gserviceaccount.com",
        "client_id": digits_run(21)(rng),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    return info, [key_id, *key_bodies]


def cloud_formats() -> List[SecretCase]:
    cases: List[SecretCase] = []

    def case(format_id: str, variant: str, make: Maker) -> None:
        cases.append(SecretCase(format_id, "cloud", variant, make))

    # Azure
    def storage_conn(rng: random.Random) -> Tuple[str, str]:
        key = azure_key(rng)
        return (
            f"DefaultEndpointsProtocol=https;AccountName=acmestore;AccountKey={key};EndpointSuffix=core.windows.net",
            key,
        )

    def make_storage_env(rng: random.Random) -> Sample:
        conn, key = storage_conn(rng)
        return Sample(f'AZURE_STORAGE_CONNECTION_STRING="{conn}"', [key], path=".env")

    def make_storage_appsettings(rng: random.Random) -> Sample:
        conn, key = storage_conn(rng)
        text = json.dumps(
            {
                "IsEncrypted": False,
                "Values": {"AzureWebJobsStorage": conn, "FUNCTIONS_WORKER_RUNTIME": "python"},
            },
            indent=2,
        )
        return Sample(text, [key], path="local.settings.json")

    case("azure-storage-connection-string", "env", make_storage_env)
    case("azure-storage-connection-string", "appsettings", make_storage_appsettings)

    def make_service_bus(rng: random.Random) -> Sample:
        key = azure_key(rng, 32)
        text = f"Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"
        return Sample(f"SERVICEBUS_CONNECTION={text}", [key], path=".env")

    def make_event_hub(rng: random.Random) -> Sample:
        key = azure_key(rng, 32)
        text = f"Endpoint=sb://acme-events.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={key};EntityPath=telemetry"
        return Sample(json.dumps({"eventHubConnection": text}, indent=2), [key], path="config/eventhub.json")

    case("azure-service-bus-connection-string", "service-bus", make_service_bus)
    case("azure-service-bus-connection-string", "event-hub", make_event_hub)

    def make_sas_url(rng: random.Random) -> Sample:
        sig = sas_sig(rng)
        url = (
            "https://acmestore.blob.core.windows.net/backups/db-2026-05-01.bak?sv=2022-11-02&ss=b&srt=co"
            f"&sp=rwdlacx&se=2026-12-31T00:00:00Z&st=2026-05-01T00:00:00Z&spr=https&sig={sig}"
        )
        return Sample(f'azcopy copy "{url}" ./restore/', [sig], command=True)

    def make_sas_env(rng: random.Random) -> Sample:
        sig = sas_sig(rng)
        return Sample(
            f'AZURE_STORAGE_SAS_TOKEN="?sv=2022-11-02&sr=c&sp=rl&se=2026-12-31T00:00:00Z&sig={sig}"',
            [sig],
            path=".env",
        )

    case("azure-sas-token", "url", make_sas_url)
    case("azure-sas-token", "env", make_sas_env)

    def make_keys_list(rng: random.Random) -> Sample:
        keys = [azure_key(rng), azure_key(rng)]
        listing = [
            {
                "creationTime": "2026-01-02T03:04:05.000000+00:00",
                "keyName": f"key{i + 1}",
                "permissions": "FULL",
                "value": key,
            }
            for i, key in enumerate(keys)
        ]
        return Sample(
            json.dumps(listing, indent=2),
            keys,
            path="keys.json",
            source="az storage account keys list --account-name acmestore --resource-group rg-prod",
        )

    def make_show_connection_string(rng: random.Random) -> Sample:
        conn, key = storage_conn(rng)
        return Sample(
            json.dumps({"connectionString": conn}, indent=2),
            [key],
            path="conn.json",
            source="az storage account show-connection-string --name acmestore",
        )

    case("azure-storage-keys-output", "keys-list", make_keys_list)
    case("azure-storage-keys-output", "show-connection-string", make_show_connection_string)

    def make_cosmos(rng: random.Random) -> Sample:
        key = azure_key(rng)
        return Sample(
            f"COSMOS_CONNECTION_STRING=AccountEndpoint=https://acme-db.documents.azure.com:443/;AccountKey={key};",
            [key],
            path=".env",
        )

    def make_cosmos_json(rng: random.Random) -> Sample:
        key = azure_key(rng)
        text = json.dumps(
            {
                "CosmosDb": {
                    "Endpoint": "https://acme-db.documents.azure.com:443/",
                    "Key": key,
                    "Database": "orders",
                }
            },
            indent=2,
        )
        return Sample(text, [key], path="appsettings.json")

    case("azure-cosmosdb-key", "connection-string", make_cosmos)
    case("azure-cosmosdb-key", "appsettings", make_cosmos_json)

    def make_function_url(rng: random.Random) -> Sample:
        secret = rand(rng, URLSAFE, 54) + "=="
        return Sample(
            f"curl -X POST 'https://acme-fn.azurewebsites.net/api/ingest?code={secret}' -d @event.json",
            [secret],
            command=True,
        )

    def make_function_env(rng: random.Random) -> Sample:
        secret = rand(rng, URLSAFE, 54) + "=="
        return Sample(
            f"INGEST_URL=https://acme-fn.azurewebsites.net/api/ingest?code={secret}", [secret], path=".env"
        )

    case("azure-function-key", "curl", make_function_url)
    case("azure-function-key", "env", make_function_env)

    def make_sp_output(rng: random.Random) -> Sample:
        secret = rand(rng, ALNUM, 3) + rand(rng, DIGITS, 1) + "Q~" + rand(rng, ALNUM + "_~.-", 34)
        text = json.dumps(
            {"appId": uuid4(rng), "displayName": "ci-deployer", "password": secret, "tenant": uuid4(rng)},
            indent=2,
        )
        return Sample(
            text,
            [secret],
            path="sp.json",
            source="az ad sp create-for-rbac --name ci-deployer --role Contributor",
        )

    def make_acr_output(rng: random.Random) -> Sample:
        first, second = rand(rng, ALNUM + "+/", 52), rand(rng, ALNUM + "+/", 52)
        text = json.dumps(
            {
                "passwords": [{"name": "password", "value": first}, {"name": "password2", "value": second}],
                "username": "acmeregistry",
            },
            indent=2,
        )
        return Sample(
            text, [first, second], path="acr.json", source="az acr credential show --name acmeregistry"
        )

    case("azure-cli-credential-output", "sp-create-for-rbac", make_sp_output)
    case("azure-cli-credential-output", "acr-credential-show", make_acr_output)

    # AWS
    def make_aws_credentials_file(rng: random.Random) -> Sample:
        key_id, secret = aws_key_id(rng), aws_secret(rng)
        text = (
            f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\nregion = us-east-1"
        )
        return Sample(text, [key_id[4:], secret], path="/home/runner/.aws/credentials")

    def make_aws_env(rng: random.Random) -> Sample:
        key_id, secret = aws_key_id(rng), aws_secret(rng)
        return Sample(
            f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\nAWS_DEFAULT_REGION=eu-west-1",
            [key_id[4:], secret],
            path=".env",
        )

    def make_aws_code(rng: random.Random) -> Sample:
        key_id, secret = aws_key_id(rng), aws_secret(rng)
        text = f's3 = boto3.client("s3", aws_access_key_id="{key_id}", aws_secret_access_key="{secret}")'
        return Sample(text, [key_id[4:], secret], path="scripts/upload.py")

    case("aws-access-key", "credentials-file", make_aws_credentials_file)
    case("aws-access-key", "env", make_aws_env)
    case("aws-access-key", "boto3", make_aws_code)

    def make_iam_csv(rng: random.Random) -> Sample:
        secret = aws_secret(rng)
        text = (
            "User name,Password,Access key ID,Secret access key,Console login link\n"
            f"ci-deployer,,{aws_key_id(rng)},{secret},https://123456789012.signin.aws.amazon.com/console"
        )
        return Sample(text, [secret], path="ci-deployer_credentials.csv")

    def make_iam_csv_password(rng: random.Random) -> Sample:
        secret, pw = aws_secret(rng), password(rng)
        text = (
            "User name,Password,Access key ID,Secret access key,Console login link\n"
            f"jane.doe,{pw},{aws_key_id(rng)},{secret},https://123456789012.signin.aws.amazon.com/console"
        )
        return Sample(text, [pw, secret], path="jane.doe_credentials.csv")

    case("aws-iam-credentials-csv", "keys-only", make_iam_csv)
    case("aws-iam-credentials-csv", "with-password", make_iam_csv_password)

    def session_token(rng: random.Random) -> str:
        return "FwoGZXIvYXdzE" + rand(rng, B64, 320)

    def make_sts_output(rng: random.Random) -> Sample:
        secret, token = aws_secret(rng), session_token(rng)
        creds = {
            "AccessKeyId": aws_key_id(rng, "ASIA"),
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": "2026-05-01T11:00:00+00:00",
        }
        text = json.dumps(
            {
                "Credentials": creds,
                "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/ci/ci"},
            },
            indent=4,
        )
        return Sample(
            text,
            [secret, token[13:]],
            path="creds.json",
            source="aws sts assume-role --role-arn arn:aws:iam::123456789012:role/ci --role-session-name ci",
        )

    def make_session_env(rng: random.Random) -> Sample:
        secret, token = aws_secret(rng), session_token(rng)
        text = (
            f"export AWS_ACCESS_KEY_ID={aws_key_id(rng, 'ASIA')}\n"
            f"export AWS_SECRET_ACCESS_KEY={secret}\nexport AWS_SESSION_TOKEN={token}"
        )
        return Sample(text, [secret, token[13:]], path=".envrc")

    case("aws-session-credentials", "sts-output", make_sts_output)
    case("aws-session-credentials", "env", make_session_env)

    # Google Cloud
    def make_sa_json(rng: random.Random) -> Sample:
        info, bodies = gcp_service_account(rng)
        return Sample(json.dumps(info, indent=2), bodies, path="gcp-key.json")

    def make_sa_b64(name: str) -> Maker:
        def make(rng: random.Random) -> Sample:
            info, _ = gcp_service_account(rng)
            raw = json.dumps(info, indent=2).encode()
            return Sample(
                f"{name}={b64(raw)}", [b64_core(raw, head=raw.index(b'"private_key_id"'))], path=".env"
            )

        return make

    case("gcp-service-account-json", "file", make_sa_json)
    case("gcp-service-account-base64", "gcp-sa-key", make_sa_b64("GCP_SA_KEY"))
    case("gcp-service-account-base64", "google-credentials", make_sa_b64("GOOGLE_CREDENTIALS_B64"))

    def access_token(rng: random.Random) -> str:
        return "ya29.a0" + rand(rng, URLSAFE, 170)

    def make_ya29_output(rng: random.Random) -> Sample:
        token = access_token(rng)
        return Sample(token, [token[5:]], path="token.txt", source="gcloud auth print-access-token")

    def make_ya29_curl(rng: random.Random) -> Sample:
        token = access_token(rng)
        return Sample(
            f'curl -H "Authorization: Bearer {token}" https://storage.googleapis.com/storage/v1/b/acme-artifacts/o',
            [token[5:]],
            command=True,
        )

    case("gcp-access-token", "print-access-token", make_ya29_output)
    case("gcp-access-token", "curl", make_ya29_curl)

    # Kubernetes
    def make_client_key_data(rng: random.Random) -> Sample:
        key_text, _ = private_key("EC PRIVATE KEY")(rng)
        raw = (key_text + "\n").encode()
        cert = b64(
            b"-----BEGIN CERTIFICATE-----\n"
            + b64(rand_bytes(rng, 300)).encode()
            + b"\n-----END CERTIFICATE-----\n"
        )
        text = (
            "apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n"
            f"    client-certificate-data: {cert}\n    client-key-data: {b64(raw)}"
        )
        body = b64_core(
            raw, head=len("-----BEGIN EC PRIVATE KEY-----\n"), tail=len("\n-----END EC PRIVATE KEY-----\n")
        )
        return Sample(text, [body], path="/home/runner/.kube/config")

    def make_kube_token(rng: random.Random) -> Sample:
        token, body = jwt_gen("RS256", 256)(rng)
        text = f"apiVersion: v1\nkind: Config\nusers:\n- name: ci-bot\n  user:\n    token: {token}"
        return Sample(text, [body], path="/home/runner/.kube/config")

    case("kubeconfig-credentials", "client-key-data", make_client_key_data)
    case("kubeconfig-credentials", "user-token", make_kube_token)

    # Other clouds
    def make_alibaba(rng: random.Random) -> Sample:
        key_id, secret = "LTAI" + rand(rng, ALNUM, 20), rand(rng, ALNUM, 30)
        return Sample(
            f"ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}\nALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}",
            [key_id[4:], secret],
            path=".env",
        )

    def make_alibaba_cli(rng: random.Random) -> Sample:
        key_id, secret = "LTAI" + rand(rng, ALNUM, 20), rand(rng, ALNUM, 30)
        return Sample(
            f"aliyun configure set --profile ci --mode AK --access-key-id {key_id} "
            f"--access-key-secret {secret} --region cn-hangzhou",
            [key_id[4:], secret],
            command=True,
        )

    case("alibaba-access-key", "env", make_alibaba)
    case("alibaba-access-key", "cli", make_alibaba_cli)

    def make_tencent(rng: random.Random) -> Sample:
        secret = rand(rng, ALNUM, 32)
        return Sample(
            f"TENCENTCLOUD_SECRET_ID=AKID{rand(rng, ALNUM, 32)}\nTENCENTCLOUD_SECRET_KEY={secret}",
            [secret],
            path=".env",
        )

    def make_tencent_code(rng: random.Random) -> Sample:
        secret = rand(rng, ALNUM, 32)
        return Sample(
            f'cred = credential.Credential("AKID{rand(rng, ALNUM, 32)}", "{secret}")',
            [secret],
            path="scripts/cvm.py",
        )

    case("tencent-cloud-secret", "env", make_tencent)
    case("tencent-cloud-secret", "code", make_tencent_code)

    def make_spaces(rng: random.Random) -> Sample:
        secret = b64(rand_bytes(rng, 32)).rstrip("=")
        return Sample(
            f"[default]\naccess_key = DO00{rand(rng, UPPER_ALNUM, 16)}\nsecret_key = {secret}\n"
            "host_base = fra1.digitaloceanspaces.com",
            [secret],
            path="/home/runner/.s3cfg",
        )

    def make_spaces_env(rng: random.Random) -> Sample:
        secret = b64(rand_bytes(rng, 32)).rstrip("=")
        return Sample(
            f"SPACES_KEY=DO00{rand(rng, UPPER_ALNUM, 16)}\nSPACES_SECRET={secret}", [secret], path=".env"
        )

    case("digitalocean-spaces-key", "s3cfg", make_spaces)
    case("digitalocean-spaces-key", "env", make_spaces_env)

    def make_scaleway(rng: random.Random) -> Sample:
        secret = uuid4(rng)
        return Sample(
            f"SCW_ACCESS_KEY=SCW{rand(rng, UPPER_ALNUM, 17)}\nSCW_SECRET_KEY={secret}\n"
            f"SCW_DEFAULT_PROJECT_ID={uuid4(rng)}",
            [secret],
            path=".env",
        )

    def make_scaleway_yaml(rng: random.Random) -> Sample:
        secret = uuid4(rng)
        return Sample(
            f"access_key: SCW{rand(rng, UPPER_ALNUM, 17)}\nsecret_key: {secret}\ndefault_region: fr-par",
            [secret],
            path="/home/runner/.config/scw/config.yaml",
        )

    case("scaleway-secret-key", "env", make_scaleway)
    case("scaleway-secret-key", "config", make_scaleway_yaml)

    def make_oci(rng: random.Random) -> Sample:
        pw = password(rng)
        fingerprint = ":".join(rand(rng, HEX, 2) for _ in range(16))
        text = (
            f"[DEFAULT]\nuser=ocid1.user.oc1..{rand(rng, LOWER_ALNUM, 60)}\nfingerprint={fingerprint}\n"
            f"key_file=~/.oci/oci_api_key.pem\npass_phrase={pw}\n"
            f"tenancy=ocid1.tenancy.oc1..{rand(rng, LOWER_ALNUM, 60)}\nregion=eu-frankfurt-1"
        )
        return Sample(text, [pw], path="/home/runner/.oci/config")

    case("oci-config-pass-phrase", "config", make_oci)
    return cases


# --- the tables -----------------------------------------------------------------------------
# Columns are separated by two or more spaces; value columns hold a shape (`ghp_{alnum:36}`),
# @name (NAMED_VALUES) or basic:USER; templates put the value where they say @@.

TOKEN_TABLE = r"""
# format id                        shape                                       variable
github-pat                         ghp_{alnum:36}                                GITHUB_TOKEN
github-oauth-token                 gho_{alnum:36}                                GH_TOKEN
github-user-to-server-token        ghu_{alnum:36}                                GITHUB_USER_TOKEN
github-app-installation-token      ghs_{alnum:36}                                GITHUB_APP_TOKEN
github-refresh-token               ghr_{alnum:36}                                GITHUB_REFRESH_TOKEN
github-fine-grained-pat            github_pat_{alnum:22}_{alnum:59}              GITHUB_PAT
gitlab-pat                         glpat-{urlsafe:20}                            GITLAB_TOKEN
gitlab-pat-routable                glpat-{urlsafe:38}.01.{lalnum:9}              GITLAB_TOKEN
gitlab-pipeline-trigger-token      glptt-{hex:40}                                TRIGGER_TOKEN
gitlab-runner-token                glrt-{urlsafe:20}                             RUNNER_TOKEN
gitlab-deploy-token                gldt-{urlsafe:20}                             CI_DEPLOY_PASSWORD
gitlab-cicd-job-token              glcbt-{alnum:2}_{urlsafe:20}                  CI_JOB_TOKEN
gitlab-oauth-app-secret            gloas-{hex:64}                                GITLAB_OAUTH_SECRET
gitlab-runner-registration-token   GR1348941{urlsafe:20}                         REGISTRATION_TOKEN
npm-token                          npm_{alnum:36}                                NPM_TOKEN
pypi-token                         pypi-AgEIcHlwaS5vcmc{urlsafe:150}             TWINE_PASSWORD
rubygems-api-key                   rubygems_{hex:48}                             GEM_HOST_API_KEY
nuget-api-key                      oy2{lalnum:43}                                NUGET_API_KEY
crates-io-token                    cio{alnum:32}                                 CARGO_REGISTRY_TOKEN
clojars-token                      CLOJARS_{lalnum:60}                           CLOJARS_PASSWORD
docker-hub-pat                     dckr_pat_{urlsafe:27}                         DOCKERHUB_TOKEN
artifactory-api-key                AKCp{alnum:69}                                ARTIFACTORY_API_KEY
jfrog-reference-token              cmVmd{alnum:59}                               JFROG_ACCESS_TOKEN
bitbucket-app-password             ATBB{alnum:32}                                BITBUCKET_APP_PASSWORD
atlassian-api-token                ATATT3xFfGF0{urlsafe:170}={HEX:8}             JIRA_API_TOKEN
sourcegraph-token                  sgp_{hex:16}_{hex:40}                         SRC_ACCESS_TOKEN
sonarqube-token                    squ_{hex:40}                                  SONAR_TOKEN
buildkite-token                    bkua_{lalnum:40}                              BUILDKITE_API_TOKEN
circleci-token                     CCIPAT_{alnum:22}_{hex:40}                    CIRCLE_TOKEN
# AI providers
openai-api-key-legacy              sk-{alnum:20}T3BlbkFJ{alnum:20}               OPENAI_API_KEY
openai-project-key                 sk-proj-{urlsafe:74}T3BlbkFJ{urlsafe:74}      OPENAI_API_KEY
openai-service-account-key         sk-svcacct-{urlsafe:58}T3BlbkFJ{urlsafe:58}   OPENAI_API_KEY
openai-admin-key                   sk-admin-{urlsafe:58}T3BlbkFJ{urlsafe:58}     OPENAI_ADMIN_KEY
anthropic-api-key                  sk-ant-api03-{urlsafe:93}AA                   ANTHROPIC_API_KEY
anthropic-admin-key                sk-ant-admin01-{urlsafe:93}AA                 ANTHROPIC_ADMIN_KEY
anthropic-oauth-token              sk-ant-oat01-{urlsafe:93}AA                   CLAUDE_CODE_OAUTH_TOKEN
sk-key-without-digits              sk-{letters:48}                               LLM_API_KEY
deepseek-api-key                   sk-{hex:32}                                   DEEPSEEK_API_KEY
openrouter-api-key                 sk-or-v1-{hex:64}                             OPENROUTER_API_KEY
xai-api-key                        xai-{alnum:80}                                XAI_API_KEY
groq-api-key                       gsk_{alnum:52}                                GROQ_API_KEY
replicate-api-token                r8_{alnum:37}                                 REPLICATE_API_TOKEN
perplexity-api-key                 pplx-{alnum:48}                               PERPLEXITY_API_KEY
huggingface-token                  hf_{letters:34}                               HF_TOKEN
huggingface-org-token              api_org_{letters:34}                          HUGGINGFACE_ORG_TOKEN
langsmith-api-key                  lsv2_pt_{hex:32}_{hex:10}                     LANGSMITH_API_KEY
pinecone-api-key                   pcsk_{alnum:6}_{alnum:63}                     PINECONE_API_KEY
nvidia-api-key                     nvapi-{urlsafe:64}                            NVIDIA_API_KEY
elevenlabs-api-key                 sk_{hex:48}                                   ELEVENLABS_API_KEY
aws-bedrock-api-key                @bedrock-key                                  AWS_BEARER_TOKEN_BEDROCK
together-api-key                   tgp_v1_{urlsafe:43}                           TOGETHER_API_KEY
voyage-api-key                     pa-{urlsafe:43}                               VOYAGE_API_KEY
langfuse-secret-key                sk-lf-{uuid}                                  LANGFUSE_SECRET_KEY
tavily-api-key                     tvly-{alnum:32}                               TAVILY_API_KEY
firecrawl-api-key                  fc-{hex:32}                                   FIRECRAWL_API_KEY
# Google
google-api-key                     AIza{urlsafe:35}                              GOOGLE_API_KEY
google-oauth-client-secret         GOCSPX-{urlsafe:28}                           GOOGLE_CLIENT_SECRET
google-oauth-refresh-token         1//0{letters:1}{urlsafe:98}                   GOOGLE_REFRESH_TOKEN
# messaging and webhooks
sendgrid-api-key                   SG.{urlsafe:22}.{urlsafe:43}                  SENDGRID_API_KEY
slack-bot-token                    xoxb-{num:12}-{num:13}-{alnum:24}             SLACK_BOT_TOKEN
slack-user-token                   xoxp-{num:12}-{num:12}-{num:13}-{hex:32}      SLACK_USER_TOKEN
slack-app-token                    xapp-1-A{ualnum:10}-{num:13}-{hex:64}         SLACK_APP_TOKEN
slack-webhook-url                  @slack-webhook                                SLACK_WEBHOOK_URL
discord-webhook-url                @discord-webhook                              DISCORD_WEBHOOK
discord-bot-token                  M{alnum:25}.{urlsafe:6}.{urlsafe:38}          DISCORD_BOT_TOKEN
teams-webhook-url                  @teams-webhook                                TEAMS_WEBHOOK_URL
telegram-bot-token-url             @telegram-bot-url                             TELEGRAM_WEBHOOK
twilio-api-key                     SK{hex:32}                                    TWILIO_API_KEY
mailgun-api-key                    key-{hex:32}                                  MAILGUN_API_KEY
mailchimp-api-key                  {hex:32}-us{digits:2}                         MAILCHIMP_API_KEY
brevo-api-key                      xkeysib-{hex:64}-{alnum:16}                   BREVO_API_KEY
# secrets managers, infrastructure, hosting
vault-service-token                hvs.{urlsafe:91}                              VAULT_TOKEN
vault-batch-token                  hvb.{urlsafe:150}                             VAULT_TOKEN
vault-legacy-token                 s.{alnum:24}                                  VAULT_TOKEN
doppler-service-token              dp.st.prd.{alnum:40}                          DOPPLER_TOKEN
doppler-personal-token             dp.pt.{alnum:43}                              DOPPLER_TOKEN
doppler-cli-token                  dp.ct.{alnum:43}                              DOPPLER_TOKEN
onepassword-service-account-token  ops_eyJ{b64:300}                              OP_SERVICE_ACCOUNT_TOKEN
onepassword-secret-key             A3-{ualnum:6}-{ualnum:6}-{ualnum:5}-{ualnum:5}-{ualnum:5}-{ualnum:5}  \
        OP_SECRET_KEY
age-secret-key                     AGE-SECRET-KEY-1{bech32:58}                   SOPS_AGE_KEY
heroku-api-key-v2                  HRKU-AA{urlsafe:58}                           HEROKU_API_KEY
digitalocean-pat                   dop_v1_{hex:64}                               DIGITALOCEAN_ACCESS_TOKEN
digitalocean-oauth-token           doo_v1_{hex:64}                               DIGITALOCEAN_TOKEN
digitalocean-refresh-token         dor_v1_{hex:64}                               DIGITALOCEAN_REFRESH_TOKEN
tailscale-auth-key                 tskey-auth-k{alnum:11}CNTRL-{alnum:32}        TAILSCALE_AUTHKEY
tailscale-api-key                  tskey-api-k{alnum:11}CNTRL-{alnum:32}         TAILSCALE_API_KEY
flyio-token                        fo1_{urlsafe:43}                              FLY_API_TOKEN
flyio-macaroon                     @flyio-macaroon                               FLY_API_TOKEN
netlify-token                      nfp_{alnum:36}                                NETLIFY_AUTH_TOKEN
render-api-key                     rnd_{alnum:32}                                RENDER_API_KEY
neon-api-key                       napi_{lalnum:64}                              NEON_API_KEY
pulumi-access-token                pul-{hex:40}                                  PULUMI_ACCESS_TOKEN
terraform-cloud-token              {alnum:14}.atlasv1.{urlsafe:67}               TF_TOKEN_app_terraform_io
planetscale-token                  pscale_tkn_{word:43}                          PLANETSCALE_SERVICE_TOKEN
planetscale-password               pscale_pw_{word:43}                           DATABASE_PASSWORD
planetscale-oauth-token            pscale_oauth_{word:43}                        PLANETSCALE_OAUTH_TOKEN
supabase-access-token              sbp_{hex:40}                                  SUPABASE_ACCESS_TOKEN
supabase-secret-key                sb_secret_{urlsafe:31}                        SUPABASE_SECRET_KEY
databricks-token                   dapi{hex:32}                                  DATABRICKS_TOKEN
cloudflare-api-token-v2            cfut_{alnum:40}{hex:8}                        CLOUDFLARE_API_TOKEN
cloudflare-origin-ca-key           v1.0-{hex:24}-{hex:146}                       CF_ORIGIN_CA_KEY
dynatrace-api-token                dt0c01.{ualnum:24}.{ualnum:64}                DT_API_TOKEN
openshift-user-token               sha256~{urlsafe:43}                           OPENSHIFT_TOKEN
harness-api-key                    pat.{alnum:22}.{alnum:24}.{alnum:20}          HARNESS_API_KEY
octopus-deploy-api-key             API-{ualnum:26}                               OCTOPUS_API_KEY
clickhouse-cloud-secret            4b1d{alnum:38}                                CLICKHOUSE_SECRET
infracost-api-key                  ico-{alnum:32}                                INFRACOST_API_KEY
scalingo-api-token                 tk-us-{urlsafe:48}                            SCALINGO_API_TOKEN
prefect-api-key                    pnu_{alnum:36}                                PREFECT_API_KEY
yandex-api-key                     AQVN{urlsafe:36}                              YC_API_KEY
# observability
sentry-org-token                   @sentry-org-token                             SENTRY_AUTH_TOKEN
sentry-user-token                  sntryu_{hex:64}                               SENTRY_AUTH_TOKEN
new-relic-user-key                 NRAK-{ualnum:27}                              NEW_RELIC_API_KEY
new-relic-insert-key               NRII-{urlsafe:32}                             NEW_RELIC_INSERT_KEY
grafana-cloud-token                @grafana-cloud-token                          GRAFANA_CLOUD_TOKEN
grafana-service-account-token      glsa_{alnum:32}_{hex:8}                       GRAFANA_TOKEN
posthog-personal-key               phx_{alnum:43}                                POSTHOG_PERSONAL_API_KEY
# payments and commerce
stripe-secret-key                  sk_live_{alnum:24}                            STRIPE_SECRET_KEY
stripe-secret-key-long             sk_live_{alnum:99}                            STRIPE_SECRET_KEY
stripe-restricted-key              rk_live_{alnum:99}                            STRIPE_RESTRICTED_KEY
stripe-webhook-secret              whsec_{alnum:32}                              STRIPE_WEBHOOK_SECRET
square-access-token                EAAA{urlsafe:60}                              SQUARE_ACCESS_TOKEN
square-legacy-token                sq0atp-{urlsafe:22}                           SQUARE_ACCESS_TOKEN
square-oauth-secret                sq0csp-{urlsafe:43}                           SQUARE_APPLICATION_SECRET
shopify-access-token               shpat_{hex:32}                                SHOPIFY_ACCESS_TOKEN
shopify-shared-secret              shpss_{hex:32}                                SHOPIFY_API_SECRET
shopify-custom-app-token           shpca_{hex:32}                                SHOPIFY_TOKEN
shopify-private-app-token          shppa_{hex:32}                                SHOPIFY_PASSWORD
shippo-api-token                   shippo_live_{hex:40}                          SHIPPO_API_KEY
easypost-api-key                   EZAK{alnum:54}                                EASYPOST_API_KEY
duffel-api-token                   duffel_live_{urlsafe:43}                      DUFFEL_ACCESS_TOKEN
flutterwave-secret-key             FLWSECK-{hex:32}-X                            FLW_SECRET_KEY
# productivity and SaaS
linear-api-key                     lin_api_{alnum:40}                            LINEAR_API_KEY
notion-token-secret                secret_{alnum:43}                             NOTION_TOKEN
notion-token-ntn                   ntn_{num:11}{alnum:35}                        NOTION_API_KEY
airtable-pat                       pat{alnum:14}.{hex:64}                        AIRTABLE_API_KEY
figma-pat                          figd_{urlsafe:40}                             FIGMA_TOKEN
asana-pat                          @asana-pat                                    ASANA_ACCESS_TOKEN
postman-api-key                    PMAK-{hex:24}-{hex:34}                        POSTMAN_API_KEY
contentful-pat                     CFPAT-{urlsafe:43}                            CONTENTFUL_MANAGEMENT_TOKEN
typeform-token                     tfp_{word:59}                                 TYPEFORM_TOKEN
frameio-token                      fio-u-{urlsafe:64}                            FRAMEIO_TOKEN
readme-api-key                     rdme_{lalnum:70}                              README_API_KEY
maxmind-license-key                {alnum:6}_{alnum:29}_mmk                      MAXMIND_LICENSE_KEY
mapbox-secret-token                @mapbox-secret-token                          MAPBOX_SECRET_TOKEN
facebook-page-token                EAAC{alnum:150}                               FACEBOOK_ACCESS_TOKEN
dropbox-short-lived-token          sl.{urlsafe:135}                              DROPBOX_TOKEN
launchdarkly-sdk-key               sdk-{uuid}                                    LAUNCHDARKLY_SDK_KEY
azure-ad-client-secret             {alnum:3}{digits:1}Q~{azure:34}               AZURE_CLIENT_SECRET
alibaba-access-key-id              LTAI{alnum:20}                                ALIBABA_CLOUD_ACCESS_KEY_ID
okta-ssws-token                    00{urlsafe:40}                                OKTA_API_TOKEN
# bearer material in general
jwt-hs256                          @jwt-hs256                                    ACCESS_TOKEN
jwt-rs256                          @jwt-rs256                                    ID_TOKEN
"""


TOKEN_VARIANT_TABLE = r"""
# format id                     variant          file (- for a command)  template
github-pat                      push-url         notes/push.txt          git push \
        https://x-access-token:@@@github.com/acme/app.git HEAD
github-pat                      curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://api.github.com/user
github-oauth-token              hosts-yml        .config/gh/hosts.yml    github.com:\n    oauth_token: @@\
        \n    user: jane
github-user-to-server-token     json             config/settings.json    {\n  "token": "@@"\n}
github-app-installation-token   git-credentials  .git-credentials        https://x-access-token:@@@github.com
github-refresh-token            json             config/settings.json    {\n  "refresh_token": "@@"\n}
github-fine-grained-pat         curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://api.github.com/user
gitlab-pat                      curl             -                       curl --header "PRIVATE-TOKEN: @@" \
        https://gitlab.acme.io/api/v4/projects
gitlab-runner-token             toml             /etc/gitlab-runner/config.toml  token = "@@"
npm-token                       npmrc            .npmrc                  //registry.npmjs.org/:_authToken=@@
pypi-token                      pypirc           .pypirc                 [pypi]\nusername = __token__\
        \npassword = @@
rubygems-api-key                gem-credentials  .gem/credentials        ---\n:rubygems_api_key: @@
crates-io-token                 cargo-credentials  .cargo/credentials.toml  [registry]\ntoken = "@@"
atlassian-api-token             json             config/settings.json    {\n  "apiToken": "@@"\n}
openai-api-key-legacy           python           app/llm.py              client = OpenAI(api_key="@@")
openai-project-key              curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://api.openai.com/v1/models
anthropic-api-key               curl             -                       curl \
        https://api.anthropic.com/v1/messages -H 'x-api-key: @@' -H 'anthropic-version: 2023-06-01'
anthropic-api-key               python           app/llm.py              client = \
        anthropic.Anthropic(api_key="@@")
sk-key-without-digits           json             config/settings.json    {\n  "apiKey": "@@"\n}
groq-api-key                    python           app/llm.py              client = Groq(api_key="@@")
huggingface-token               cli              -                       huggingface-cli login --token @@
google-api-key                  url              notes/geocode.txt       \
        https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=@@
google-oauth-client-secret      client-json      client_secret.json      {"installed": {"client_id": \
        "4821-acme.apps.googleusercontent.com", "client_secret": "@@", "redirect_uris": ["http://localhost"]}}
google-oauth-refresh-token      json             config/settings.json    {\n  "refresh_token": "@@"\n}
slack-bot-token                 curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://slack.com/api/auth.test
slack-webhook-url               curl             -                       curl -X POST -H 'Content-type: \
        application/json' --data '{"text":"deployed"}' @@
discord-bot-token               header           requests.http           Authorization: Bot @@
telegram-bot-token-url          curl             -                       curl -s \
        '@@?chat_id=-1001234567890&text=deployed'
mailgun-api-key                 curl             -                       curl -s --user 'api:@@' \
        https://api.mailgun.net/v3/mg.acme.io/messages -F to=ops@acme.io
vault-service-token             cli              -                       vault kv get \
        -address=https://vault.acme.io:8200 -token=@@ secret/prod/db
age-secret-key                  keyfile          keys.txt                # created: 2026-05-01T10:00:00Z\n@@
tailscale-auth-key              cli              -                       tailscale up --authkey=@@ \
        --hostname=ci-runner
terraform-cloud-token           terraformrc      .terraformrc            credentials "app.terraform.io" {\
        \n  token = "@@"\n}
databricks-token                databrickscfg    .databrickscfg          [DEFAULT]\nhost  = \
        https://adb-4821.7.azuredatabricks.net\ntoken = @@
grafana-service-account-token   curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://grafana.acme.io/api/dashboards/home
stripe-secret-key               ruby             config/initializers/stripe.rb  Stripe.api_key = '@@'
shopify-access-token            header           requests.http           X-Shopify-Access-Token: @@
linear-api-key                  curl             -                       curl -sS -H "Authorization: Bearer \
        @@" https://api.linear.app/graphql
notion-token-ntn                json             config/settings.json    {\n  "notionToken": "@@"\n}
azure-ad-client-secret          json             config/settings.json    {\n  "clientSecret": "@@"\n}
okta-ssws-token                 header           requests.http           Authorization: SSWS @@
jwt-hs256                       bearer           requests.http           Authorization: Bearer @@
jwt-hs256                       json             config/settings.json    {\n  "access_token": "@@"\n}
jwt-rs256                       cookie           requests.http           Cookie: id_token=@@; Path=/
"""


COMMAND_TABLE = r"""
# format id                     value                  command line
aws-configure-set-secret        @aws-secret            aws configure set aws_secret_access_key @@
aws-configure-set-secret        @aws-secret            aws configure set aws_secret_access_key @@ --profile \
        prod
az-login-password               @password              az login -u ci@acme.onmicrosoft.com -p '@@'
az-login-password               @password              az login --username ops@acme.io --password @@ \
        --allow-no-subscriptions
az-login-service-principal      {alnum:3}{digits:1}Q~{azure:34}  az login --service-principal -u \
        3f2b8c1e-9d4a-4e6b-8f0c-1a2b3c4d5e6f -p @@ --tenant acme.onmicrosoft.com
az-login-service-principal      {alnum:3}{digits:1}Q~{azure:34}  az login --service-principal --username \
        3f2b8c1e-9d4a-4e6b-8f0c-1a2b3c4d5e6f --password='@@' --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47
vault-login-token               {alnum:26}             vault login @@
vault-login-token               {alnum:26}             VAULT_ADDR=https://vault.acme.io:8200 vault login \
        -no-print @@
vault-login-userpass            @password              vault login -method=userpass username=ci password='@@'
vault-login-userpass            @password              vault login -method=ldap username=jane password=@@
doctl-auth-init                 {hex:64}               doctl auth init -t @@
doctl-auth-init                 {hex:64}               doctl auth init --context ci --access-token @@
docker-login-password-stdin     @password              echo '@@' | docker login ghcr.io -u jane \
        --password-stdin
docker-login-password-stdin     @password              printf '%s' '@@' | docker login registry.acme.io \
        --username ci --password-stdin
docker-login-password           @password              docker login -u ci -p '@@' registry.acme.io
docker-login-password           @password              docker login registry.gitlab.com --username deploy \
        --password @@
redis-cli-auth                  @password              redis-cli -h cache.acme.internal -a '@@' ping
redis-cli-auth                  @password              redis-cli -a @@ --no-auth-warning INFO replication
sqlcmd-password                 @password              sqlcmd -S db.acme.internal -U sa -P '@@' -Q "SELECT \
        name FROM sys.databases"
sqlcmd-password                 @password              sqlcmd -S tcp:acme.database.windows.net,1433 -d app \
        -U admin -P @@ -i migrate.sql
htpasswd-batch                  @password              htpasswd -b /etc/nginx/.htpasswd admin '@@'
htpasswd-batch                  @password              htpasswd -bc .htpasswd deploy @@
openssl-pass-argument           @password              openssl enc -aes-256-cbc -pbkdf2 -salt -in backup.tar \
        -out backup.tar.enc -pass pass:@@
openssl-pass-argument           @password              openssl pkcs12 -export -in cert.pem -inkey key.pem \
        -out bundle.p12 -passout 'pass:@@'
keytool-storepass               @password              keytool -importcert -alias acme-ca -file ca.pem \
        -keystore truststore.jks -storepass '@@' -noprompt
keytool-storepass               @password              keytool -genkeypair -alias release -keystore \
        release.jks -storepass @@ -keypass @@ -dname CN=acme
zip-password                    @password              zip -r -P '@@' backup.zip data/
zip-password                    @password              unzip -P @@ export.zip -d export/
7z-password                     @password              7z a -p'@@' -mhe=on backup.7z data/
7z-password                     @password              7z x -p@@ secrets.7z
smbclient-user-password         @password              smbclient //fileserver/share -U 'ACME\svc_backup%@@' \
        -c 'ls'
smbclient-user-password         @password              smbclient -L //10.0.0.5 -U admin%@@
net-use-password                @password              net use Z: \\fileserver\share @@ /user:ACME\svc_backup
net-use-password                @password              net use \\10.0.0.5\c$ /user:Administrator @@ \
        /persistent:no
rabbitmqctl-password            @password              rabbitmqctl add_user ci '@@'
rabbitmqctl-password            @password              rabbitmqctl change_password admin @@
psql-alter-user-password        @password              psql -c "ALTER USER app WITH PASSWORD '@@'"
psql-alter-user-password        @password              psql -U postgres -d app -c "CREATE ROLE deploy LOGIN \
        PASSWORD '@@'"
mysql-password-argument         @password              mysql -uroot -p@@ -e 'SHOW DATABASES'
mysql-password-argument         @password              mysql -h db.acme.internal -u app --password=@@ app < \
        schema.sql
mysql-create-user               @password              mysql -u root -e "CREATE USER 'app'@'%' IDENTIFIED BY \
        '@@'"
mysql-create-user               @password              mysql -e "ALTER USER 'root'@'localhost' IDENTIFIED BY \
        '@@'"
sshpass-password                @password              sshpass -p '@@' ssh deploy@10.0.0.5 'systemctl \
        restart app'
sshpass-password                @password              sshpass -p @@ scp build.tar \
        ci@build.acme.internal:/tmp/
curl-user-password              @password              curl -u admin:@@ https://jenkins.acme.io/api/json
curl-user-password              @password              curl --user 'ci:@@' -X POST \
        https://nexus.acme.io/service/rest/v1/components?repository=releases -F raw.asset1=@app.tar
curl-bearer-opaque              {alnum:40}             curl -H "Authorization: Bearer @@" \
        https://api.acme.io/v1/deploys
curl-bearer-opaque              {alnum:40}             curl -sS -H 'X-API-Key: @@' \
        https://api.acme.io/v2/status
gh-auth-with-token              ghp_{alnum:36}         gh auth login --with-token <<< '@@'
gh-auth-with-token              ghp_{alnum:36}         echo @@ | gh auth login --with-token
gh-secret-set-body              npm_{alnum:36}         gh secret set NPM_TOKEN --body '@@'
gh-secret-set-body              npm_{alnum:36}         gh secret set NPM_TOKEN -b @@ --repo acme/app
npm-config-auth-token           {uuid}                 npm config set //registry.npmjs.org/:_authToken @@
npm-config-auth-token           {uuid}                 npm config set '//npm.pkg.github.com/:_authToken=@@'
kubectl-create-secret-literal   @password              kubectl create secret generic db \
        --from-literal=username=app --from-literal=password='@@'
kubectl-create-secret-literal   @password              kubectl -n prod create secret generic api \
        --from-literal=api-key=@@
kubectl-set-credentials-token   {urlsafe:40}           kubectl config set-credentials ci --token=@@
kubectl-set-credentials-token   {urlsafe:40}           kubectl --token @@ --server https://k8s.acme.io:6443 \
        get pods
kubeadm-join-token              {lalnum:6}.{lalnum:16}  kubeadm join 10.0.0.10:6443 --token @@ \
        --discovery-token-ca-cert-hash sha256:9f2c4e1a7b3d5f6e8c0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e
kubeadm-join-token              {lalnum:6}.{lalnum:16}  kubeadm token create @@ --ttl 2h
heroku-config-set               @password              heroku config:set DATABASE_PASSWORD='@@' --app \
        acme-prod
heroku-config-set               @password              heroku config:set SMTP_PASSWORD=@@ -a acme-staging
ldap-bind-password              @password              ldapsearch -x -H ldap://ldap.acme.io -D \
        "cn=admin,dc=acme,dc=io" -w '@@' -b "dc=acme,dc=io" "(uid=jane)"
ldap-bind-password              @password              ldapmodify -x -D cn=admin,dc=acme,dc=io -w @@ -f \
        change.ldif
mongosh-password                @password              mongosh "mongodb://db.acme.internal:27017/app" -u app \
        -p '@@' --authenticationDatabase admin
mongosh-password                @password              mongosh --host rs0/db1:27017 --username root \
        --password @@
git-clone-credentials           @url-password          git clone https://ci:@@@gitlab.acme.io/platform/api.git
git-clone-credentials           @url-password          git remote set-url origin \
        https://jane:@@@bitbucket.org/acme/app.git
pg-dump-url                     @url-password          pg_dump \
        "postgresql://backup:@@@db.acme.internal:5432/app" > dump.sql
pg-dump-url                     @url-password          psql postgres://app:@@@10.0.3.7/app -c 'select 1'
pgpassword-prefix               @password              PGPASSWORD='@@' psql -h db.acme.internal -U app -c \
        '\dt'
pgpassword-prefix               @password              env PGPASSWORD=@@ pg_restore -h db -U app -d app \
        dump.bin
helm-repo-password              @password              helm repo add acme https://charts.acme.io --username \
        ci --password '@@'
helm-repo-password              @password              helm registry login ghcr.io -u ci -p @@
twine-upload-password           pypi-AgEIcHlwaS5vcmc{urlsafe:120}  twine upload -u __token__ -p @@ dist/*
twine-upload-password           pypi-AgEIcHlwaS5vcmc{urlsafe:120}  python -m twine upload --username \
        __token__ --password @@ --repository testpypi dist/*
az-storage-account-key          @azure-key             az storage blob upload --account-name acmestore \
        --account-key @@ -c builds -f app.tar -n app.tar
az-storage-account-key          @azure-key             az storage container list --account-name acmestore \
        --account-key '@@' -o table
wget-password                   @password              wget --user=ci --password='@@' \
        https://nexus.acme.io/repository/raw/app.jar
wget-password                   @password              wget --http-user=deploy --http-password=@@ \
        https://files.acme.io/build.tgz
gpg-passphrase                  @password              gpg --batch --yes --passphrase '@@' -d \
        secrets.tar.gpg > secrets.tar
gpg-passphrase                  @password              gpg --pinentry-mode loopback --passphrase=@@ \
        --detach-sign release.tar.gz
sqlplus-connect                 @url-password          sqlplus system/@@@//db.acme.io:1521/ORCLPDB1 \
        @migrate.sql
sqlplus-connect                 @url-password          sqlplus -S app/@@@prod
docker-run-env-password         @password              docker run -d -e POSTGRES_PASSWORD='@@' -p 5432:5432 \
        postgres:16
docker-run-env-password         @password              docker run --rm -e MYSQL_ROOT_PASSWORD=@@ mysql:8.4
terraform-var-password          @password              terraform apply -var 'db_password=@@' -auto-approve
terraform-var-password          @password              terraform plan -var="admin_password=@@" -out plan.out
ansible-extra-vars-password     @password              ansible-playbook site.yml -i inventory -e \
        "ansible_become_password=@@"
ansible-extra-vars-password     @password              ansible all -m ping -e ansible_password=@@
vault-kv-put-password           @password              vault kv put secret/prod/db username=app password='@@'
vault-kv-put-password           @password              vault write database/config/app password=@@
nmcli-wifi-password             @password              nmcli dev wifi connect AcmeCorp password '@@'
nmcli-wifi-password             @password              nmcli con modify AcmeCorp wifi-sec.psk @@
influx-token                    {urlsafe:86}==         influx config create -n prod -u \
        https://influx.acme.io -t @@ -o acme
influx-token                    {urlsafe:86}==         influx write -b metrics -t '@@' -f data.lp
snowsql-password-env            @password              SNOWSQL_PWD='@@' snowsql -a acme-xy12345 -u ci -q \
        'select 1'
snowsql-password-env            @password              SNOWFLAKE_PASSWORD=@@ dbt run --target prod
cf-login-password               @password              cf login -a https://api.cf.acme.io -u ci -p '@@' -o \
        acme -s prod
cf-login-password               @password              cf auth ci @@
oc-login-token                  sha256~{urlsafe:43}    oc login --token=@@ \
        --server=https://api.ocp.acme.io:6443
oc-login-token                  sha256~{urlsafe:43}    oc login https://api.ocp.acme.io:6443 --token @@
argocd-login-password           @password              argocd login argocd.acme.io --username admin \
        --password '@@'
argocd-login-password           @password              argocd login cd.acme.io --username ci --password @@ \
        --grpc-web
jfrog-cli-password              @password              jf config add acme --url https://acme.jfrog.io --user \
        ci --password '@@' --interactive=false
jfrog-cli-password              @password              jfrog rt ping --url https://acme.jfrog.io/artifactory \
        --user ci --password @@
ssh-keygen-passphrase           @password              ssh-keygen -t ed25519 -N '@@' -f deploy_key -C \
        deploy@acme
ssh-keygen-passphrase           @password              ssh-keygen -p -P old-one -N @@ -f ~/.ssh/id_ed25519
minio-alias-secret              {alnum:40}             mc alias set minio http://minio.acme.internal:9000 \
        ci-uploader @@
minio-alias-secret              {alnum:40}             mc alias set backup \
        https://s3.eu-central-1.wasabisys.com backup-writer '@@'
dotnet-nuget-password           @password              dotnet nuget add source \
        https://nuget.acme.io/v3/index.json -n acme -u ci -p '@@' --store-password-in-clear-text
dotnet-nuget-password           @password              nuget sources add -Name acme -Source \
        https://nuget.acme.io/v3/index.json -Username ci -Password @@
pip-index-url-credentials       @url-password          pip install --index-url \
        https://ci:@@@pypi.acme.io/simple app==1.4.2
pip-index-url-credentials       @url-password          pip config set global.extra-index-url \
        https://deploy:@@@nexus.acme.io/repository/pypi/simple
sentry-cli-auth-token           sntryu_{hex:64}        sentry-cli --auth-token @@ releases new 1.4.2
sentry-cli-auth-token           sntryu_{hex:64}        SENTRY_AUTH_TOKEN=@@ sentry-cli sourcemaps upload dist/
vercel-deploy-token             {alnum:24}             vercel deploy --prod --token @@
vercel-deploy-token             {alnum:24}             vercel env pull .env.local --token=@@
netlify-deploy-auth             nfp_{alnum:36}         netlify deploy --prod --auth @@ --dir dist
netlify-deploy-auth             nfp_{alnum:36}         NETLIFY_AUTH_TOKEN=@@ netlify status
flyctl-access-token             fo1_{urlsafe:43}       flyctl deploy --access-token @@
flyctl-access-token             fo1_{urlsafe:43}       fly secrets list -a acme-api -t @@
firebase-deploy-token           1//0{letters:1}{urlsafe:98}  firebase deploy --only hosting --token "@@"
firebase-deploy-token           1//0{letters:1}{urlsafe:98}  FIREBASE_TOKEN=@@ firebase use prod
dotnet-user-secrets-set         {alnum:32}             dotnet user-secrets set "Stripe:SecretKey" "@@"
dotnet-user-secrets-set         {alnum:32}             dotnet user-secrets set ConnectionStrings:Db \
        "Server=db;User Id=sa;Password=@@"
wp-cli-user-password            @password              wp user create ci ci@acme.io --role=administrator \
        --user_pass='@@'
wp-cli-user-password            @password              wp user update admin --user_pass=@@
"""


FILE_TABLE = r"""
# format id                     variant         value           file                template
netrc-password                  multi-line      {alnum:40}      /home/runner/.netrc  machine api.heroku.com\
        \n  login jane@acme.io\n  password @@
netrc-password                  one-line        {alnum:40}      /home/runner/.netrc  machine nexus.acme.io \
        login ci password @@
maven-settings-password         server          @password       /home/runner/.m2/settings.xml  <settings>\
        \n  <servers>\n    <server>\n      <id>nexus</id>\n      <username>ci</username>\
        \n      <password>@@</password>\n    </server>\n  </servers>\n</settings>
maven-settings-password         proxy           @password       /home/runner/.m2/settings.xml  <proxy>\
        \n  <id>corp</id>\n  <host>proxy.acme.io</host>\n  <username>svc</username>\
        \n  <password>@@</password>\n</proxy>
pgpass-entry                    pgpass          @password       /home/runner/.pgpass  \
        db.acme.internal:5432:app:app_user:@@
pgpass-entry                    wildcard        @password       /home/runner/.pgpass  *:*:*:postgres:@@
git-credentials-store           github          ghp_{alnum:36}  /home/runner/.git-credentials  \
        https://jane:@@@github.com
git-credentials-store           gitlab          @url-password   /home/runner/.git-credentials  \
        https://ci:@@@gitlab.acme.io
pip-conf-index-url              pip-conf        @url-password   /home/runner/.config/pip/pip.conf  [global]\
        \nindex-url = https://ci:@@@nexus.acme.io/repository/pypi/simple
pip-conf-index-url              requirements    @url-password   requirements.txt    --extra-index-url \
        https://deploy:@@@pypi.acme.io/simple\nrequests==2.32.3
wp-config-secrets               db-password     @password       wp-config.php       define( 'DB_NAME', \
        'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '@@' );
wp-config-secrets               auth-key        @password       wp-config.php       define( 'AUTH_KEY', '@@' \
        );
spring-datasource-password      properties      @password       src/main/resources/application.properties  \
        spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.username=app\
        \nspring.datasource.password=@@
spring-datasource-password      yaml            @password       src/main/resources/application.yml  spring:\
        \n  datasource:\n    url: jdbc:postgresql://db:5432/app\n    username: app\n    password: @@
dotnet-connection-string        appsettings     @password       appsettings.Production.json  {\
        \n  "ConnectionStrings": {\n    "DefaultConnection": \
        "Server=tcp:acme.database.windows.net,1433;Initial Catalog=app;User \
        ID=admin;Password=@@;Encrypt=True;"\n  }\n}
dotnet-connection-string        web-config      @password       Web.config          <connectionStrings>\
        \n  <add name="Db" connectionString="Data Source=db;Initial Catalog=app;User Id=sa;Password=@@" />\
        \n</connectionStrings>
nuget-config-password           nuget-config    @password       NuGet.Config        \
        <packageSourceCredentials>\n  <acme>\n    <add key="Username" value="ci" />\n    <add \
        key="ClearTextPassword" value="@@" />\n  </acme>\n</packageSourceCredentials>
gradle-properties-password      ossrh           @password       gradle.properties   ossrhUsername=acme\
        \nossrhPassword=@@
gradle-properties-password      signing         @password       /home/runner/.gradle/gradle.properties  \
        signing.keyId=24875D73\nsigning.password=@@\nsigning.secretKeyRingFile=/home/runner/.gnupg/secring.gpg
terraform-tfvars-password       tfvars          @password       terraform.tfvars    region      = "eu-west-1"\
        \ndb_password = "@@"
terraform-tfvars-password       auto-tfvars     @password       prod.auto.tfvars    admin_password = "@@"
ansible-vars-password           become          @password       group_vars/all.yml  ansible_user: deploy\
        \nansible_become_password: @@
ansible-vars-password           ssh-pass        @password       inventory/hosts.ini  [web]\n10.0.0.5 \
        ansible_user=root ansible_ssh_pass=@@
s3cfg-secret-key                s3cfg           @aws-secret     /home/runner/.s3cfg  [default]\naccess_key = \
        minio-ci\nsecret_key = @@\nhost_base = minio.acme.internal:9000
rclone-conf-key                 b2              {alnum:31}      /home/runner/.config/rclone/rclone.conf  [b2]\
        \ntype = b2\naccount = 0042bf8a1c4e\nkey = @@
rclone-conf-key                 s3              {alnum:31}      /home/runner/.config/rclone/rclone.conf  \
        [wasabi]\ntype = s3\nprovider = Wasabi\naccess_key_id = WSB8Q2P1\nsecret_access_key = @@
composer-auth-json              http-basic      {hex:40}        auth.json           {\n  "http-basic": {\
        \n    "repo.packagist.com": {"username": "token", "password": "@@"}\n  }\n}
composer-auth-json              github-oauth    {hex:40}        auth.json           {\n  "github-oauth": \
        {"github.com": "@@"}\n}
my-cnf-password                 client          @password       /home/runner/.my.cnf  [client]\nuser=root\
        \npassword=@@\nhost=db.acme.internal
redis-conf-requirepass          requirepass     @password       redis.conf          bind 0.0.0.0\nport 6379\
        \nrequirepass @@
redis-conf-requirepass          masterauth      @password       redis.conf          replicaof 10.0.0.4 6379\
        \nmasterauth @@
wpa-supplicant-psk              psk             @password       /etc/wpa_supplicant/wpa_supplicant.conf  \
        network={\n    ssid="AcmeCorp"\n    psk="@@"\n}
k8s-secret-string-data          string-data     @password       k8s/db-secret.yaml  apiVersion: v1\nkind: \
        Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  username: app\n  password: @@
k8s-secret-data-base64          data            @b64-password   k8s/api-secret.yaml  apiVersion: v1\nkind: \
        Secret\nmetadata:\n  name: api\ntype: Opaque\ndata:\n  api-key: @@
docker-compose-password         list            @password       docker-compose.yml  services:\n  db:\
        \n    image: postgres:16\n    environment:\n      - POSTGRES_USER=app\n      - POSTGRES_PASSWORD=@@
docker-compose-password         command         @password       compose.yaml        services:\n  cache:\
        \n    image: redis:7\n    command: redis-server --requirepass @@
docker-config-auth              config-json     basic:ci        /home/runner/.docker/config.json  {\
        \n  "auths": {\n    "ghcr.io": {\n      "auth": "@@"\n    }\n  }\n}
jdbc-url-password               postgres        @url-password   src/main/resources/db.properties  \
        db.url=jdbc:postgresql://db.acme.internal:5432/app?user=app&password=@@&ssl=true
jdbc-url-password               sqlserver       @url-password   conf/datasource.properties  \
        url=jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=@@;encrypt=true
database-url-password           postgres        @url-password   .env                \
        DATABASE_URL=postgres://app:@@@db.acme.internal:5432/app
database-url-password           mysql           @url-password   config/database.yml  production:\n  url: \
        mysql2://rails:@@@mysql.acme.internal/app_production
mongodb-srv-url                 env             @url-password   .env                \
        MONGODB_URI=mongodb+srv://app:@@@cluster0.ab1cd.mongodb.net/app?retryWrites=true&w=majority
mongodb-srv-url                 code            @url-password   src/db.js           await \
        mongoose.connect('mongodb+srv://admin:@@@cluster0.ab1cd.mongodb.net/prod');
redis-url-password              no-user         @url-password   .env                \
        REDIS_URL=redis://:@@@cache.acme.internal:6379/0
redis-url-password              upstash         @url-password   .env                \
        REDIS_URL=rediss://default:@@@eu1-fancy-owl-38211.upstash.io:6379
amqp-url-password               env             @url-password   .env                \
        CELERY_BROKER_URL=amqp://worker:@@@rabbitmq.acme.internal:5672/prod
amqp-url-password               yaml            @url-password   config/queue.yaml   broker:\n  url: \
        amqps://svc:@@@b-1234.mq.eu-west-1.amazonaws.com:5671
https-basic-url                 npm-registry    @url-password   .yarnrc.yml         npmRegistryServer: \
        "https://ci:@@@npm.acme.io/repository/npm/"
https-basic-url                 webhook         @url-password   config/hooks.json   {"url": \
        "https://hook:@@@hooks.acme.io/deploy"}
ftp-url-password                ftp             @url-password   deploy/upload.txt   \
        ftp://deploy:@@@ftp.acme.io/public_html/
smtp-url-user-with-at           mailgun         @url-password   .env                \
        SMTP_URL=smtp://postmaster@mg.example.com:@@@smtp.mailgun.org:587
smtp-url-user-with-at           sendgrid        @url-password   config/mail.yaml    dsn: \
        smtp://apikey@acme.io:@@@smtp.sendgrid.net:465
mysqlsh-uri-without-scheme      uri             @url-password   scripts/mysql.sh    mysqlsh --uri \
        root:@@@db.acme.internal:3306 --sql -e 'select 1'
mysqlsh-uri-without-scheme      connect         @url-password   NOTES.md            connect with `\connect \
        admin:@@@10.0.3.7:33060`
jenkins-credentials-xml         username-password  @password       credentials.xml     \
        <com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>\n  <id>deploy</id>\
        \n  <username>ci</username>\n  <password>@@</password>\
        \n</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>
nginx-basic-auth-header         proxy-header    basic:svc       nginx/conf.d/upstream.conf  proxy_set_header \
        Authorization "Basic @@";
"""


PROSE_TABLE = r"""
# format id                     variant         value           file                template
prose-password-sentence         english         @password       NOTES.md            the staging admin \
        password is @@
prose-password-sentence         german          @password       NOTES.md            Das Passwort für den \
        Staging-Admin lautet @@
prose-password-sentence         spanish         @password       NOTES.md            la contraseña del \
        usuario admin es @@
prose-pw-colon                  pw              @password       NOTES.md            pw: @@
prose-pw-colon                  pwd             @password       NOTES.md            VPN pwd = @@
prose-login-pair                slash           @password       NOTES.md            Log in to the admin \
        panel with admin / @@
prose-login-pair                as-with         @password       handover.md         You can sign in as \
        ops@acme.io with @@ until Friday.
prose-token-in-chat             chat            {alnum:40}      NOTES.md            here's my token @@ it \
        expires on Friday, rotate after the demo
prose-token-in-chat             api-key         {alnum:40}      NOTES.md            The API key for the \
        sandbox account is @@
prose-passphrase                signing         @passphrase     RELEASING.md        The passphrase for the \
        release signing key is @@
prose-passphrase                wifi            @passphrase     NOTES.md            Wi-Fi AcmeGuest, \
        passphrase @@
prose-credentials-list          markdown-list   @password       handover.md         Credentials for the \
        staging DB:\n- host: db.staging.acme.internal\n- user: deploy\n- pass: @@
prose-credentials-list          markdown-table  @password       handover.md         | env | user | password |\
        \n|-----|------|----------|\n| staging | admin | @@ |
prose-secret-in-ticket          ticket          @password       TICKET.md           Repro: run the importer \
        as svc_import (password @@) against prod-replica.
prose-secret-in-ticket          email           @password       mail.txt            Hi Jane, the temporary \
        password for your account is @@ - please change it after first login.
"""


LABEL_TABLE = r"""
# format id                        value                                 variable
# the names of the bug report
label-db-pass                      @password                               DB_PASS
label-admin-pass                   @password                               ADMIN_PASS
label-dd-app-key                   {hex:40}                                DD_APP_KEY
label-dd-api-key                   {hex:32}                                DD_API_KEY
label-laravel-app-key              @laravel-key                            APP_KEY
label-webhook-hmac-key             {hex:64}                                WEBHOOK_HMAC_KEY
label-new-relic-license-key        {hex:36}NRAL                            NEW_RELIC_LICENSE_KEY
label-ts-authkey                   tskey-auth-k{alnum:11}CNTRL-{alnum:32}  TS_AUTHKEY
label-azure-devops-ext-pat         {b32:52}                                AZURE_DEVOPS_EXT_PAT
label-azure-devops-pat-84          {alnum:76}AZDO{alnum:4}                 AZURE_DEVOPS_PAT
label-deploy-key-b64               @deploy-key-b64                         DEPLOY_KEY_B64
label-npmrc-auth                   basic:ci                                NPM_AUTH
# application secrets
label-django-secret-key            {django:50}                             DJANGO_SECRET_KEY
label-rails-secret-key-base        {hex:128}                               SECRET_KEY_BASE
label-rails-master-key             {hex:32}                                RAILS_MASTER_KEY
label-jwt-secret                   {urlsafe:64}                            JWT_SECRET
label-session-secret               {hex:64}                                SESSION_SECRET
label-encryption-key               @b64-32                                 ENCRYPTION_KEY
label-nextauth-secret              @b64-32                                 NEXTAUTH_SECRET
label-cookie-secret                {alnum:48}                              COOKIE_SECRET
label-signing-secret               {hex:32}                                SLACK_SIGNING_SECRET
label-github-webhook-secret        {hex:40}                                GITHUB_WEBHOOK_SECRET
label-oauth-client-secret          {alnum:40}                              OAUTH_CLIENT_SECRET
label-private-token                {alnum:32}                              PRIVATE_TOKEN
label-access-token                 {alnum:48}                              ACCESS_TOKEN
label-refresh-token                {urlsafe:64}                            REFRESH_TOKEN
label-api-secret                   {alnum:40}                              API_SECRET
label-api-key                      {alnum:32}                              API_KEY
label-secret-access-key            @aws-secret                             SECRET_ACCESS_KEY
label-private-key-value            {b64:64}                                PRIVATE_KEY
label-master-password              @password                               MASTER_PASSWORD
# service passwords
label-smtp-password                @password                               SMTP_PASSWORD
label-redis-password               @password                               REDIS_PASSWORD
label-postgres-password            @password                               POSTGRES_PASSWORD
label-mysql-root-password          @password                               MYSQL_ROOT_PASSWORD
label-rabbitmq-default-pass        @password                               RABBITMQ_DEFAULT_PASS
label-minio-root-password          @password                               MINIO_ROOT_PASSWORD
label-grafana-admin-password       @password                               GF_SECURITY_ADMIN_PASSWORD
label-keycloak-admin-password      @password                               KC_BOOTSTRAP_ADMIN_PASSWORD
label-elastic-password             @password                               ELASTIC_PASSWORD
label-elastic-api-key              basic:ingest-2026-05                    ELASTIC_API_KEY
label-ldap-bind-password           @password                               LDAP_BIND_PASSWORD
# service tokens known by their variable only
label-vercel-token                 {alnum:24}                              VERCEL_TOKEN
label-netlify-auth-token           {urlsafe:43}                            NETLIFY_AUTH_TOKEN
label-cloudflare-api-token         {urlsafe:40}                            CLOUDFLARE_API_TOKEN
label-cloudflare-global-api-key    {hex:37}                                CLOUDFLARE_API_KEY
label-algolia-admin-key            {hex:32}                                ALGOLIA_ADMIN_API_KEY
label-okta-api-token               00{urlsafe:40}                          OKTA_API_TOKEN
label-auth0-client-secret          {urlsafe:64}                            AUTH0_CLIENT_SECRET
label-mistral-api-key              {alnum:32}                              MISTRAL_API_KEY
label-cohere-api-key               {alnum:40}                              CO_API_KEY
label-wandb-api-key                {hex:40}                                WANDB_API_KEY
label-together-api-key-hex         {hex:64}                                TOGETHER_API_KEY
label-pagerduty-token              u+{urlsafe:18}                          PAGERDUTY_TOKEN
label-ngrok-authtoken              2{alnum:26}_{alnum:21}                  NGROK_AUTHTOKEN
label-linode-token                 {hex:64}                                LINODE_TOKEN
label-hcloud-token                 {alnum:64}                              HCLOUD_TOKEN
label-vultr-api-key                {ualnum:36}                             VULTR_API_KEY
label-twilio-auth-token            {hex:32}                                TWILIO_AUTH_TOKEN
label-postmark-server-token        {uuid}                                  POSTMARK_SERVER_TOKEN
label-consul-http-token            {uuid}                                  CONSUL_HTTP_TOKEN
label-nomad-token                  {uuid}                                  NOMAD_TOKEN
label-snyk-token                   {uuid}                                  SNYK_TOKEN
label-codecov-token                {uuid}                                  CODECOV_TOKEN
label-heroku-api-key-uuid          {uuid}                                  HEROKU_API_KEY
label-ibm-cloud-api-key            {urlsafe:44}                            IBMCLOUD_API_KEY
label-arm-client-secret            {alnum:3}{digits:1}Q~{azure:34}         ARM_CLIENT_SECRET
label-facebook-app-secret          {hex:32}                                FACEBOOK_APP_SECRET
label-github-client-secret         {hex:40}                                GITHUB_CLIENT_SECRET
label-twitter-bearer-token         AAAAAAAAAAAAAAAAAAAAA{alnum:90}         TWITTER_BEARER_TOKEN
label-mongodb-atlas-private-key    {uuid}                                  MONGODB_ATLAS_PRIVATE_KEY
label-launchdarkly-api-key         api-{uuid}                              LAUNCHDARKLY_ACCESS_TOKEN
label-sonar-token-hex              {hex:40}                                SONAR_TOKEN
"""


LABEL_VARIANT_TABLE = r"""
# format id                     variant         value           file                template
label-db-pass                   yaml            *               config/settings.yaml  db_pass: @@
label-db-pass                   export          *               .envrc              export DB_PASS="@@"
label-admin-pass                json            *               config/settings.json  {\n  "adminPass": "@@"\
        \n}
label-dd-app-key                yaml            *               datadog.yaml        app_key: @@
label-dd-api-key                yaml            *               /etc/datadog-agent/datadog.yaml  api_key: @@
label-laravel-app-key           php             *               config/app.php      'key' => env('APP_KEY', \
        '@@'),
label-webhook-hmac-key          json            *               config/settings.json  {\n  "webhookHmacKey": \
        "@@"\n}
label-new-relic-license-key     newrelic-yml    *               newrelic.yml        common: &default_settings\
        \n  license_key: '@@'\n  app_name: acme-api
label-ts-authkey                compose         *               docker-compose.yml        - TS_AUTHKEY=@@
label-azure-devops-ext-pat      export          *               .envrc              export \
        AZURE_DEVOPS_EXT_PAT="@@"
label-azure-devops-pat-84       yaml            *               config/settings.yaml  azure_devops_pat: @@
label-deploy-key-b64            workflow-env    *               .github/workflows/env.yaml  DEPLOY_KEY_B64: @@
label-dockerconfigjson          k8s-secret      @dockerconfigjson  k8s/regcred.yaml    apiVersion: v1\nkind: \
        Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\ndata:\
        \n  .dockerconfigjson: @@
label-dockerconfigjson          k8s-json        @dockerconfigjson  k8s/regcred.json    {"apiVersion": "v1", \
        "kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "@@"}}
label-npmrc-auth                npmrc           *               .npmrc              \
        registry=https://nexus.acme.io/repository/npm/\n_auth=@@\nalways-auth=true
label-npmrc-auth                scoped          *               .npmrc              \
        //nexus.acme.io/repository/npm/:_auth=@@
label-django-secret-key         python          *               app/settings.py     SECRET_KEY = '@@'
label-rails-secret-key-base     yaml            *               config/secrets.yml  secret_key_base: @@
label-rails-master-key          master-key      *               config/master.key   @@
label-jwt-secret                json            *               config/settings.json  {\n  "jwtSecret": "@@"\
        \n}
label-session-secret            js              *               src/server.js       app.use(session({ \
        secret: '@@', resave: false }))
label-encryption-key            toml            *               config.toml         encryption_key = "@@"
label-nextauth-secret           export          *               .envrc              export AUTH_SECRET="@@"
label-cookie-secret             yaml            *               config/settings.yaml  cookie_secret: @@
label-signing-secret            json            *               config/settings.json  {\n  "signingSecret": \
        "@@"\n}
label-github-webhook-secret     yaml            *               config/settings.yaml  webhook_secret: @@
label-oauth-client-secret       yaml            *               config/settings.yaml  client_secret: @@
label-oauth-client-secret       json            *               config/settings.json  {\n  "clientSecret": \
        "@@"\n}
label-private-token             toml            *               config.toml         private_token = "@@"
label-access-token              json            *               config/settings.json  {\n  "access_token": \
        "@@"\n}
label-refresh-token             json            *               config/settings.json  {\n  "refresh_token": \
        "@@"\n}
label-api-secret                yaml            *               config/settings.yaml  api_secret: @@
label-api-key                   toml            *               config.toml         api_key = "@@"
label-api-key                   ini             *               config.ini          [service]\napi_key = @@
label-secret-access-key         json            *               config/settings.json  {\
        \n  "secretAccessKey": "@@"\n}
label-private-key-value         json            *               config/settings.json  {\n  "privateKey": "@@"\
        \n}
label-master-password           yaml            *               config/settings.yaml  master_password: @@
label-smtp-password             yaml            *               config/settings.yaml  smtp_password: @@
label-smtp-password             mail-password   *               .env                MAIL_PASSWORD=@@
label-redis-password            yaml            *               config/settings.yaml  redis_password: @@
label-postgres-password         compose         *               docker-compose.yml        POSTGRES_PASSWORD: \
        @@
label-mysql-root-password       dockerfile      *               Dockerfile          ENV MYSQL_ROOT_PASSWORD=@@
label-rabbitmq-default-pass     yaml            *               rabbitmq.yaml       default_pass: @@
label-minio-root-password       export          *               .envrc              export \
        MINIO_SECRET_KEY="@@"
label-grafana-admin-password    ini             *               grafana.ini         [security]\
        \nadmin_password = @@
label-keycloak-admin-password   yaml            *               values.yaml         adminPassword: @@
label-elastic-password          yaml            *               kibana.yml          elasticsearch.password: @@
label-elastic-api-key           header          *               requests.http       Authorization: ApiKey @@
label-ldap-bind-password        yaml            *               config/ldap.yaml    bindPassword: @@
label-vercel-token              json            *               .vercel/auth.json   {\n  "token": "@@"\n}
label-cloudflare-api-token      toml            *               wrangler.toml       api_token = "@@"
label-cloudflare-global-api-key  header          *               requests.http       X-Auth-Key: @@
label-algolia-admin-key         js              *               scripts/index.js    const client = \
        algoliasearch('ABCD1234EF', '@@');
label-okta-api-token            yaml            *               okta.yaml           token: @@
label-wandb-api-key             netrc           *               /home/runner/.netrc  machine api.wandb.ai\
        \n  login user\n  password @@
label-pagerduty-token           header          *               requests.http       Authorization: Token \
        token=@@
label-ngrok-authtoken           yaml            *               /home/runner/.config/ngrok/ngrok.yml  \
        authtoken: @@
label-twilio-auth-token         python          *               app/sms.py          client = Client('AC' + \
        account_suffix, '@@')
label-postmark-server-token     header          *               requests.http       X-Postmark-Server-Token: \
        @@
label-codecov-token             yaml            *               codecov.yml         token: @@
# secret-named keys in every syntax
label-short-names               passwd          @password       config/settings.yaml  passwd: @@
label-short-names               pwd             @password       config/app.conf     pwd=@@
label-short-names               pass            @password       config/db.yaml      pass: @@
label-short-names               secret          @password       config.ini          secret = @@
label-camel-case-names          api-key         {alnum:32}      src/config.ts       const config = { apiKey: \
        '@@', region: 'eu' };
label-camel-case-names          db-password     {alnum:32}      config/app.yaml     dbPassword: @@
label-camel-case-names          auth-token      {alnum:32}      config/app.json     "authToken": "@@"
label-k8s-env-name-value        k8s             {alnum:40}      k8s/deployment.yaml  env:\n  - name: \
        API_TOKEN\n    value: "@@"
label-k8s-env-name-value        ecs             {alnum:40}      ecs/task-env.json   [{"name": "DB_PASSWORD", \
        "value": "@@"}]
label-shell-syntaxes            powershell      {alnum:40}      scripts/setup.ps1   $env:API_TOKEN = "@@"
label-shell-syntaxes            fish            {alnum:40}      config.fish         set -x API_TOKEN @@
label-shell-syntaxes            cmd             {alnum:40}      scripts/setup.cmd   set API_TOKEN=@@
label-shell-syntaxes            dockerfile-arg  {alnum:40}      Dockerfile          ARG NPM_TOKEN=@@
label-xml-and-properties        app-config      @password       App.config          <add key="ApiSecret" \
        value="@@" />
label-xml-and-properties        properties      @password       conf/app.properties  db.password=@@
label-xml-and-properties        xml-entry       @password       conf/app.xml        <entry \
        key="client.secret">@@</entry>
label-github-actions-env        workflow-env    {alnum:40}      .github/workflows/deploy.yml  env:\
        \n  DEPLOY_TOKEN: @@\n  REGION: eu-west-1
label-github-actions-env        action-input    {alnum:40}      .github/workflows/deploy.yml        - uses: \
        acme/deploy@v3\n        with:\n          api-token: @@
label-x-api-key-header          header          {alnum:32}      requests.http       X-Api-Key: @@
label-x-api-key-header          lower           {alnum:32}      notes/request.txt   x-api-key: @@
label-query-access-token        access-token    {alnum:40}      notes/export.txt    \
        https://api.acme.io/v1/export?access_token=@@&format=csv
label-query-access-token        api-key         {alnum:40}      notes/stream.txt    \
        wss://stream.acme.io/v2/feed?api_key=@@
label-cookie-header             cookie          {alnum:48}      requests.http       Cookie: theme=dark; \
        session=@@
label-cookie-header             set-cookie      {alnum:48}      response.txt        Set-Cookie: \
        __Host-sid=@@; Path=/; Secure; HttpOnly
label-bearer-opaque             bearer          {alnum:40}      requests.http       Authorization: Bearer @@
label-bearer-opaque             proxy           {alnum:40}      requests.http       Proxy-Authorization: \
        Bearer @@
label-basic-auth-header         header          basic:jane      requests.http       Authorization: Basic @@
label-basic-auth-header         python          basic:jane      scripts/call.py     headers = \
        {'Authorization': 'Basic @@'}
label-token-scheme-header       github-style    {hex:40}        requests.http       Authorization: token @@
label-token-scheme-header       drf-style       {hex:40}        notes/request.txt   Authorization: Token @@
"""


LOOKALIKE_TABLE = r"""
# id                                kind  text
# placeholders and references under secret labels: they name a secret without being one
placeholder-api-key-here            text  API_KEY=your-api-key-here
placeholder-password-x              text  password: xxxxxxxxxxxxxxxx
placeholder-stripe-test-x           text  STRIPE_KEY=sk_test_xxxxxxxxxxxxxxxxxxxx
placeholder-password-stars          text  password: ********
placeholder-token-replace-me        text  TOKEN=REPLACE_ME
placeholder-helm-template           text  password: {{ .Values.db.password }}
placeholder-github-token-x          text  GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
placeholder-angle-your-token        text  Authorization: Bearer <your-token>
placeholder-shell-variable          text  password: ${DB_PASSWORD}
placeholder-changeme                text  DB_PASSWORD=CHANGEME
placeholder-openai-ellipsis         text  OPENAI_API_KEY=sk-...
placeholder-angle-secret            text  AWS_SECRET_ACCESS_KEY=<secret>
placeholder-null                    text  api_key: null
placeholder-empty                   text  password: ""
placeholder-client-secret-caps      text  client_secret: YOUR_CLIENT_SECRET
placeholder-angle-api-key           text  api_key = "<API_KEY>"
placeholder-percent                 text  token: '%TOKEN%'
placeholder-actions-secret          text  password: ${{ secrets.DB_PASSWORD }}
placeholder-actions-github-token    text  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
placeholder-actions-token           text  token: ${{ github.token }}
placeholder-command-substitution    text  password=$(cat /run/secrets/db_password)
placeholder-password-file           text  POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password
placeholder-env-reference-js        text  const apiKey = process.env.OPENAI_API_KEY;
placeholder-env-reference-python    text  API_KEY = os.environ["API_KEY"]
placeholder-getenv                  text  aws_secret_access_key = os.getenv("AWS_SECRET_ACCESS_KEY")
placeholder-settings-reference      text  secret_key = settings.SECRET_KEY
placeholder-smtp-env-refs           text  auth: { user: process.env.SMTP_USER, pass: process.env.SMTP_PASS }
placeholder-export-variable         text  export GITHUB_TOKEN=$GH_TOKEN
placeholder-k8s-secret-key-ref      text  valueFrom:\n  secretKeyRef:\n    name: db-credentials\n    key: \
        password
placeholder-existing-secret         text  auth:\n  existingSecret: redis-auth\n  existingSecretPasswordKey: \
        redis-password
placeholder-terraform-sensitive     text  variable "db_password" {\n  type      = string\n  sensitive = true\
        \n}
placeholder-vault-template          text  password = "{{ with secret "secret/data/db" }}{{ \
        .Data.data.password }}{{ end }}"
placeholder-sops-reference          text  password: ENC[AES256_GCM,data:,iv:,tag:,type:str]
placeholder-example-dotenv          text  # .env.example\
        \nDATABASE_URL=postgres://user:password@localhost:5432/app\nSECRET_KEY=change-me
placeholder-redacted-marker         text  token: [REDACTED]
placeholder-masked-ci               text  GITHUB_TOKEN: ***
placeholder-xxx-pat                 text  \
        AZURE_DEVOPS_EXT_PAT=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
placeholder-angle-brackets-url      text  git clone https://<username>:<token>@github.com/acme/app.git
placeholder-aws-vault               text  credential_process = /usr/local/bin/aws-vault exec prod --json
# names and settings about secrets, with no secret
setting-password-hasher             text  PASSWORD_HASHER=argon2id
setting-password-min-length         text  PASSWORD_MIN_LENGTH=12
setting-token-ttl                   text  TOKEN_TTL=3600
setting-secret-rotation-days        text  SECRET_ROTATION_DAYS=90
setting-auth-provider               text  AUTH_PROVIDER=github
setting-api-key-header-name         text  API_KEY_HEADER=X-Api-Key
setting-jwt-algorithm               text  JWT_ALGORITHM=RS256
setting-session-cookie-secure       text  SESSION_COOKIE_SECURE=true
setting-oauth-callback              text  OAUTH_CALLBACK_URL=https://app.example.com/auth/callback
setting-keycloak-realm              text  KEYCLOAK_REALM=master
setting-aws-region                  text  AWS_REGION=us-east-1
setting-aws-profile                 text  AWS_PROFILE=prod
setting-vault-addr                  text  VAULT_ADDR=https://vault.example.com:8200
setting-database-url-no-password    text  DATABASE_URL=postgres://localhost:5432/app
setting-redis-url                   text  redis://redis:6379/0
setting-token-type                  text  "token_type": "Bearer", "expires_in": 3600
setting-grant-type                  text  grant_type=client_credentials&scope=read:packages
setting-password-reset-url          text  password_reset_url: https://app.example.com/account/reset
setting-forgot-password-path        text  forgot_password_path = '/users/password/new'
setting-secrets-manager-arn         text  arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf
setting-kms-key-arn                 text  kms_key_id = arn:aws:kms:us-east-1:123456789012:key/@{uuid}
setting-iam-role-arn                text  role-to-assume: arn:aws:iam::123456789012:role/github-actions-deploy
setting-ssm-parameter-name          cmd   aws ssm get-parameter --name /prod/db/password --with-decryption \
        --query Parameter.Value
setting-vault-path                  cmd   vault kv get -field=password secret/prod/db
setting-max-tokens                  text  max_tokens: 4096
setting-input-tokens                text  input_tokens=1234
setting-output-tokens               text  "output_tokens": 512, "cache_read_input_tokens": 20480
setting-max-completion-tokens       text  {"model": "gpt-4o", "max_completion_tokens": 2048}
setting-tokens-per-second           text  tokens_per_second: 87.5
setting-author                      text  author: Jane Doe <jane.doe@example.com>
setting-keyring-backend             text  PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring
setting-ssh-auth-sock               text  SSH_AUTH_SOCK=/tmp/ssh-XXXXXXa1b2/agent.1234
setting-google-client-id            text  \
        GOOGLE_CLIENT_ID=481516234200-abc123def456.apps.googleusercontent.com
setting-bcrypt-rounds               text  BCRYPT_ROUNDS=12
# package names and versions
package-jsonwebtoken                text  "jsonwebtoken": "^9.0.2"
package-next-auth                   text  "next-auth": "^4.24.7"
package-express-basic-auth          text  "express-basic-auth": "^1.2.1"
package-passport-oauth2             text  "passport-oauth2": "^1.8.0"
package-keytar                      text  "keytar": "^7.9.0"
package-bcrypt                      text  "bcrypt": "^5.1.1"
package-aws-credential-providers    text  "@aws-sdk/credential-providers": "^3.600.0"
package-dotenv                      text  "dotenv": "^16.4.5"
package-octokit-auth-token          text  "@octokit/auth-token": "^5.1.1"
package-python-jose                 text  python-jose[cryptography]==3.3.0
package-passlib                     text  passlib[bcrypt]==1.7.4
package-keyring                     text  keyring==25.2.1
package-json-full                   text  {\n  "dependencies": {\n    "jsonwebtoken": "^9.0.2",\
        \n    "next-auth": "^4.24.7",\n    "passport-oauth2": "^1.8.0",\n    "keytar": "^7.9.0"\n  }\n}
package-semver                      text  version: 1.24.3
package-typescript-range            text  "typescript": "~5.4.5"
package-python-requires             text  python_requires=">=3.8"
package-npm-integrity               text  "integrity": "sha512-@{b64:64}"
package-go-sum                      text  github.com/stretchr/testify v1.9.0 h1:@{b64:32}
package-cargo-checksum              text  checksum = "@{hex:64}"
package-pip-hash                    text  requests==2.32.3 --hash=sha256:@{hex:64}
package-tarball-url                 text  https://registry.npmjs.org/jsonwebtoken/-/jsonwebtoken-9.0.2.tgz
# identifiers, hashes and digests an agent prints all day
git-sha-commit                      text  commit @{hex:40}
git-sha-checkout                    cmd   git checkout @{hex:40}
git-sha-short-head                  text  HEAD is now at @{hex:7} fix(auth): rotate session tokens on \
        password change
git-log-oneline                     text  @{hex:7} chore: bump jsonwebtoken from 9.0.1 to 9.0.2\n@{hex:7} \
        Merge pull request #42 from acme/feature/api-keys
git-diff-index                      text  diff --git a/src/auth/token.ts b/src/auth/token.ts\nindex \
        @{hex:7}..@{hex:7} 100644
uuid-request-id                     text  x-request-id: @{uuid}
uuid-session                        text  session @{uuid} started
uuid-tenant-id                      text  tenant_id = "@{uuid}"
sha256-sum                          text  @{hex:64}  dist/app-1.4.2.tar.gz
sha256-ssh-fingerprint              text  ED25519 key fingerprint is SHA256:@{b64:30}.
docker-image-digest                 text  ghcr.io/acme/app@sha256:@{hex:64}
dockerfile-from-digest              text  FROM python:3.12-slim@sha256:@{hex:64}
etag-header                         text  ETag: "@{hex:40}"
traceparent-header                  text  traceparent: 00-@{hex:32}-@{hex:16}-01
gpg-fingerprint                     text  pub   ed25519 2026-05-01 [SC]\n      @{HEX:40}
md5-checksum                        text  MD5 (app.zip) = @{hex:32}
ssh-public-key                      text  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI@{b64:30} jane@laptop
ssh-rsa-public-key                  text  ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ@{b64:255} deploy@ci
pem-public-key                      text  -----BEGIN PUBLIC KEY-----\
        \nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE@{b64:48}\n-----END PUBLIC KEY-----
pem-certificate                     text  -----BEGIN CERTIFICATE-----\nMIIB@{b64:45}\n@{b64:48}\n@{b64:48}\
        \n@{b64:48}\n-----END CERTIFICATE-----
known-hosts-line                    text  github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI@{b64:30}
base64-plain-text                   text  \
        aGVsbG8gd29ybGQsIHRoaXMgaXMgYSBidWlsZCBsb2cgbGluZSBmcm9tIHRoZSB0ZXN0IGpvYg==
base64-json-config                  text  eyJuYW1lIjoiYWNtZSIsInJlZ2lvbiI6ImV1LXdlc3QtMSJ9
base64-data-uri                     text  \
        data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9h@{b64:60}
hex-color                           text  color: #1a2b3c; background: #ffcc00;
ip-and-port                         text  connecting to 10.0.12.34:5432 (db-primary)
email-address                       text  Signed-off-by: Jane Doe <jane.doe@example.com>
jira-key                            text  Fixes PROJ-1234 and PROJ-1240
semver-node                         text  node v20.20.2 (npm 10.8.2)
# file paths and file names
path-token-store                    text  /home/runner/work/app/src/auth/token_store.py
path-secrets-readme                 text  src/secrets/README.md
path-aws-credentials                text  ~/.aws/credentials
path-credentials-enc                text  config/credentials.yml.enc
path-tokenizer-json                 text  tokenizer.json
path-id-rsa-pub                     cmd   cat ~/.ssh/id_rsa.pub
path-password-reset-view            text  app/views/passwords/reset.html.erb
path-secret-scanning-config         text  .github/secret_scanning.yml
# code that mentions tokens and passwords
code-request-authorization          text  token = request.headers.get("Authorization")
code-getpass                        text  password = getpass.getpass("Password: ")
code-missing-secret                 text  if not secret:\n    raise ValueError("missing secret")
code-verify-token                   text  def verify_token(token: str) -> bool:
code-bearer-fstring                 text  headers = {"Authorization": f"Bearer {token}"}
code-token-count                    text  token_count = len(tokens)
code-password-hash                  text  password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
code-java-encoder                   text  PasswordEncoder encoder = \
        PasswordEncoderFactories.createDelegatingPasswordEncoder();
code-secrets-manager-client         text  SecretsManagerClient client = \
        SecretsManagerClient.builder().build();
code-token-refresh-class            text  class TokenRefreshInterceptor implements HttpInterceptor {
code-go-struct                      text  type Credentials struct {\n    Username string `json:"username"`\
        \n    Password string `json:"password"`\n}
code-sql-column                     text  ALTER TABLE users ADD COLUMN password_digest varchar(255) NOT NULL;
code-regex-secret                   text  SECRET_RE = re.compile(r'(?i)(api[_-]?key|secret)\s*[:=]\s*\S+')
code-openai-usage                   text  response = client.chat.completions.create(model="gpt-4o", \
        messages=messages, max_tokens=4096)
code-api-key-param                  text  def create_client(api_key: Optional[str] = None) -> Client:
# test names, log lines, commit messages, prose
test-name-invalid-password          text  test_invalid_password_is_rejected
test-name-pytest-line               text  tests/test_auth.py::test_refresh_token_expiry PASSED [ 42%]
test-name-unittest                  text  test_secret_rotation (tests.test_vault.VaultTest) ... ok
log-token-refreshed                 text  2026-05-01T10:00:00Z INFO auth: token refreshed for user 42
log-password-policy                 text  WARN password policy: minimum length 12
log-invalid-api-key                 text  ERROR invalid api key (status 401)
log-maven-download                  text  [INFO] Downloading from central: \
        https://repo.maven.apache.org/maven2/org/bouncycastle/bcprov-jdk18on/1.78/bcprov-jdk18on-1.78.pom
log-npm-warn                        text  npm WARN deprecated request@2.88.2: request has been deprecated
log-http-401                        text  127.0.0.1 - - [01/May/2026:10:00:00 +0000] "POST /oauth/token \
        HTTP/1.1" 401 61
commit-rotate-tokens                text  fix(auth): rotate session tokens on password change
commit-bump-jsonwebtoken            text  chore: bump jsonwebtoken from 9.0.1 to 9.0.2
commit-merge-api-keys               text  Merge pull request #42 from acme/feature/api-keys
prose-password-policy               text  The password must be at least 12 characters and include a number.
prose-rotate-key                    text  Rotate the API key every 90 days and store it in the vault.
prose-set-env                       text  Set OPENAI_API_KEY in your shell before running the examples.
prose-reset                         text  I reset my password yesterday and now the login loop is gone.
prose-token-scope                   text  Use a token with the repo and workflow scopes.
prose-markdown-table                text  | Variable | Description |\n|---|---|\n| `API_KEY` | your API key \
        from the dashboard |
prose-www-authenticate              text  WWW-Authenticate: Bearer realm="api", error="invalid_token"
# URLs without credentials
url-pull-request                    text  https://github.com/acme/app/pull/123
url-openai-endpoint                 text  https://api.openai.com/v1/chat/completions
url-microsoft-token                 text  https://login.microsoftonline.com/common/oauth2/v2.0/token
url-google-token                    text  https://oauth2.googleapis.com/token
url-actions-run                     text  https://github.com/acme/app/actions/runs/9876543210/job/27182818284
url-ssh-git                         text  git@github.com:acme/app.git
url-query-no-secret                 text  https://app.example.com/search?q=password+reset&page=2
# commands with no secret in them
cmd-mysql-prompt                    cmd   mysql -u root -p
cmd-psql-prompt                     cmd   psql -h db -U app -W
cmd-ssh-identity                    cmd   ssh -i ~/.ssh/id_ed25519 deploy@10.0.0.5
cmd-openssl-rand                    cmd   openssl rand -hex 32
cmd-htpasswd-prompt                 cmd   htpasswd -c .htpasswd admin
cmd-gh-secret-from-file             cmd   gh secret set DEPLOY_KEY < deploy_key.pem
cmd-docker-login-file               cmd   docker login ghcr.io -u jane --password-stdin < token.txt
cmd-gh-token-variable               cmd   echo "$GITHUB_TOKEN" | gh auth login --with-token
cmd-curl-token-variable             cmd   curl -H "Authorization: Bearer $TOKEN" https://api.example.com/v1/me
cmd-kubectl-get-secret              cmd   kubectl get secret db -o jsonpath='{.data.password}' | base64 -d
cmd-secretsmanager-get              cmd   aws secretsmanager get-secret-value --secret-id prod/db --query \
        SecretString
cmd-git-log-author                  cmd   git log --author="Jane" --since=2.weeks
cmd-pytest-k                        cmd   pytest -k "token and not slow" -q
cmd-grep-api-key                    cmd   grep -rn "api_key" src/
cmd-vault-login-oidc                cmd   vault login -method=oidc role=ci
cmd-az-login-identity               cmd   az login --identity
cmd-aws-configure-list              cmd   aws configure list --profile prod
cmd-npm-whoami                      cmd   npm whoami --registry https://registry.npmjs.org/
"""


# --- the format tables as cases --------------------------------------------------------------


def docker_config_json(rng: random.Random) -> Tuple[str, str]:
    """The base64 of a docker config.json, as a Kubernetes dockerconfigjson secret holds it."""
    auth = b64(f"ci:{url_password(rng)}".encode())
    raw = json.dumps({"auths": {"ghcr.io": {"username": "ci", "auth": auth}}}).encode()
    return b64(raw), b64_core(raw, head=raw.index(b'"auth"'))


def deploy_key_b64(rng: random.Random) -> Tuple[str, str]:
    """The base64 of an OpenSSH private key file, as CI variables hold deploy keys."""
    key, _ = private_key("OPENSSH PRIVATE KEY")(rng)
    raw = (key + "\n").encode()
    head = len("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU")
    return b64(raw), b64_core(raw, head=head, tail=len("-----END OPENSSH PRIVATE KEY-----\n"))


NAMED_VALUES: Dict[str, TokenGen] = {
    "password": same(password),
    "url-password": same(url_password),
    "passphrase": same(passphrase),
    "aws-secret": same(lambda rng: aws_secret(rng)),
    "azure-key": same(lambda rng: azure_key(rng)),
    "b64-32": same(lambda rng: b64(rand_bytes(rng, 32))),
    "b64-password": same(lambda rng: b64(password(rng).encode())),
    "laravel-key": laravel_app_key,
    "dockerconfigjson": docker_config_json,
    "deploy-key-b64": deploy_key_b64,
    "bedrock-key": bedrock_key,
    "slack-webhook": slack_webhook,
    "discord-webhook": discord_webhook,
    "teams-webhook": teams_webhook,
    "telegram-bot-url": telegram_bot_url,
    "flyio-macaroon": flyio_macaroon,
    "sentry-org-token": sentry_org_token,
    "grafana-cloud-token": grafana_cloud_token,
    "asana-pat": asana_pat,
    "mapbox-secret-token": mapbox_secret_token,
    "jwt-hs256": jwt_gen(),
    "jwt-rs256": jwt_gen("RS256", 256),
}


def token_formats() -> List[SecretCase]:
    """Each token bare and under its usual variable, then the variants of TOKEN_VARIANT_TABLE."""
    cases: List[SecretCase] = []
    gens: Dict[str, TokenGen] = {}
    for format_id, spec, variable in rows(TOKEN_TABLE, 3):
        gens[format_id] = gen = value(spec)
        cases.append(templated(format_id, "token", "bare", gen, "secrets/token.txt", "@@"))
        cases.append(templated(format_id, "token", "env", gen, ".env", f"{variable}=@@"))
    for format_id, variant, path, template in rows(TOKEN_VARIANT_TABLE, 4):
        cases.append(templated(format_id, "token", variant, gens[format_id], path, template))
    return cases


def command_formats() -> List[SecretCase]:
    """Each command line a case of its own: v1, v2, ... per format."""
    cases: List[SecretCase] = []
    seen: Dict[str, int] = {}
    for format_id, spec, template in rows(COMMAND_TABLE, 3):
        seen[format_id] = seen.get(format_id, 0) + 1
        variant = f"v{seen[format_id]}"
        cases.append(templated(format_id, "command-line", variant, value(spec), "-", template, escapes=False))
    return cases


def template_formats(table: str, family: str) -> List[SecretCase]:
    return [
        templated(format_id, family, variant, value(spec), path, template)
        for format_id, variant, spec, path, template in rows(table, 5)
    ]


def label_formats() -> List[SecretCase]:
    """Each labelled value as VARIABLE=value, then the variants of LABEL_VARIANT_TABLE ("*": the
    LABEL_TABLE row's value)."""
    cases: List[SecretCase] = []
    gens: Dict[str, TokenGen] = {}
    for format_id, spec, variable in rows(LABEL_TABLE, 3):
        gens[format_id] = gen = value(spec)
        cases.append(templated(format_id, "label", "env", gen, ".env", f"{variable}=@@"))
    for format_id, variant, spec, path, template in rows(LABEL_VARIANT_TABLE, 5):
        gen = gens[format_id] if spec == "*" else value(spec)
        cases.append(templated(format_id, "label", variant, gen, path, template))
    return cases


def key_formats() -> List[SecretCase]:
    return [
        *key_cases("private-key-rsa", private_key("RSA PRIVATE KEY"), "deploy/id_rsa"),
        *key_cases("private-key-ec", private_key("EC PRIVATE KEY"), "certs/server.key"),
        *key_cases("private-key-pkcs8", private_key("PRIVATE KEY"), "certs/tls.key"),
        *key_cases("private-key-encrypted-pkcs8", private_key("ENCRYPTED PRIVATE KEY"), "certs/signing.key"),
        *key_cases("private-key-dsa", private_key("DSA PRIVATE KEY"), "legacy/id_dsa"),
        *key_cases("private-key-openssh", private_key("OPENSSH PRIVATE KEY"), "/home/runner/.ssh/id_ed25519"),
        *key_cases("private-key-pgp", pgp_private_key, "release/signing-key.asc"),
        *key_cases("putty-ppk-ed25519", putty_ed25519, "keys/deploy.ppk"),
        *key_cases("putty-ppk-rsa", putty_rsa, "keys/legacy.ppk"),
    ]


def secret_cases() -> List[SecretCase]:
    cases = [
        *token_formats(),
        *cloud_formats(),
        *command_formats(),
        *key_formats(),
        *template_formats(FILE_TABLE, "file"),
        *template_formats(PROSE_TABLE, "prose"),
        *label_formats(),
    ]
    ids = [case.case_id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate case ids: {duplicates}"
    return cases


_LOOKALIKE_FIELD = re.compile(r"@\{(\w+)(?::(\d+))?\}")


def lookalike_text(template: str) -> Callable[[random.Random], str]:
    """A look-alike's text: @{hex:40}, @{uuid}, @{b64:32} (base64 of 32 random bytes) filled in."""

    def fill(rng: random.Random, match: re.Match[str]) -> str:
        name, length = match.group(1), int(match.group(2) or 0)
        return b64(rand_bytes(rng, length)) if name == "b64" else field(rng, name, length)

    return lambda rng: _LOOKALIKE_FIELD.sub(lambda match: fill(rng, match), unescape(template))


def lookalikes() -> List[Lookalike]:
    return [
        Lookalike(lookalike_id, lookalike_text(text), command=kind == "cmd")
        for lookalike_id, kind, text in rows(LOOKALIKE_TABLE, 3)
    ]


# --- trials: every case in every context ---------------------------------------------------


class Trial(NamedTuple):
    key: str  # the session id its records carry: how a written event is traced back to it
    kind: str  # "secret" or "lookalike"
    case_id: str
    format_id: str  # a look-alike's id for look-alikes
    family: str  # "lookalike" for look-alikes
    context: str
    sample: Sample


def build_trials() -> List[Trial]:
    """Every secret case and look-alike, each in each of the five contexts."""
    trials: List[Trial] = []

    def add(kind: str, case_id: str, format_id: str, family: str, sample: Sample) -> None:
        for context in CONTEXTS:
            trials.append(Trial(f"t{len(trials):05d}", kind, case_id, format_id, family, context, sample))

    for case in secret_cases():
        add("secret", case.case_id, case.format_id, case.family, case.make(case_rng(case.case_id)))
    for lookalike in lookalikes():
        text = lookalike.make(case_rng("lookalike/" + lookalike.lookalike_id))
        add(
            "lookalike",
            lookalike.lookalike_id,
            lookalike.lookalike_id,
            "lookalike",
            Sample(text, [], command=lookalike.command),
        )
    return trials


# --- the agents' records for a trial -------------------------------------------------------

JSON_STRING = "<json>"  # a carrier path step: the value is a JSON string, decode it
Path_ = Tuple[str, ...]


class Record(NamedTuple):
    agent: str  # "claude" or "codex"
    attributes: Dict[str, Any]
    carriers: List[Path_]  # where the written event must still hold the snippet verbatim


DEFAULT_PATHS = {
    "token": "secrets/token.txt",
    "cloud": "config/cloud.txt",
    "command-line": "scripts/deploy.sh",
    "file": "config/app.conf",
    "prose": "NOTES.md",
    "label": ".env",
    "lookalike": "notes/snippet.txt",
}
SHELL_CARRIERS: List[Path_] = [
    ("command", "command"),
    ("tool", "command"),
    ("raw", "attributes", "tool_parameters", JSON_STRING, "full_command"),
]
MCP_TOOLS = (  # (server, tool, the argument that holds the snippet, the other arguments)
    ("github", "create_issue", "body", {"owner": "acme", "repo": "app", "title": "Deploy fails on staging"}),
    ("filesystem", "write_file", "content", {"path": f"{WORKDIR}/notes/handover.md"}),
    ("slack", "post_message", "text", {"channel_id": "C07ABCDEF12"}),
    ("linear", "create_comment", "body", {"issueId": "ENG-1234"}),
)


def compact(data: Any) -> str:
    """JSON as Claude Code writes its tool_input (JSON.stringify: compact, non-ASCII kept)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def file_path(trial: Trial) -> str:
    sample = trial.sample
    path = sample.path or ("scripts/run.sh" if sample.command else DEFAULT_PATHS[trial.family])
    return path if path.startswith("/") else f"{WORKDIR}/{path}"


def file_content(trial: Trial) -> str:
    if trial.sample.command:
        return f"#!/usr/bin/env bash\nset -euo pipefail\n\n{trial.sample.text}\n"
    return trial.sample.text + "\n"


def shell_command(trial: Trial) -> str:
    """The snippet as a Bash command: itself when it is one, else written to its file."""
    text = trial.sample.text
    if trial.sample.command:
        return text
    path = file_path(trial).replace(WORKDIR + "/", "")
    if "\n" not in text and "'" not in text:
        return f"echo '{text}' >> {path}"
    return f"cat > {path} <<'EOF'\n{text}\nEOF"


def claude_tool_result(
    trial: Trial, tool: str, tool_input: Dict[str, Any], parameters: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    attributes = {
        "event.name": "tool_result",
        "tool_name": tool,
        "tool_use_id": f"toolu_01{trial.key}CORPUS{zlib.crc32(trial.key.encode()):010d}",
        "success": "true",
        "duration_ms": "12",
        "tool_input": compact(tool_input),
        "tool_input_size_bytes": str(len(compact(tool_input).encode())),
        "tool_result_size_bytes": "64",
    }
    if parameters is not None:
        attributes["tool_parameters"] = compact(parameters)
    return attributes


def shell_records(trial: Trial) -> List[Record]:
    """Claude's Bash tool: the decision (tool_parameters) and the result (tool_input too)."""
    command = shell_command(trial)
    parameters = {"bash_command": command.split()[0], "full_command": command, "description": "Run the step"}
    decision = {
        "event.name": "tool_decision",
        "decision": "accept",
        "source": "config",
        "tool_name": "Bash",
        "tool_use_id": f"toolu_01{trial.key}CORPUS{zlib.crc32(trial.key.encode()):010d}",
        "tool_parameters": compact(parameters),
    }
    result = claude_tool_result(
        trial, "Bash", {"command": command, "description": "Run the step"}, parameters
    )
    tool_input: Path_ = ("raw", "attributes", "tool_input", JSON_STRING, "command")
    return [
        Record("claude", decision, SHELL_CARRIERS),
        Record("claude", result, [*SHELL_CARRIERS, tool_input]),
    ]


def output_records(trial: Trial) -> List[Record]:
    """Codex's exec_command result: what the command printed is its `output` attribute."""
    printed = file_content(trial)
    source = trial.sample.source or f"cat {file_path(trial)}"
    output = (
        f"Chunk ID: {zlib.crc32(trial.key.encode()) % 0xFFFFFF:06x}\nWall time: 0.0000 seconds\n"
        f"Process exited with code 0\nOriginal token count: {max(1, len(printed) // 4)}\nOutput:\n{printed}"
    )
    attributes = {
        "event.name": "codex.tool_result",
        "tool_result_seq": "1",
        "tool_name": "exec_command",
        "tool_namespace": "functions",
        "call_id": f"call_{trial.key}",
        "duration_ms": "43",
        "success": "true",
        "output_truncated": False,
        "arguments": json.dumps({"cmd": source}),
        "output": output,
        "mcp_server": "",
        "mcp_server_origin": "",
    }
    return [Record("codex", attributes, [("raw", "attributes", "output")])]


def file_records(trial: Trial) -> List[Record]:
    """Claude's Write tool: the file's whole text is in tool_input.content."""
    attributes = claude_tool_result(
        trial, "Write", {"file_path": file_path(trial), "content": file_content(trial)}
    )
    return [Record("claude", attributes, [("raw", "attributes", "tool_input", JSON_STRING, "content")])]


def prompt_records(trial: Trial) -> List[Record]:
    """Claude's user_prompt: the prompt text, as the user pasted the snippet into it."""
    if trial.sample.command:
        prompt = f"This step fails in CI with exit code 1, can you see why?\n\n$ {trial.sample.text}\n"
    else:
        prompt = f"Can you check this? Staging rejects it since this morning.\n\n{trial.sample.text}\n"
    attributes = {"event.name": "user_prompt", "prompt_length": str(len(prompt)), "prompt": prompt}
    return [Record("claude", attributes, [("prompt", "text"), ("raw", "attributes", "prompt")])]


def mcp_records(trial: Trial) -> List[Record]:
    """A Claude call of an MCP server's tool, with the snippet in one of its arguments."""
    server, tool, key, others = MCP_TOOLS[zlib.crc32(trial.case_id.encode()) % len(MCP_TOOLS)]
    arguments = {**others, key: file_content(trial)}
    parameters = {"mcp_server_name": server, "mcp_tool_name": tool}
    attributes = claude_tool_result(trial, f"mcp__{server}__{tool}", arguments, parameters)
    return [Record("claude", attributes, [("raw", "attributes", "tool_input", JSON_STRING, key)])]


CONTEXT_RECORDS: Dict[str, Callable[[Trial], List[Record]]] = {
    "shell": shell_records,
    "output": output_records,
    "file": file_records,
    "prompt": prompt_records,
    "mcp": mcp_records,
}


# --- OTLP requests -------------------------------------------------------------------------

BASE_NS = 1_777_000_000_000_000_000
RECORDS_PER_REQUEST = 200
RESOURCES = {
    "claude": {
        "service.name": "claude-code",
        "service.version": "2.1.197",
        "host.arch": "x64",
        "os.type": "linux",
        "os.version": "6.1.0",
    },
    "codex": {
        "service.name": "codex_exec",
        "service.version": "0.169.0",
        "env": "ci",
        "host.name": "runner",
        "telemetry.sdk.language": "rust",
    },
}
SCOPES = {
    "claude": {"name": "com.anthropic.claude_code.events", "version": "2.1.197"},
    "codex": {"name": "codex_otel.log_only"},
}


def log_record(
    agent: str, trial: Trial, attributes: Dict[str, Any], sequence: int, time_ns: int
) -> Dict[str, Any]:
    """One log record in the plain OTLP shape, with the attributes each agent puts on all."""
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time_ns // 10**9)) + ".000Z"
    if agent == "claude":
        common = {
            "user.id": "5" * 64,
            "session.id": trial.key,
            "terminal.type": "non-interactive",
            "event.timestamp": timestamp,
            "event.sequence": sequence,
            "prompt.id": "6f1f1a52-4d1e-4b7c-9a55-3d2f7c1e0b11",
        }
        body: Optional[str] = "claude_code." + attributes["event.name"]
        extra: Dict[str, Any] = {}
    else:
        common = {
            "event.timestamp": timestamp,
            "conversation.id": trial.key,
            "app.version": "0.169.0",
            "originator": "codex_exec",
            "terminal.type": "unknown",
            "model": "gpt-5.5",
            "slug": "gpt-5.5",
        }
        body = None
        trace = f"{zlib.crc32(trial.key.encode()):08x}" * 4
        extra = {
            "severity_number": 9,
            "severity_text": "INFO",
            "trace_id": trace,
            "span_id": trace[:16],
            "event_name": "event otel/src/events/session_telemetry.rs:1089",
        }
    record = {
        "time_unix_nano": time_ns,
        "observed_time_unix_nano": time_ns,
        "attributes": {**common, **attributes},
        **extra,
    }
    if body is not None:
        record["body"] = body
    return record


def trial_records(trial: Trial) -> List[Record]:
    return CONTEXT_RECORDS[trial.context](trial)


def requests(trials: Sequence[Trial]) -> List[Tuple[str, Dict[str, Any]]]:
    """The log requests that carry every trial's records: per agent, RECORDS_PER_REQUEST at most."""
    by_agent: Dict[str, List[Dict[str, Any]]] = {"claude": [], "codex": []}
    count = 0
    for trial in trials:
        for sequence, record in enumerate(trial_records(trial)):
            by_agent[record.agent].append(
                log_record(record.agent, trial, record.attributes, sequence, BASE_NS + count * 1_000_000)
            )
            count += 1
    out = []
    for agent, records in by_agent.items():
        for start in range(0, len(records), RECORDS_PER_REQUEST):
            chunk = records[start : start + RECORDS_PER_REQUEST]
            resource_logs = [
                {
                    "resource": {"attributes": RESOURCES[agent]},
                    "scope_logs": [{"scope": SCOPES[agent], "log_records": chunk}],
                }
            ]
            out.append(("logs", {"resource_logs": resource_logs}))
    return out


# --- running the corpus --------------------------------------------------------------------

IN_PROCESS_ENVIRON = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/runner"}
IN_PROCESS_TOKEN = "corpus-receiver-token-in-process"


class LineCollector:
    """An EventWriter stand-in: serializes each event as the writer does, keeps the line."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def write_all(self, events: Sequence[Dict[str, Any]]) -> int:
        from beacon_ci.eventlog import event_line

        self.lines.extend(event_line(event).decode("utf-8") for event in events)
        return len(events)


def run_in_process(trials: Sequence[Trial], protector: Any = None) -> List[str]:
    """Every request through the capture's own consumer (normalize, protect, serialize), as the
    receiver hands it a decoded batch. `protector` replaces beacon's (to test this harness)."""
    import beacon_otlp
    from beacon_ci.agents.normalizer import Normalizer
    from beacon_ci.capture import CapturePipeline, EventSink
    from beacon_ci.context import CaptureContext

    context = CaptureContext.detect(IN_PROCESS_ENVIRON, "corpus-in-process", "exec")
    writer = LineCollector()
    pipeline = CapturePipeline(context, time.time, IN_PROCESS_ENVIRON, IN_PROCESS_TOKEN, writer)  # type: ignore[arg-type]
    if protector is not None:
        pipeline.normalizer, pipeline.sink = Normalizer(context, time.time), EventSink(protector, writer)  # type: ignore[arg-type]
    for signal, request in requests(trials):
        decoded = beacon_otlp.decode_protobuf(signal, beacon_otlp.encode_protobuf(signal, request))
        pipeline(
            beacon_otlp.Batch(
                signal, decoded, beacon_otlp.PROTOBUF, beacon_otlp.count_records(signal, request), time.time()
            )
        )
    return writer.lines


def post_all(trials: Sequence[Trial]) -> int:
    """The child of `beacon ci exec`: post every request to the receiver, as an agent does."""
    import beacon_otlp
    from beacon_ci.selftest import post_otlp

    name, _, token = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    assert name == beacon_otlp.TOKEN_HEADER, name
    endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    for signal, request in requests(trials):
        body = beacon_otlp.encode_protobuf(signal, request)
        status = post_otlp(endpoint, token, signal, body, beacon_otlp.PROTOBUF, timeout=60.0)
        if status != 200:
            print(f"the receiver answered {status}", file=sys.stderr)
            return 1
    return 0


# --- reading the log back ------------------------------------------------------------------


def json_container(text: str) -> Any:
    """The value of a string that holds a JSON object or array (tool_input, arguments), or None."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def strings_in(value: Any) -> Iterator[str]:
    """Every string of a decoded event, keys too, and the strings of JSON held in strings."""
    if isinstance(value, str):
        yield value
        inner = json_container(value)
        if isinstance(inner, (dict, list)):
            yield from strings_in(inner)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def windows(body: str) -> List[str]:
    if len(body) <= WINDOW:
        return [body]
    return [body[i : i + WINDOW] for i in range(len(body) - WINDOW + 1)]


def survives(body: str, haystacks: Sequence[str]) -> bool:
    """Whether any WINDOW-character run of the body is in any haystack."""
    return any(window in haystack for window in windows(body) for haystack in haystacks)


def lookup(event: Any, path: Path_) -> Any:
    value = event
    for step in path:
        if step == JSON_STRING:
            value = json_container(value) if isinstance(value, str) else None
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def trial_key(event: Dict[str, Any]) -> str:
    session = event.get("session")
    if isinstance(session, dict) and isinstance(session.get("id"), str):
        return session["id"]
    attributes = (event.get("raw") or {}).get("attributes") or {}
    return str(attributes.get("session.id") or attributes.get("conversation.id") or "")


class Report(NamedTuple):
    leaks: Dict[str, List[str]]  # secret trial key -> bodies with a surviving window
    altered: Dict[str, str]  # look-alike trial key -> where it was changed
    unflagged: List[str]  # secret trial keys with an event that lost a secret yet lacks content.redacted
    missing: Dict[str, Tuple[int, int]]  # trial key -> (events expected, events written)
    unattributed: int  # lines that belong to no trial


def analyze(trials: Sequence[Trial], lines: Sequence[str]) -> Report:
    """Check every written line against the trial it came from."""
    by_key = {trial.key: trial for trial in trials}
    written: Dict[str, List[Tuple[str, Dict[str, Any]]]] = {}
    unattributed = 0
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            unattributed += 1
            continue
        key = trial_key(event)
        if key not in by_key:
            unattributed += 1
            continue
        written.setdefault(key, []).append((line, event))
    leaks: Dict[str, List[str]] = {}
    altered: Dict[str, str] = {}
    unflagged: List[str] = []
    missing: Dict[str, Tuple[int, int]] = {}
    for trial in trials:
        records = trial_records(trial)
        events = written.get(trial.key, [])
        if len(events) != len(records):
            missing[trial.key] = (len(records), len(events))
        if trial.kind == "secret":
            leaked, lost_unflagged = check_secret(trial, events)
            if leaked:
                leaks[trial.key] = leaked
            if lost_unflagged:
                unflagged.append(trial.key)
        else:
            where = check_lookalike(trial, records, events)
            if where:
                altered[trial.key] = where
    return Report(leaks, altered, unflagged, missing, unattributed)


def check_secret(trial: Trial, events: Sequence[Tuple[str, Dict[str, Any]]]) -> Tuple[List[str], bool]:
    """The bodies that survive in any of the trial's lines (raw, and every decoded string), and
    whether an event that lost one of them fails to say content.redacted: true."""
    leaked: List[str] = []
    unflagged = False
    for line, event in events:
        haystacks = [line, "\x00".join(strings_in(event))]
        surviving = [body for body in trial.sample.bodies if survives(body, haystacks)]
        leaked.extend(body for body in surviving if body not in leaked)
        lost_one = len(surviving) < len(trial.sample.bodies)
        if lost_one and (event.get("content") or {}).get("redacted") is not True:
            unflagged = True
    return leaked, unflagged


def check_lookalike(
    trial: Trial, records: Sequence[Record], events: Sequence[Tuple[str, Dict[str, Any]]]
) -> str:
    """Where a look-alike's text is not verbatim in a string it was placed in ("" if nowhere)."""
    for record, (_, event) in zip(records, events):
        for path in record.carriers:
            value = lookup(event, path)
            if not isinstance(value, str) or trial.sample.text not in value:
                where = ".".join(path).replace(f".{JSON_STRING}.", " > ")
                return f"{record.attributes['event.name']}: {where}"
    return ""


def leaks_by_format(trials: Sequence[Trial], report: Report) -> Dict[str, List[str]]:
    """format id -> the contexts in which any of its variants leaked."""
    out: Dict[str, List[str]] = {}
    for trial in trials:
        if trial.key in report.leaks:
            contexts = out.setdefault(trial.format_id, [])
            if trial.context not in contexts:
                contexts.append(trial.context)
    return {format_id: sorted(contexts, key=CONTEXTS.index) for format_id, contexts in sorted(out.items())}


def altered_ids(trials: Sequence[Trial], report: Report) -> List[str]:
    return sorted({trial.format_id for trial in trials if trial.key in report.altered})


def describe_leaks(trials: Sequence[Trial], report: Report) -> str:
    """Leaks grouped by format and context, with the variants: what a rule author needs."""
    by_format: Dict[str, Dict[str, List[str]]] = {}
    for trial in trials:
        if trial.key in report.leaks:
            variant = trial.case_id.split("/", 1)[1]
            by_format.setdefault(trial.format_id, {}).setdefault(trial.context, []).append(variant)
    secrets = sum(1 for trial in trials if trial.kind == "secret")
    lines = [f"{len(report.leaks)} of {secrets} secret trials leaked, in {len(by_format)} formats:"]
    for format_id in sorted(by_format):
        contexts = by_format[format_id]
        detail = "; ".join(
            f"{context} ({', '.join(contexts[context])})" for context in CONTEXTS if context in contexts
        )
        lines.append(f"  {format_id}: {detail}")
    return "\n".join(lines)


def describe_altered(trials: Sequence[Trial], report: Report) -> str:
    """One line per altered look-alike: each context and the first place it was changed."""
    by_id: Dict[str, List[str]] = {}
    for trial in trials:
        if trial.key in report.altered:
            by_id.setdefault(trial.format_id, []).append(f"{trial.context} ({report.altered[trial.key]})")
    return "\n".join(f"  {id_}: {'; '.join(places)}" for id_, places in by_id.items())


def summary(trials: Sequence[Trial], report: Report) -> Dict[str, Any]:
    secrets = {trial.case_id: trial.format_id for trial in trials if trial.kind == "secret"}
    return {
        "formats": len(set(secrets.values())),
        "secrets": len(secrets),
        "lookalikes": len({trial.case_id for trial in trials if trial.kind == "lookalike"}),
        "leaks": leaks_by_format(trials, report),
        "altered": altered_ids(trials, report),
    }


def main(argv: Sequence[str]) -> int:
    trials = build_trials()
    if "--post" in argv:
        return post_all(trials)
    report = analyze(trials, run_in_process(trials))
    print(json.dumps(summary(trials, report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
