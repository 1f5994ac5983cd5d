"""Protection (EVENTS.md "Protection"): sanitize, redact, truncate, cap -- in that order.

The fake credentials below are assembled from pieces at run time, so that no file of the
repository holds a string a secret scanner would take for a real key.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any, Dict, List, Tuple
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from beacon_protect import (
    FIELD_BYTES,
    LONG_FIELD_BYTES,
    MAX_LINE_BYTES,
    REDACTED,
    TRUNCATED_MARKER,
    Protector,
    is_secret_name,
    sanitize_text,
    secret_values_from_env,
    truncate_utf8,
)
from beacon_protect.names import LABEL_WORDS, is_secret_value
from beacon_protect.rules import rule_set

# --- helpers -------------------------------------------------------------------------------

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ENV_SECRET = "Zq9" + "plainEnvValue" + "4471"  # no known format: only exact-value redaction finds it
RECEIVER_TOKEN = "rcv" + "Tok-" + "8Hq2LmZx0pW5"
PROTECTOR = Protector(
    secret_values_from_env({"MY_SERVICE_SECRET": ENV_SECRET, "HOME": "/home/runner"}, [RECEIVER_TOKEN])
)


def line(event: Dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def line_bytes(event: Dict[str, Any]) -> int:
    return len(line(event).encode("utf-8"))


def base_event(**extra: Any) -> Dict[str, Any]:
    """An event with the required 1.0 fields, as the normalizer builds it."""
    event: Dict[str, Any] = {
        "timestamp": "2026-11-25T10:04:05.123Z",
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": "1.0",
        "event": {
            "kind": "agent_runtime",
            "action": "tool.invoked",
            "category": "tool",
            "id": "0f" * 16,
            "outcome": "success",
        },
        "severity": "info",
        "endpoint": {"hostname": "runner-1", "os": "linux"},
        "user": {"name": "runner"},
        "harness": {"name": "claude_code", "version": "2.1.197"},
        "origin": "ci",
        "capture": {"id": "0123456789abcdef", "mode": "exec", "beacon_version": "0.1.0"},
        "run": {"provider": "github_actions", "run_id": "42", "repository": "acme/app"},
        "message": "claude_code.tool_result",
        "raw": {"otel_signal": "logs", "event_name": "claude_code.tool_result", "attributes": {}},
    }
    event.update(extra)
    return event


def protect(event: Dict[str, Any], protector: Protector = PROTECTOR) -> Dict[str, Any]:
    return protector.protect_event(event)


def body(length: int, seed: int = 7, alphabet: str = ALNUM) -> str:
    """A deterministic random-looking string."""
    out, state = [], seed
    for _ in range(length):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(alphabet[state % len(alphabet)])
    return "".join(out)


# --- the secrets corpus ----------------------------------------------------------------------
# (name, snippet as it would appear, distinctive parts that must not survive)


def _pem(kind: str) -> Tuple[str, List[str]]:
    lines = [body(64, seed) for seed in range(3)]
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"
    return block, lines


def _corpus() -> List[Tuple[str, str, List[str]]]:
    anthropic = body(93, 1, ALNUM + "-_")
    openai = body(48, 2)
    openai_proj = body(120, 3, ALNUM + "-_")
    gh = body(36, 4)
    pat = body(22, 5) + "_" + body(59, 6)
    aws_id = body(16, 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    aws_secret = body(40, 8, ALNUM + "+/")
    google = body(35, 9, ALNUM + "-_")
    slack = "1234567890-" + body(24, 10)
    stripe = body(24, 11)
    npm = body(36, 12)
    pypi = "cHlwaS5vcmc" + body(70, 13, ALNUM + "-_")
    jwt_sig = body(43, 14, ALNUM + "-_")
    jwt = "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0" + "." + jwt_sig
    basic = base64.b64encode(b"deploy:" + body(18, 15).encode()).decode()
    bearer = body(40, 16, ALNUM + "-_.")
    rsa, rsa_lines = _pem("RSA ")
    openssh, ssh_lines = _pem("OPENSSH ")
    pkcs8, pkcs8_lines = _pem("")
    pw = "Pw-" + body(12, 17)
    gitlab = body(20, 23, ALNUM + "-_")
    slack_app = "1-A" + body(10, 24, UPPER_DIGITS) + "-" + body(13, 25, "0123456789") + "-" + body(64, 26)
    env_escaped = ENV_SECRET[:3] + f"\\u{ord(ENV_SECRET[3]):04x}" + ENV_SECRET[4:]
    return [
        ("anthropic", "sk-" + "ant-api03-" + anthropic, [anthropic[:12], anthropic[-12:]]),
        ("openai", "sk-" + openai, [openai[:12], openai[-12:]]),
        ("openai_proj", "sk-" + "proj-" + openai_proj, [openai_proj[:12], openai_proj[-12:]]),
        ("github_ghp", "gh" + "p_" + gh, [gh[:12], gh[-12:]]),
        ("github_gho", "gh" + "o_" + gh, [gh[:12], gh[-12:]]),
        ("github_ghs", "gh" + "s_" + gh, [gh[:12], gh[-12:]]),
        ("github_ghu", "gh" + "u_" + gh, [gh[:12], gh[-12:]]),
        ("github_ghr", "gh" + "r_" + gh, [gh[:12], gh[-12:]]),
        ("github_pat", "github" + "_pat_" + pat, [pat[:12], pat[-12:]]),
        ("aws_akia", "AK" + "IA" + aws_id, [aws_id]),
        ("aws_asia", "AS" + "IA" + aws_id, [aws_id]),
        ("aws_secret", "aws_secret_access_key = " + aws_secret, [aws_secret[:12], aws_secret[-12:]]),
        ("aws_env", "export AWS_SECRET_ACCESS_KEY=" + aws_secret, [aws_secret[:12], aws_secret[-12:]]),
        ("google", "AI" + "za" + google, [google[:12], google[-12:]]),
        ("slack", "xo" + "xb-" + slack, [slack[-12:]]),
        ("slack_user", "xo" + "xp-" + slack, [slack[-12:]]),
        ("slack_app", "xa" + "pp-" + slack_app, [slack_app[-20:]]),
        ("gitlab_pat", "gl" + "pat-" + gitlab, [gitlab]),
        ("gitlab_deploy", "gl" + "dt-" + gitlab, [gitlab]),
        ("gitlab_runner", "gl" + "rt-" + gitlab, [gitlab]),
        ("stripe_live", "sk" + "_live_" + stripe, [stripe]),
        ("stripe_restricted", "rk" + "_live_" + stripe, [stripe]),
        ("stripe_test", "sk" + "_test_" + stripe, [stripe]),
        ("npm", "np" + "m_" + npm, [npm]),
        ("pypi", "py" + "pi-AgEI" + pypi, [pypi[:14], pypi[-12:]]),
        ("jwt", jwt, [jwt_sig, "zdWIiOiIxMjM0NTY3ODkwIn0"]),
        ("pem_rsa", rsa, rsa_lines),
        ("pem_openssh", openssh, ssh_lines),
        ("pem_pkcs8", pkcs8, pkcs8_lines),
        ("url_password", "https://deploy:" + pw + "@git.example.com/acme/app.git", [pw]),
        ("postgres", "postgres://app:" + pw + "@db.internal:5432/app", [pw]),
        ("mysql", "mysql://root:" + pw + "@127.0.0.1/app", [pw]),
        ("mongodb", "mongodb+srv://svc:" + pw + "@cluster0.example.net/db", [pw]),
        ("redis", "redis://:" + pw + "@cache:6379/0", [pw]),
        ("ado", "Server=db;Database=app;User Id=sa;Password=" + pw + " two;", [pw]),
        ("ado_pwd", "Data Source=db;Uid=sa;Pwd=" + pw + ";", [pw]),
        ("token_eq", "token=" + pw, [pw]),
        ("token_padding", "token: abc" + "=" + pw, ["abc=", pw]),
        ("api_key_colon", "api_key: " + pw, [pw]),
        ("apikey", "APIKEY=" + pw, [pw]),
        ("api_dash_key", "api-key = '" + pw + "'", [pw]),
        ("json_password", '"password": "' + pw + '"', [pw]),
        ("single_quoted", "'secret': '" + pw + "'", [pw]),
        ("header", "X-Api-Key: " + pw, [pw]),
        ("github_token_env", "GITHUB_TOKEN=" + pw, [pw]),
        ("flag_space", "--password " + pw, [pw]),
        ("flag_equals", "--token=" + pw, [pw]),
        ("csrf", "csrf_token=" + pw, [pw]),
        ("db_password", "db_password: " + pw, [pw]),
        ("multi_word", 'password = "correct horse ' + pw + '"', ["correct horse", pw]),
        ("client_secret", "client_secret=" + pw, [pw]),
        ("session_token", "session_token: " + pw, [pw]),
        ("private_key", "private_key = " + pw, [pw]),
        ("access_key", "access key: " + pw, [pw]),
        ("credentials", "credentials=" + pw, [pw]),
        ("auth", "auth=" + pw, [pw]),
        ("passwd", "passwd=" + pw, [pw]),
        ("pwd", "pwd=" + pw, [pw]),
        ("authorization_bearer", "Authorization: Bearer " + bearer + "==", [bearer[:12], bearer[-12:]]),
        ("bearer_anywhere", "Bearer " + bearer, [bearer[:12], bearer[-12:]]),
        ("authorization_basic", "Authorization: Basic " + basic, [basic]),
        ("basic_anywhere", "Basic " + basic, [basic]),
        ("authorization_token", "Authorization: token " + pw, [pw]),
        ("docker_login_p", "docker login -u bot -p " + pw + " ghcr.io", [pw]),
        ("docker_login_password", "docker login --password " + pw + " ghcr.io", [pw]),
        ("nbsp_separator", "password:\u00a0" + pw, [pw]),
        ("tab_separator", "password\t" + pw, [pw]),
        ("yaml_block_scalar", "password: |\n  " + pw, [pw]),
        ("name_value_json", '{"env":[{"name":"DB_PASSWORD","value":"' + pw + '"}]}', [pw]),
        ("name_value_yaml", "- name: DB_PASSWORD\n  value: " + pw, [pw]),
        ("header_pairs", '[["X-Api-Key","' + pw + '"]]', [pw]),
        ("json_unicode_escape", '{"cmd":"echo \\u0067' + "hp_" + gh + '"}', [gh[:12], gh[-12:]]),
        ("env_exact", ENV_SECRET, [ENV_SECRET]),
        ("env_unicode_escape", '{"k":"' + env_escaped + '"}', [ENV_SECRET[4:]]),
        ("receiver_token", RECEIVER_TOKEN, [RECEIVER_TOKEN]),
    ]


CORPUS = _corpus()

# Where a secret may turn up: each takes the snippet and places it in an event.
CONTEXTS = {
    "shell_command": lambda s: base_event(command={"command": f"cd /srv/app && {s} && make deploy"}),
    "json_tool_input": lambda s: base_event(
        raw={
            "otel_signal": "logs",
            "attributes": {"tool_input": json.dumps({"command": f"deploy.sh {s}", "description": "deploy"})},
        }
    ),
    "prompt": lambda s: base_event(prompt={"text": f"Please use {s} to call the staging API, then report."}),
    "http_header": lambda s: base_event(message=f"GET /v1 HTTP/1.1\nHost: api.example.com\n{s}\nAccept: */*"),
    "url": lambda s: base_event(
        tool={"name": "WebFetch", "path": f"https://example.com/search?q={s}&page=2"}
    ),
    "multi_line": lambda s: base_event(message=f"first line\n\t{s}\nlast line"),
    "nested_value": lambda s: base_event(raw={"otel_signal": "logs", "attributes": {"deep": [{"note": s}]}}),
    "dict_key": lambda s: base_event(raw={"otel_signal": "logs", "attributes": {s: "value"}}),
}


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("name,snippet,parts", CORPUS, ids=[c[0] for c in CORPUS])
def test_every_secret_format_is_redacted_in_every_context(
    name: str, snippet: str, parts: List[str], context: str
) -> None:
    event = CONTEXTS[context](snippet)
    protected = protect(event)
    text = line(protected)
    for part in parts:
        assert part not in text, f"{name} leaked {part!r} in {context}: {text}"
    assert REDACTED in text
    assert protected["content"] == {"redacted": True}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("token=super-secret-1", "token=[REDACTED]"),
        ("Authorization: Bearer abcDEF123==", "Authorization: Bearer [REDACTED]"),
        ('"password": "hunter22x"', '"password": "[REDACTED]"'),
        ('password = "correct horse battery"', 'password = "[REDACTED]"'),
        ("token: abc=def", "token: [REDACTED]"),
        ("OPENAI_API_KEY=" + "sk-" + "x" * 30, "OPENAI_API_KEY=" + "sk-" + "x" * 30),  # a placeholder
        ("X-Api-Key: abcd1234efgh", "X-Api-Key: [REDACTED]"),
        ("--password hunter22x --verbose", "--password [REDACTED] --verbose"),
        ("Token: abc1234567 then abc1234567", "Token: [REDACTED] then [REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        (
            "git push https://x-access-token:" + "gh" + "s_" + "A1" * 18 + "@github.com/acme/app.git",
            "git push https://x-access-token:[REDACTED]@github.com/acme/app.git",
        ),
        ("redis://:s3cr3tpass@cache:6379", "redis://:[REDACTED]@cache:6379"),
        ("Server=db;Password=my pass;Encrypt=true", "Server=db;Password=[REDACTED];Encrypt=true"),
        (
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----[REDACTED]-----END EC PRIVATE KEY-----",
        ),
        ('os.environ["DB_PASSWORD"] = "hunter22x"', 'os.environ["DB_PASSWORD"] = "[REDACTED]"'),
        ('{\\"api_key\\": \\"k-123456\\"}', '{\\"api_key\\": \\"[REDACTED]\\"}'),
        ("curl -u admin:hunter2secret https://x", "curl -u admin:[REDACTED] https://x"),
        ("curl --user=bob:S3cretPass! -uamy:pa55word9 x", "curl --user=bob:[REDACTED] -uamy:[REDACTED] x"),
        (
            "curl -H 'Cookie: sid=abc123def; csrftoken=xyz' https://x",
            "curl -H 'Cookie: [REDACTED]' https://x",
        ),
        ("Set-Cookie: session=opaque-value-1234; Path=/; HttpOnly", "Set-Cookie: [REDACTED]"),
        ("curl --cookie 'sid=abc123456' x", "curl --cookie '[REDACTED]' x"),
        (
            "mkdir -p out && mysql -uroot -pS3cretPw db > out/x",
            "mkdir -p out && mysql -uroot -p[REDACTED] db > out/x",
        ),
        ("sshpass -p 'pa55word' ssh host", "sshpass -p '[REDACTED]' ssh host"),
    ],
)
def test_labels_and_separators_stay_readable(text: str, expected: str) -> None:
    assert PROTECTOR.redact_text(text) == expected


def test_an_unterminated_private_key_is_redacted_to_the_end() -> None:
    text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA" + body(200)
    assert PROTECTOR.redact_text(text) == "key:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]"


ODD_SECRET = "p@ss w0rd/with+chars&=" + body(6, 31)


def _lower_hex(text: str) -> str:
    return re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)


@pytest.mark.parametrize(
    "encoded",
    [
        ODD_SECRET,
        quote(ODD_SECRET, safe=""),
        _lower_hex(quote(ODD_SECRET, safe="")),
        quote(ODD_SECRET),  # '/' kept, as in a path
        _lower_hex(quote(ODD_SECRET)),
        quote_plus(ODD_SECRET),
        _lower_hex(quote_plus(ODD_SECRET)),
        json.dumps(ODD_SECRET)[1:-1],
        json.dumps(ODD_SECRET)[1:-1].replace("/", "\\/"),  # JSON's optional \/
        "".join(f"\\u{ord(char):04x}" for char in ODD_SECRET),
        "".join(f"\\x{ord(char):02x}" for char in ODD_SECRET),  # a Python or JavaScript string
    ],
    ids=lambda encoded: encoded[:12],
)
def test_exact_values_are_found_in_every_encoding(encoded: str) -> None:
    protector = Protector(secret_values_from_env({"DB_PASSWORD": ODD_SECRET}))
    assert protector.redact_text(f"x {encoded} y") == f"x {REDACTED} y"
    protected = protector.protect_event(base_event(message=json.dumps({"v": f"x {encoded} y"})))
    assert ODD_SECRET not in line(protected) and encoded not in line(protected)


# --- structured values -----------------------------------------------------------------------


def test_secret_named_keys_are_redacted_in_dicts_but_token_counts_are_not() -> None:
    event = base_event(
        gen_ai={
            "usage": {
                "input_tokens": 120,
                "output_tokens": 25,
                "cache_read": {"input_tokens": 3},
                "token_type": "input",
                "total_tokens": 148,
            },
            "request": {"max_tokens": 4096},
            "tool": {
                "call": {
                    "arguments": {
                        "password": "hunter22x",
                        "nested": {"api_key": 123456},
                        "headers": {"Authorization": "Bearer abc.def.ghi"},
                        "enabled": True,
                        "count": 3,
                        "tokenizer": "bpe",
                        "tokens": ["a", "b"],
                    }
                }
            },
        }
    )
    protected = protect(event)
    usage = protected["gen_ai"]["usage"]
    assert usage == event["gen_ai"]["usage"]
    assert protected["gen_ai"]["request"] == {"max_tokens": 4096}
    arguments = protected["gen_ai"]["tool"]["call"]["arguments"]
    assert arguments == {
        "password": REDACTED,
        "nested": {"api_key": REDACTED},
        "headers": {"Authorization": REDACTED},
        "enabled": True,
        "count": 3,
        "tokenizer": "bpe",
        "tokens": ["a", "b"],
    }
    assert protected["content"]["redacted"] is True


def test_a_json_string_is_redacted_by_key_and_stays_a_compact_string() -> None:
    tool_input = json.dumps(
        {
            "command": "curl -s https://api.example.com",
            "token": "abc123def",
            "opts": {"client_secret": "xyz98765", "retries": 3},
            "auth_type": "oauth",
        }
    )
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"tool_input": tool_input}}))
    out = protected["raw"]["attributes"]["tool_input"]
    assert isinstance(out, str)
    assert json.loads(out) == {
        "command": "curl -s https://api.example.com",
        "token": REDACTED,
        "opts": {"client_secret": REDACTED, "retries": 3},
        "auth_type": "oauth",
    }
    assert out == json.dumps(json.loads(out), separators=(",", ":"))


def test_a_json_string_with_nothing_secret_is_kept_byte_for_byte() -> None:
    tool_input = json.dumps({"command": "pytest -q", "input_tokens": 12}, indent=2)
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"tool_input": tool_input}}))
    assert protected["raw"]["attributes"]["tool_input"] == tool_input
    assert "content" not in protected


def test_a_secret_flag_in_an_argument_vector_hides_the_next_argument() -> None:
    argv = ["mysql", "-u", "root", "--password", "hunter22x", "--token=abc123456", "app"]
    protected = protect(
        base_event(
            raw={"otel_signal": "logs", "attributes": {"argv": argv, "command": json.dumps({"cmd": argv})}}
        )
    )
    attributes = protected["raw"]["attributes"]
    assert attributes["argv"] == ["mysql", "-u", "root", "--password", REDACTED, "--token=[REDACTED]", "app"]
    assert json.loads(attributes["command"]) == {"cmd": attributes["argv"]}
    assert protected["content"] == {"redacted": True}
    kept = ["docker", "login", "--password-stdin", "ghcr.io", "--no-auth", "x"]
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"argv": kept}}))
    assert protected["raw"]["attributes"] == {"argv": kept}


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["curl", "-u", "admin:hunter2secret", "https://x"], ["curl", "-u", "admin:[REDACTED]", "https://x"]),
        (
            ["/usr/bin/mysql", "-uroot", "-pS3cretPw", "db"],
            ["/usr/bin/mysql", "-uroot", "-p[REDACTED]", "db"],
        ),
        (["sshpass", "-p", "pa55word", "ssh", "host"], ["sshpass", "-p", "[REDACTED]", "ssh", "host"]),
        (["docker", "run", "-u", "1000:1000", "img"], ["docker", "run", "-u", "1000:1000", "img"]),
        (["mkdir", "-p", "build"], ["mkdir", "-p", "build"]),
        (["mysql", "-p", "appdb"], ["mysql", "-p", "appdb"]),
        (
            ["docker", "login", "-u", "bot", "-p", "pa55word9", "ghcr.io"],
            ["docker", "login", "-u", "bot", "-p", "[REDACTED]", "ghcr.io"],
        ),
        (["helm", "registry", "login", "-p", "pa55word9"], ["helm", "registry", "login", "-p", "[REDACTED]"]),
        (["docker", "run", "-p", "8080:80", "img"], ["docker", "run", "-p", "8080:80", "img"]),
    ],
)
def test_command_line_credentials_in_an_argument_vector(argv: List[str], expected: List[str]) -> None:
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"argv": argv}}))
    assert protected["raw"]["attributes"]["argv"] == expected
    assert ("content" in protected) == (argv != expected)


def test_a_json_string_with_a_repeated_key_cannot_hide_a_secret() -> None:
    text = '{"note": "' + "gh" + "p_" + "B2" * 18 + '", "note": "fine"}'
    assert "B2B2" not in PROTECTOR.redact_text(text)


@pytest.mark.parametrize(
    "name,secret",
    [
        ("password", True),
        ("db_password", True),
        ("DB_PASSWORD", True),
        ("csrf_token", True),
        ("csrfToken", True),
        ("GITHUB_TOKEN", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("X-Api-Key", True),
        ("apiKey", True),
        ("APIKey", True),
        ("api_key", True),
        ("apikey", True),
        ("private_key", True),
        ("client_secret", True),
        ("session_token", True),
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("auth", True),
        ("passwd", True),
        ("pwd", True),
        ("credentials", True),
        ("--token", True),
        ("accessToken", True),
        ("secret_key", True),
        ("BEACON_CI_SPLUNK_HEC_TOKEN", True),
        ("access key", True),
        ("input_tokens", False),
        ("output_tokens", False),
        ("cache_read_tokens", False),
        ("max_tokens", False),
        ("tokens", False),
        ("token_type", False),
        ("tokenizer", False),
        ("passwordless", False),
        ("author", False),
        ("keyboard", False),
        ("monkey", False),
        ("Secretary", False),
        ("redacted", False),
        ("AWS_ACCESS_KEY_ID", False),
        ("auth_type", False),
        ("token_count", False),
        ("PWD", False),
        ("OLDPWD", False),
        ("--password-stdin", False),
        ("--no-password-prompt", False),
        ("key", False),
        ("sort_key", False),
        ("token.usage", False),
        ("password_file", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


# --- false positives -------------------------------------------------------------------------

FALSE_POSITIVES = [
    "3f786850e387550fdab836ed7e6dc881de23001b",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)",
    "6f1f1a52-4d1e-4b7c-9a55-3d2f7c1e0b11",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    base64.b64encode(bytes(range(256))).decode(),
    base64.b64encode(b"just some binary-ish payload that nobody labelled" * 3).decode(),
    "The tokenizer splits text into tokens; passwordless login uses the authorization flow.",
    "keyboard, monkey, Secretary, turkey, hockey, donkey",
    "max_tokens=512 input_tokens: 120 output_tokens: 25 cache_read_tokens=0 token_type=input",
    '{"input_tokens": 120, "output_tokens": 25, "token_type": "input", "max_tokens": 4096}',
    "/home/u/.ssh/known_hosts",
    "cat ~/.ssh/id_ed25519.pub >> /home/u/.ssh/authorized_keys",
    "https://github.com/acme/app/pull/12?tab=files#diff-1",
    "git clone git@github.com:org/repo.git && cd repo",
    "ssh://git@github.com/org/repo.git",
    "The author: Jane Doe. Secretary: John Roe.",
    "Use a bearer token in the header; see the basic usage section.",
    "bearer token-based auth is described below",
    "Basic instructions follow.",
    "def get_token(self) -> str:\n    return self._token\n",
    "tokens = tokenizer.encode(text)\nif password is None:\n    raise ValueError('missing')",
    "for key, value in sorted(items.items(), key=lambda kv: kv[0]):\n\tprint(key, value)",
    "const apiKey = process.env.API_KEY;",
    "env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: $NPM_TOKEN",
    "token = secrets.token_hex(16)",
    "docker login --password-stdin --username bot ghcr.io",
    "export PATH=/usr/local/bin:$PATH",
    "PWD=/home/runner/work/app",
    "tests: 12 passed, 0 failed in 3.2s",
    "task-runner-configuration-file-name.yaml, disk-usage-report-generator",
    "AKIA1234 is too short; sk-short; ghp_short",
    "password: true",
    "Authorization header missing",
    "Ünïcödé text — with “quotes” and emoji 🎉 and CJK 漢字",
    "ls -la /usr/bin | grep python3 && echo done",
    "docker run -u 1000:1000 -v /w:/w img && docker run -u root:root img",
    "git push -u origin HEAD:main; sort -u names.txt",
    "mysql -u root -p appdb; mysql -p$MYSQL_PASSWORD appdb",
    "mkdir -p build/out && cp -p a b",
    "the cookie_consent banner and chocolate-cookie recipes",
    # sk- package and branch names, words that start like an AWS key id
    "pip install sk-learn-contrib-lightning-extras",
    "pip install sk-learn-contrib-2-extras==0.3.1 && git checkout task-sk-improve-logging-for-deploys",
    "ASIAPACIFICREGIONSNAMES",
    "ASIAPACIFICREGIONSNAMES, EURASIANMARKETSREGIONCODES and AKIACONFIGURATIONPROFILENAME",
    # ports, schemas, columns and blocks that only look like a credential's place
    "docker run -p 8080:80 nginx && docker login --password-stdin ghcr.io",
    'required: ["password", "email"]',
    "input_tokens\t120\toutput_tokens\t25",
    "run: |\n  echo $TOKEN\n  make deploy",
    '{"name": "input_tokens", "value": 120}',
    "- name: GITHUB_TOKEN\n  valueFrom:\n    secretKeyRef: {name: gh}",
    "path: C:\\Users\\u\\xtools\\global-config.json",
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_false_positives_are_left_alone(text: str) -> None:
    assert PROTECTOR.redact_text(text) == text
    protected = protect(base_event(message=text, raw={"otel_signal": "logs", "attributes": {"note": text}}))
    assert protected["message"] == text
    assert protected["raw"]["attributes"]["note"] == text
    assert "content" not in protected


def test_a_clean_event_comes_back_equal() -> None:
    event = base_event(
        gen_ai={"usage": {"input_tokens": 120, "output_tokens": 25, "cost_usd": 0.001225}},
        model="claude-opus-4-8",
    )
    assert protect(event) == event


# --- order: redact before truncate; truncation ----------------------------------------------


@pytest.mark.parametrize("field,limit", [("message", LONG_FIELD_BYTES), ("note", FIELD_BYTES)])
@pytest.mark.parametrize("offset", [-30, -15, -8, -1, 0, 5])
def test_a_secret_straddling_the_cut_leaves_no_part_behind(field: str, limit: int, offset: int) -> None:
    secret = "gh" + "p_" + body(36, 21)
    # The secret crosses the cut, and the text is too long even once the secret is redacted.
    text = "a" * (limit - len(TRUNCATED_MARKER) + offset) + secret + " " + "b" * limit
    event = (
        base_event(**{field: text})
        if field == "message"
        else base_event(raw={"otel_signal": "logs", "attributes": {field: text}})
    )
    protected = protect(event)
    out = protected["message"] if field == "message" else protected["raw"]["attributes"][field]
    assert len(out.encode("utf-8")) <= limit
    assert out.endswith(TRUNCATED_MARKER)
    assert protected["field_truncated"] is True
    for size in range(6, len(secret) + 1):
        assert secret[-size:] not in out and secret[:size] not in out
    assert "[REDAC" not in out or REDACTED in out  # never half a marker


def test_a_labelled_value_straddling_the_cut_leaves_no_part_behind() -> None:
    value = body(30, 22)
    text = "x" * (FIELD_BYTES - 20) + " password=" + value
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"note": text}}))
    out = protected["raw"]["attributes"]["note"]
    assert all(value[:size] not in out for size in range(6, 31))


@pytest.mark.parametrize("char", ["a", "é", "€", "🎉"])
@pytest.mark.parametrize(
    "field,limit", [("message", LONG_FIELD_BYTES), ("command", LONG_FIELD_BYTES), ("note", FIELD_BYTES)]
)
def test_truncation_cuts_on_a_character_boundary_within_the_limit(char: str, field: str, limit: int) -> None:
    text = char * (limit * 2)
    if field == "message":
        event = base_event(message=text)
    elif field == "command":
        event = base_event(command={"command": text})
    else:
        event = base_event(raw={"otel_signal": "logs", "attributes": {"note": text}})
    protected = protect(event)
    out = {
        "message": lambda p: p["message"],
        "command": lambda p: p["command"]["command"],
        "note": lambda p: p["raw"]["attributes"]["note"],
    }[field](protected)
    data = out.encode("utf-8")
    assert out.endswith(TRUNCATED_MARKER)
    assert limit - len(char.encode("utf-8")) < len(data) <= limit  # as much as fits
    assert set(out[: -len(TRUNCATED_MARKER)]) == {char}
    assert protected["field_truncated"] is True


def test_limits_by_field() -> None:
    long_text = "y" * 10_000
    event = base_event(
        message=long_text,
        prompt={"text": long_text},
        command={"command": long_text},
        tool={"command": long_text, "path": long_text},
        approval={"reason": long_text},
        model=long_text,
    )
    protected = protect(event)
    for value, limit in (
        (protected["message"], LONG_FIELD_BYTES),
        (protected["prompt"]["text"], LONG_FIELD_BYTES),
        (protected["command"]["command"], LONG_FIELD_BYTES),
        (protected["tool"]["command"], LONG_FIELD_BYTES),
        (protected["approval"]["reason"], LONG_FIELD_BYTES),
        (protected["tool"]["path"], FIELD_BYTES),
        (protected["model"], FIELD_BYTES),
    ):
        assert len(value.encode("utf-8")) == limit


def test_keys_are_truncated_too() -> None:
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": {"k" * 5000: 1}}))
    (key,) = protected["raw"]["attributes"]
    assert len(key.encode("utf-8")) == FIELD_BYTES and key.endswith(TRUNCATED_MARKER)
    assert protected["field_truncated"] is True


def test_truncate_utf8_exact() -> None:
    assert truncate_utf8("abc", 3) == ("abc", False)
    out, cut = truncate_utf8("a" * 100, 40)
    assert cut and out == "a" * (40 - len(TRUNCATED_MARKER)) + TRUNCATED_MARKER and len(out) == 40
    out, cut = truncate_utf8("€" * 100, 40)  # 3 bytes each: 26 bytes of room, 8 characters fit
    assert out == "€" * 8 + TRUNCATED_MARKER


def test_nothing_is_truncated_or_flagged_when_it_fits() -> None:
    protected = protect(base_event(message="m" * LONG_FIELD_BYTES))
    assert protected["message"] == "m" * LONG_FIELD_BYTES
    assert "field_truncated" not in protected


# --- sanitize --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("\x1b[31mred\x1b[0m plain", "red plain"),
        ("\x1b[1;38;5;208mbold\x1b[K", "bold"),
        ("\x1b]0;window title\x07after", "after"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x9b31mC1 CSI", "C1 CSI"),
        ("a\x00b\x07c\rd\x7fe\x85f\x1b", "abcdef"),
        ("\x1bcreset \x1b7saved", "reset saved"),
        ("keep\ttabs\nand newlines", "keep\ttabs\nand newlines"),
        ("lone \ud800 high and \udfff low", "lone \ufffd high and \ufffd low"),
        ("pair \ud83c\udf89 joins", "pair \U0001f389 joins"),
        ("\x1b]unterminated title", "unterminated title"),
        ("ls notes\u202etxt.sh", "ls notestxt.sh"),
        ("\u2067x\u2069 \u2066y\u2068z\u2069 \u200e\u200f\u061c\u202a\u202b\u202c\u202d", "x yz "),
    ],
)
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize_text(raw) == clean


def test_sanitize_applies_to_keys_and_nested_values_and_output_is_utf8() -> None:
    event = base_event(
        message="\x1b[32mok\x1b[0m\ud800",
        raw={"otel_signal": "logs", "attributes": {"k\x1b[1m\x00ey\udc00": ["\x07v\ud83d"]}},
    )
    protected = protect(event)
    data = line(protected).encode("utf-8")  # raises on a surrogate
    assert b"\x1b" not in data and b"\x00" not in data and b"\x07" not in data
    assert protected["message"] == "ok\ufffd"
    assert protected["raw"]["attributes"] == {"key\ufffd": ["v\ufffd"]}


# --- the line cap ----------------------------------------------------------------------------


def test_a_huge_raw_block_is_trimmed_field_by_field_and_keeps_its_source() -> None:
    attributes = {f"attr_{i}": body(3000, i) for i in range(120)}
    event = base_event(
        raw={"otel_signal": "logs", "event_name": "claude_code.tool_result", "attributes": attributes}
    )
    protected = protect(event)
    assert line_bytes(protected) <= MAX_LINE_BYTES
    assert protected["raw"]["otel_signal"] == "logs"
    assert protected["raw"]["event_name"] == "claude_code.tool_result"
    assert len(protected["raw"]["attributes"]) == 120  # cut shorter, not dropped
    assert protected["field_truncated"] is True
    assert protected["event"] == event["event"]


def test_raw_members_are_dropped_when_cutting_strings_is_not_enough() -> None:
    attributes = {f"a{i}": i for i in range(12_000)}
    event = base_event(
        raw={"otel_signal": "metrics", "metric_name": "claude_code.token.usage", "attributes": attributes}
    )
    protected = protect(event)
    assert line_bytes(protected) <= MAX_LINE_BYTES
    assert protected["raw"] == {"otel_signal": "metrics", "metric_name": "claude_code.token.usage"}
    assert protected["message"] == event["message"]
    assert protected["field_truncated"] is True


def test_thousands_of_keys_outside_raw_fall_back_to_a_minimal_event() -> None:
    arguments = {f"key_{i}": f"value {i}" for i in range(8000)}
    event = base_event(gen_ai={"tool": {"call": {"arguments": arguments}}})
    protected = protect(event)
    assert line_bytes(protected) <= MAX_LINE_BYTES
    for field in (
        "timestamp",
        "vendor",
        "product",
        "schema_version",
        "severity",
        "endpoint",
        "user",
        "harness",
        "capture",
        "origin",
        "run",
    ):
        assert protected[field] == event[field]
    assert {k: protected["event"][k] for k in ("kind", "action", "category", "id")} == {
        k: event["event"][k] for k in ("kind", "action", "category", "id")
    }
    assert protected["message"].startswith("event too large: ")
    assert protected["message"].endswith(" bytes; content dropped")
    assert int(protected["message"].split()[3]) > MAX_LINE_BYTES
    assert protected["field_truncated"] is True
    assert "gen_ai" not in protected and "raw" not in protected
    assert protect(protected) == protected


def test_the_minimal_event_fits_even_when_required_objects_are_huge() -> None:
    event = base_event(
        run={f"k{i}" * 50: "v" * 2048 for i in range(500)},
        user={f"u{i}" * 50: "w" * 2048 for i in range(500)},
    )
    protected = protect(event)
    assert line_bytes(protected) <= MAX_LINE_BYTES
    assert protected["message"].startswith("event too large")
    assert protected["event"]["id"] == event["event"]["id"]


def test_a_minimal_event_still_says_it_was_redacted() -> None:
    arguments = {f"key_{i}": f"value {i}" for i in range(8000)}
    arguments["password"] = "hunter22x"
    protected = protect(base_event(gen_ai={"tool": {"call": {"arguments": arguments}}}))
    assert protected["content"] == {"redacted": True}
    assert "hunter22x" not in line(protected)


def test_a_huge_message_is_cut_after_raw() -> None:
    event = base_event(
        message="m" * 3000,
        raw={"otel_signal": "logs", "attributes": {f"n{i}": [body(100, i)] * 30 for i in range(25)}},
    )
    protected = protect(event)
    assert line_bytes(protected) <= MAX_LINE_BYTES
    assert protected["raw"]["otel_signal"] == "logs"


def test_the_input_event_is_never_changed() -> None:
    event = base_event(
        message="\x1b[1mtoken=abc12345\x1b[0m" + "z" * 9000,
        raw={"otel_signal": "logs", "attributes": {f"a{i}": "q" * 3000 for i in range(60)}},
        gen_ai={"tool": {"call": {"arguments": {"password": "hunter22x", "list": [1, {"x": "y"}]}}}},
    )
    before = copy.deepcopy(event)
    protected = protect(event)
    assert event == before
    assert protected is not event and protected["raw"] is not event["raw"]


def test_unusual_values_become_json() -> None:
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    protected = protect(
        base_event(
            raw={
                "otel_signal": "logs",
                "attributes": {
                    "nan": float("nan"),
                    "inf": float("inf"),
                    "bytes": b"ok \xff",
                    "tuple": (1, 2),
                    7: "int key",
                    None: "none key",
                    "deep": deep,
                },
            }
        )
    )
    json.loads(json.dumps(protected, allow_nan=False))
    attributes = protected["raw"]["attributes"]
    assert attributes["nan"] == "NaN" and attributes["inf"] == "Infinity"
    assert attributes["bytes"] == "ok \ufffd" and attributes["tuple"] == [1, 2]
    assert attributes["7"] == "int key" and attributes["null"] == "none key"
    assert TRUNCATED_MARKER in json.dumps(attributes["deep"]) and protected["field_truncated"] is True


def test_a_cycle_cannot_hang_protection() -> None:
    attributes: Dict[str, Any] = {}
    attributes["self"] = attributes
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": attributes}))
    assert line_bytes(protected) <= MAX_LINE_BYTES and protected["field_truncated"] is True


def test_colliding_redacted_keys_are_both_kept() -> None:
    keys = {"gh" + "p_" + "C3" * 18: 1, "gh" + "p_" + "D4" * 18: 2}
    protected = protect(base_event(raw={"otel_signal": "logs", "attributes": keys}))
    assert protected["raw"]["attributes"] == {REDACTED: 1, REDACTED + "~2": 2}


# --- secret values from the environment -------------------------------------------------------


def test_secret_values_from_env() -> None:
    environ = {
        "ANTHROPIC_API_KEY": "sk-" + "ant-" + "k" * 40,
        "GITHUB_TOKEN": "gh" + "s_" + "t" * 36,
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "BEACON_CI_SPLUNK_HEC_TOKEN": "12345678-aaaa-bbbb-cccc-1234567890ab",
        "db_password": "  hunter22x\n",
        "SHORT_TOKEN": "abc",
        "FEATURE_AUTH": "true",
        "NUMERIC_KEY": "1234567890",
        "AUTH_MODE": "required",
        "SSH_AUTH_SOCK": "/tmp/ssh-XXXXabcd/agent.1234",
        "XAUTHORITY": "/run/user/1000/gdm/Xauthority",
        "GEMINI_AUTH_TYPE": "oauth-personal",
        "GOOGLE_KEY_FILE": "/secrets/key-file.json",
        "HOME": "/home/runner",
        "PATH": "/usr/bin:/bin",
        "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
        "KEYBOARD_LAYOUT": "enabled",
    }
    values = secret_values_from_env(environ, ["receiver-token-123"])
    assert set(values) == {
        environ["ANTHROPIC_API_KEY"],
        environ["GITHUB_TOKEN"],
        environ["AWS_SECRET_ACCESS_KEY"],
        environ["BEACON_CI_SPLUNK_HEC_TOKEN"],
        "hunter22x",
        "receiver-token-123",
    }
    assert [len(v) for v in values] == sorted((len(v) for v in values), reverse=True)


def test_exact_values_skip_numbers_common_words_and_system_paths() -> None:
    # Erased wherever they appear, these would wreck ordinary text: dates and counts, words,
    # the paths a variable points at. Under a label they are still redacted.
    environ = {
        "BUILD_KEY": "20261125",
        "LOG_SECRET": "disabled",
        "CACHE_TOKEN": "/home/runner/.cache/app",
        "DEPLOY_TOKEN": "Tq7-" + body(12, 40),
    }
    assert secret_values_from_env(environ) == [environ["DEPLOY_TOKEN"]]
    protector = Protector(secret_values_from_env(environ))
    text = "build 20261125 logged to /home/runner/.cache/app with tracing disabled"
    assert protector.redact_text(text) == text
    assert protector.redact_text("api_key=20261125") == f"api_key={REDACTED}"
    assert protector.redact_text(f"deploy {environ['DEPLOY_TOKEN']}") == f"deploy {REDACTED}"


def test_exact_values_are_replaced_longest_first() -> None:
    protector = Protector(["abcdefgh", "abcdefgh-ijkl"])
    assert protector.redact_text("x abcdefgh-ijkl y abcdefgh z") == f"x {REDACTED} y {REDACTED} z"
    assert Protector(["short"]).redact_text("short stays") == "short stays"


# --- property-based --------------------------------------------------------------------------


def _not_a_placeholder(body: str) -> bool:
    # A body ending in one repeated character (ghp_0000..., xxxx) is a placeholder and kept.
    return len(set(body[-12:].lower().replace("-", "").replace("_", ""))) > 1


def _fixed(prefix: str, size: int, alphabet: str = ALNUM) -> st.SearchStrategy[Tuple[str, str]]:
    bodies = st.text(alphabet=alphabet, min_size=size, max_size=size).filter(_not_a_placeholder)
    return bodies.map(lambda b: (prefix + b, b))


def _ranged(prefix: str, low: int, high: int, alphabet: str = ALNUM) -> st.SearchStrategy[Tuple[str, str]]:
    bodies = st.text(alphabet=alphabet, min_size=low, max_size=high).filter(_not_a_placeholder)
    return bodies.map(lambda b: (prefix + b, b))


def _random_key(
    prefix: str, low: int, high: int, alphabet: str = ALNUM
) -> st.SearchStrategy[Tuple[str, str]]:
    # Random base62 as real keys are: with a digit and an uppercase letter (hyphenated lowercase
    # words after sk- are package names, not keys).
    return st.builds(
        lambda text, digit, upper: text + digit + upper,
        st.text(alphabet=alphabet, min_size=low - 2, max_size=high - 2),
        st.sampled_from("0123456789"),
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ).map(lambda b: (prefix + b, b))


def _pem_strategy() -> st.SearchStrategy[Tuple[str, str]]:
    def build(kind: str, payload: bytes) -> Tuple[str, str]:
        encoded = base64.b64encode(payload).decode()
        lines = "\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{lines}\n-----END {kind}PRIVATE KEY-----", encoded

    return st.builds(
        build,
        st.sampled_from(["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]),
        st.binary(min_size=24, max_size=300),
    )


_VALUE_ALPHABET = ALNUM + "-_=+/."
_LABELS = [
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "private_key",
    "credentials",
    "auth",
    "authorization",
    "client_secret",
    "session_token",
    "GITHUB_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "csrf_token",
    "db_password",
    "X-Api-Key",
]
_FORMS = [
    "{l}:\u00a0{v}",
    "{l}\t{v}",
    "{l}: |\n  {v}",
    "{l}={v}",
    "{l}: {v}",
    "{l} = {v}",
    '"{l}": "{v}"',
    "'{l}': '{v}'",
    "--{l} {v}",
    "--{l}={v}",
    "export {l}={v}",
    '{l}="{v} and more words"',
]


# Under a label these are not secrets, by design: placeholders and references to a secret.
_NOT_SECRET_VALUES = ("undefined", "required", "optional", "redacted")
_REFERENCE_PREFIXES = ("env.", "var.", "vars.", "secrets.")


def _labelled_strategy() -> st.SearchStrategy[Tuple[str, str]]:
    value = st.text(alphabet=_VALUE_ALPHABET, min_size=8, max_size=40).filter(
        lambda v: (
            v[0] not in "-="
            and v.lower() not in _NOT_SECRET_VALUES
            and not v.lower().startswith(_REFERENCE_PREFIXES)
            and is_secret_value(v)  # not xxxxxxxx, <your-token>, settings.KEY: kept readable by design
        )
    )
    return st.builds(
        lambda form, label, v: (form.format(l=label, v=v), v),
        st.sampled_from(_FORMS),
        st.sampled_from(_LABELS),
        value,
    )


def _pair_strategy() -> st.SearchStrategy[Tuple[str, str]]:
    """A secret name and its value apart: an object's name and value fields, YAML, a header list."""
    forms = [
        '{{"name": "{l}", "value": "{v}"}}',
        '{{"key":"{l}","value":"{v}"}}',
        "- name: {l}\n  value: {v}",
        '[["Accept", "json"], ["{l}", "{v}"]]',
        "[('{l}', '{v}')]",
    ]
    return st.builds(
        lambda form, label, v: (form.format(l=label, v=v[1]), v[1]),
        st.sampled_from(forms),
        st.sampled_from(_LABELS),
        _labelled_strategy(),
    )


def _escaped_prefix(strategy: st.SearchStrategy[Tuple[str, str]]) -> st.SearchStrategy[Tuple[str, str]]:
    # The format's first character as a \u escape (JSON, JavaScript): the rest must still go.
    return strategy.map(lambda pair: (f"\\u{ord(pair[0][0]):04x}" + pair[0][1:], pair[1]))


def _basic_strategy() -> st.SearchStrategy[Tuple[str, str]]:
    pair = st.tuples(
        st.text(alphabet=ALNUM, min_size=1, max_size=12),
        st.text(alphabet=ALNUM + "!:", min_size=6, max_size=30),
    )
    return pair.map(lambda p: base64.b64encode(f"{p[0]}:{p[1]}".encode()).decode()).map(
        lambda b: ("Basic " + b, b)
    )


def _credential(size: int) -> st.SearchStrategy[str]:
    # Standalone Bearer credentials must look like one (see _looks_like_credential): a digit does.
    return st.builds(
        lambda text, digit: text + digit,
        st.text(alphabet=ALNUM + "-_.", min_size=size - 1, max_size=60),
        st.sampled_from("0123456789"),
    )


SECRETS = st.one_of(
    _random_key("sk-" + "ant-api03-", 80, 100, ALNUM + "-_"),
    _random_key("sk-", 48, 48),
    _random_key("sk-" + "proj-", 40, 120, ALNUM + "-_"),
    st.sampled_from("pousr").flatmap(lambda c: _fixed("gh" + c + "_", 36)),
    st.tuples(_fixed("", 22), _fixed("", 59)).map(
        lambda t: ("github" + "_pat_" + t[0][0] + "_" + t[1][0], t[0][0] + "_" + t[1][0])
    ),
    st.sampled_from(["AK" + "IA", "AS" + "IA"]).flatmap(lambda p: _fixed(p, 16, UPPER_DIGITS)),
    _fixed("AI" + "za", 35, ALNUM + "-_"),
    st.sampled_from("abprs").flatmap(lambda c: _ranged("xo" + "x" + c + "-", 20, 60, ALNUM + "-")),
    st.sampled_from(["sk" + "_live_", "rk" + "_live_", "sk" + "_test_"]).flatmap(
        lambda p: _ranged(p, 16, 99)
    ),
    _fixed("np" + "m_", 36),
    st.sampled_from(["pat", "dt", "rt", "ptt", "cbt"]).flatmap(lambda k: _ranged("gl" + k + "-", 20, 40)),
    _ranged("xa" + "pp-1-A", 20, 60, ALNUM + "-"),
    _escaped_prefix(
        st.one_of(
            _fixed("gh" + "p_", 36),
            _fixed("AK" + "IA", 16, UPPER_DIGITS),
            _random_key("sk-" + "proj-", 40, 80, ALNUM + "-_"),
        )
    ),
    _pair_strategy(),
    _ranged("py" + "pi-AgEIcHlwaS5vcmc", 50, 150, ALNUM + "-_"),
    st.tuples(
        _ranged("", 10, 40, ALNUM + "-_"),
        _ranged("", 10, 60, ALNUM + "-_"),
        _ranged("", 20, 60, ALNUM + "-_"),
    ).map(lambda t: (f"eyJ{t[0][0]}.eyJ{t[1][0]}.{t[2][0]}", t[2][0])),
    _pem_strategy(),
    _labelled_strategy(),
    st.tuples(
        st.sampled_from(["deploy", "x-access-token", ""]),
        _ranged("", 8, 30, _VALUE_ALPHABET.replace("/", "")),
    ).map(lambda t: (f"https://{t[0]}:{t[1][0]}@host.example.com/path", t[1][0])),
    st.tuples(st.sampled_from(["postgres", "mysql", "mongodb+srv", "redis"]), _ranged("", 8, 30)).map(
        lambda t: (f"{t[0]}://user:{t[1][0]}@db.example.com/app", t[1][0])
    ),
    _credential(16).map(lambda c: ("Bearer " + c, c)),
    _credential(8).map(lambda c: ("Authorization: Bearer " + c, c)),
    _basic_strategy(),
    st.just((ENV_SECRET, ENV_SECRET)),
    st.just((RECEIVER_TOKEN, RECEIVER_TOKEN)),
)

TEXT = st.text(max_size=300)
KEY_NAMES = ["note", "message", "command", "text", "value", "x", "args", "output"]
KEYS = st.sampled_from(KEY_NAMES)
# What the protected line holds besides the random text: a "secret" must not be part of it either.
FIXED_TEXT = " ".join(
    [
        line(base_event(tool={"command": ""}, content={"redacted": True}, field_truncated=True)),
        *KEY_NAMES,
        REDACTED,
        TRUNCATED_MARKER,
        "~2",
        "n",
    ]
)


@st.composite
def event_with_secrets(draw: st.DrawFn) -> Tuple[Dict[str, Any], List[str]]:
    """A random nested event with random secrets placed in random text at random places."""
    secrets_found: List[str] = []

    texts: List[str] = [FIXED_TEXT]

    def text_with_secret() -> str:
        snippet, distinct = draw(SECRETS)
        secrets_found.append(distinct)
        text = draw(TEXT)
        texts.append(text)
        at = draw(st.integers(0, len(text)))
        return text[:at] + "\n" + snippet + "\n" + text[at:]

    def plain() -> Any:
        scalar = draw(st.one_of(TEXT, st.integers(), st.booleans(), st.none()))
        texts.append(str(scalar))
        return scalar

    def argv() -> List[str]:
        secret = draw(
            st.text(alphabet=_VALUE_ALPHABET, min_size=8, max_size=30).filter(
                lambda v: (
                    v[0] not in "-="
                    and v.lower() not in _NOT_SECRET_VALUES
                    and not v.lower().startswith(_REFERENCE_PREFIXES)
                    and is_secret_value(v)
                )
            )
        )
        secrets_found.append(secret)
        flag = "--" + draw(st.sampled_from(["token", "password", "api-key", "client-secret"]))
        return ["deploy", flag, secret]

    def value(depth: int) -> Any:
        kind = draw(st.integers(0, 6 if depth < 3 else 2))
        if kind == 6:
            return argv()
        if kind == 0:
            return text_with_secret()
        if kind == 1:
            return plain()
        if kind == 2:
            number = draw(st.integers())
            texts.append(str(number))
            return json.dumps({draw(KEYS): text_with_secret(), "n": number})
        if kind == 3:
            return [value(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        if kind == 4:
            return {text_with_secret(): plain()}
        return {draw(KEYS): value(depth + 1) for _ in range(draw(st.integers(0, 3)))}

    event = base_event(
        message=text_with_secret(),
        raw={"otel_signal": "logs", "attributes": {draw(KEYS): value(0) for _ in range(3)}},
        tool={"command": text_with_secret()},
    )
    # The random text around a secret must not hold it by chance (hypothesis likes "0000...").
    assume(not any(distinct in text for distinct in secrets_found for text in texts))
    return event, secrets_found


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY_SETTINGS
@given(event_with_secrets())
def test_property_no_secret_survives_and_the_line_fits(case: Tuple[Dict[str, Any], List[str]]) -> None:
    event, secrets_found = case
    protected = protect(event)
    text = line(protected)
    data = text.encode("utf-8")
    assert len(data) <= MAX_LINE_BYTES
    assert json.loads(data.decode("utf-8")) == protected
    for distinct in secrets_found:
        assert distinct not in text
        assert json.dumps(distinct)[1:-1] not in text
    assert protected["content"]["redacted"] is True
    assert (
        protected["event"] == event["event"] and protected["timestamp"] == event["timestamp"]
    )  # never dropped


@PROPERTY_SETTINGS
@given(event_with_secrets())
def test_property_protecting_twice_is_protecting_once(case: Tuple[Dict[str, Any], List[str]]) -> None:
    once = protect(case[0])
    assert protect(once) == once


@PROPERTY_SETTINGS
@given(
    st.recursive(
        st.one_of(st.text(max_size=3000), st.integers(), st.floats(allow_nan=False), st.none()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=20), inner, max_size=4)
        ),
        max_leaves=40,
    )
)
def test_property_any_event_comes_back_valid_and_stable(payload: Any) -> None:
    event = base_event(
        raw={"otel_signal": "logs", "attributes": {"payload": payload}}, message=json.dumps(payload)[:6000]
    )
    protected = protect(event)
    data = line(protected).encode("utf-8")
    assert len(data) <= MAX_LINE_BYTES and json.loads(data) == protected
    assert protect(protected) == protected


@settings(PROPERTY_SETTINGS, max_examples=60)  # big events: fewer of them
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["raw", "raw_nested", "gen_ai", "message", "key"]),
            st.integers(0, 300),
            st.integers(0, 5000),
            st.integers(0, 3),
        ),
        max_size=6,
    )
)
def test_property_oversized_events_fit_keep_their_identity_and_stay_stable(
    blocks: List[Tuple[str, int, int, int]],
) -> None:
    event = base_event()
    for where, count, size, seed in blocks:
        filler = {
            f"{where}_{seed}_{i}": body(size % 3000, seed + i, ALNUM + " =:\"'") + " token=abc12345"
            for i in range(count)
        }
        if where == "raw":
            event["raw"]["attributes"].update(filler)
        elif where == "raw_nested":
            event["raw"][f"block_{seed}"] = {"inner": list(filler.values())}
        elif where == "gen_ai":
            event.setdefault("gen_ai", {}).update(filler)
        elif where == "message":
            event["message"] = " ".join(filler.values())
        else:
            event["raw"]["attributes"][body(size, seed)] = count
    protected = protect(event)
    data = line(protected).encode("utf-8")
    assert len(data) <= MAX_LINE_BYTES and json.loads(data) == protected
    assert protected["event"] == event["event"] and protected["harness"] == event["harness"]
    assert "abc12345" not in line(protected)
    assert protect(protected) == protected


# Pieces of the syntax the rules look at, to build text near their edges.
FRAGMENTS = st.one_of(
    st.sampled_from(
        [
            "token",
            "Token",
            "password",
            "pwd",
            "PWD",
            "secret",
            "api_key",
            "X-Api-Key",
            "auth",
            "Authorization",
            "Bearer ",
            "Basic ",
            "bearer",
            "=",
            ":",
            ": ",
            " = ",
            "==",
            "=>",
            '"',
            "'",
            "`",
            "\\",
            '\\"',
            "{",
            "}",
            "[",
            "]",
            ",",
            ";",
            "&",
            " ",
            "\n",
            "\t",
            "--",
            "-",
            "$",
            "${",
            "://",
            "@",
            "https://u:",
            "sk-",
            "gh" + "p_",
            "AK" + "IA",
            "eyJ",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----END RSA PRIVATE KEY-----",
            "dXNlcjpwYXNz",
            "[REDACTED]",
            "[REDAC",
            "...[truncated]",
            "\x1b[31m",
            "\x1b]0;t\x07",
            "\ud800",
            "é",
            "🎉",
            ENV_SECRET,
            "true",
            "0" * 40,
            "\\u0067",
            "\\u005c",
            "\\\\",
            "\\/",
            "\\x41",
            "name: ",
            "value: ",
            '{"name":"',
            '","value":"',
            '[["',
            '", "',
            "\u00a0",
            "|",
            ": |\n  ",
            "gl" + "pat-",
            "xa" + "pp-1-",
            "sk-learn-",
            "docker login -p ",
        ]
    ),
    st.text(alphabet=ALNUM + "-_=+/.", min_size=1, max_size=50),
    st.text(max_size=20),
)


@PROPERTY_SETTINGS
@given(st.lists(FRAGMENTS, max_size=60), st.integers(1, 120))
def test_property_text_near_the_rules_edges_is_stable(fragments: List[str], repeat: int) -> None:
    text = "".join(fragments) * repeat  # long enough, often, to be cut
    event = base_event(
        message=text,
        raw={
            "otel_signal": "logs",
            "attributes": {
                "note": text,
                text[:100]: [text[:3000]],
                "json": json.dumps({"k": text[:500], "token": text[:50]}),
            },
        },
    )
    once = protect(event)
    data = line(once).encode("utf-8")
    assert len(data) <= MAX_LINE_BYTES and json.loads(data) == once
    assert protect(once) == once
    assert ENV_SECRET not in line(once)


# Every redaction rule needs one of these (case-insensitive); text without any must pass untouched.
TRIGGERS = (
    "token",
    "secret",
    "pass",
    "pwd",
    "credential",
    "auth",
    "bearer",
    "basic",
    "://",
    "key",
    "sk-",
    "k_live",
    "k_test",
    "gh",
    "xox",
    "npm_",
    "pypi-",
    "eyj",
    "gl",
    "xapp",
    "-p",
    "\\u",
    "\\x",
    "\\/",
    "akia",
    "asia",
    "aiza",
    "-----begin",
    ENV_SECRET.lower(),
    RECEIVER_TOKEN.lower(),
    *rule_set().keywords,  # every rule's own keywords: text with none of them is left alone
    *LABEL_WORDS,  # a key named by one ("Sig") has its value replaced whole
)


@PROPERTY_SETTINGS
@given(st.text(max_size=400))
def test_property_text_without_secrets_is_only_sanitized(text: str) -> None:
    assume(not any(trigger in text.lower() for trigger in TRIGGERS))
    assert PROTECTOR.redact_text(text) == sanitize_text(text)
    protected = protect(base_event(message=text, raw={"otel_signal": "logs", "attributes": {text: [text]}}))
    assert protected["message"] == sanitize_text(text)
    assert protected["raw"]["attributes"] == {sanitize_text(text): [sanitize_text(text)]}
    assert "content" not in protected and "field_truncated" not in protected


# The Unicode bidirectional controls: they reorder what a terminal or a browser shows.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# Any text, with what st.text() rarely draws between its pieces: bidi controls, escape starts
# and the two halves of a surrogate pair.
HOSTILE_PIECES = st.sampled_from([*BIDI_CONTROLS, "\x1b", "\x1b[", "\x1b]", "\ud83c", "\udf89"])
HOSTILE_TEXT = st.lists(st.text(max_size=10) | HOSTILE_PIECES, max_size=30).map("".join)


@PROPERTY_SETTINGS
@given(HOSTILE_TEXT)
def test_property_sanitized_text_is_clean_utf8(text: str) -> None:
    clean = sanitize_text(text)
    clean.encode("utf-8")
    assert not any((ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in clean)
    assert not any(c in BIDI_CONTROLS for c in clean)
    assert sanitize_text(clean) == clean


# --- the module's constants ------------------------------------------------------------------


def test_module_exports() -> None:
    assert REDACTED == "[REDACTED]" and TRUNCATED_MARKER == "...[truncated]"
    assert MAX_LINE_BYTES == 65536 and LONG_FIELD_BYTES == 4096 and FIELD_BYTES == 2048


# --- sealed parts: beacon's envelope, protected once a capture ---------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    run=st.dictionaries(
        st.sampled_from(["repository", "ref", "actor", "workflow", "head_ref"]), st.text(max_size=80)
    ),
    message=st.text(max_size=80),
)
def test_a_sealed_part_protects_exactly_as_protecting_it_in_each_event(
    run: Dict[str, str], message: str
) -> None:
    """Sealing is only a cache: the event comes out as it would without it, its marks included."""
    run = {**run, "token_hint": "ghp_" + "a1B2" * 9}  # a secret in a shared part marks every event
    event = {"event": {"action": "command.executed"}, "run": run, "message": message}
    sealed = Protector()
    sealed.seal(run)
    assert sealed.protect_event(event) == Protector().protect_event(event)
    assert sealed.protect_event(event)["content"] == {"redacted": True}


def test_only_the_sealed_object_itself_takes_the_sealed_form() -> None:
    """An equal object from elsewhere (an agent's) is protected as usual, and a sealed part's
    protected form is the same object in every event (never copied per event)."""
    part = {"hostname": "runner-1", "os": "linux"}
    protector = Protector()
    protector.seal(part)
    first = protector.protect_event({"endpoint": part})
    assert protector.protect_event({"endpoint": part})["endpoint"] is first["endpoint"]
    lookalike = protector.protect_event({"endpoint": dict(part)})
    assert lookalike["endpoint"] == part and lookalike["endpoint"] is not first["endpoint"]
