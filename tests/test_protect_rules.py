"""The rule tables and readers of beacon_protect, one behaviour each: the format table, the
program table, the structural readers, placeholders, a user's own rules (--redact-rules), and
the keyword index that decides which rules run. The independent corpus is test_protect_corpus.py."""

from __future__ import annotations

import base64
import json
import random
import string
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exec import FAKE_AGENT, beacon_run, environ, exec_claude

from beacon_ci.errors import EXIT_USAGE
from beacon_ci.selftest import SYNTHETIC_SECRET
from beacon_protect import REDACTED, Protector
from beacon_protect.custom import RulesError, parse_rules
from beacon_protect.formats import FORMAT_RULES
from beacon_protect.names import is_placeholder
from beacon_protect.programs import PROGRAMS
from beacon_protect.rules import rule_set

RNG = random.Random(20261205)
PROTECTOR = Protector()


def random_text(size: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(size))


def redact(text: str, protector: Protector = PROTECTOR) -> str:
    return protector.redact_text(text)


# --- the tables ---------------------------------------------------------------------------------


def test_format_ids_are_unique_and_every_rule_is_cheap_to_try() -> None:
    ids = [rule.id for rule in FORMAT_RULES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 130
    for rule in FORMAT_RULES:
        assert all(word == word.lower() for word in rule.keywords), rule.id
        # A rule with no keyword runs on every string: its pattern must start with a literal, so
        # that the engine jumps between that character's occurrences.
        source = rule.pattern.pattern
        starts_with_literal = (
            source[0].isalnum() or source[0] in "_-/:" or (source[0] == "\\" and not source[1].isalnum())
        )
        assert rule.keywords or starts_with_literal, rule.id


def test_every_format_rule_runs_only_where_a_keyword_occurs() -> None:
    keywords = rule_set().keywords
    for rule in FORMAT_RULES:
        assert set(rule.keywords) <= keywords, rule.id
    assert rule_set().keywords_in("nothing to see, just prose about a build") == frozenset()


def test_keywords_inside_another_keyword_are_found() -> None:
    # "secret_" is a keyword and so is "t_"-free "token"; a keyword that begins inside a longer
    # match must still be found (the scan resumes after the longer one).
    hits = rule_set().keywords_in("XSECRET_TOKEN=1 ghp_x sk-ant")
    assert {"secret", "token", "ghp_", "sk-"} <= hits


@pytest.mark.parametrize(
    "command,secret",
    [
        ("mysql -uroot -p{v} app", "{v}"),
        ("sudo mysqladmin -u root password {v}", "{v}"),
        ("sshpass -p {v} ssh deploy@host", "{v}"),
        ("echo {v} | docker login -u bot --password-stdin ghcr.io", "{v}"),
        ("printf '%s' '{v}' | podman login --password-stdin quay.io", "{v}"),
        ("gh auth login --with-token <<< {v}", "{v}"),
        ("redis-cli -h cache -a {v} ping", "{v}"),
        ("sqlcmd -S db -U sa -P {v} -Q 'select 1'", "{v}"),
        ("htpasswd -b -c .htpasswd admin {v}", "{v}"),
        ("openssl enc -aes-256-cbc -pass pass:{v} -in a -out b", "{v}"),
        ("keytool -importkeystore -srcstorepass {v} -deststorepass {v}", "{v}"),
        ("zip -P {v} backup.zip db.sql", "{v}"),
        ("7z a -p{v} backup.7z db.sql", "{v}"),
        ("smbclient //files/share -U ops%{v}", "{v}"),
        ("net use Z: \\\\files\\share {v} /user:ops", "{v}"),
        ("rabbitmqctl add_user deploy {v}", "{v}"),
        ("aws configure set aws_secret_access_key {v}", "{v}"),
        ("npm config set //registry.npmjs.org/:_authToken {v}", "{v}"),
        ("az login -u ops@example.com -p {v}", "{v}"),
        ("vault login {v}", "{v}"),
        ("doctl auth init -t {v}", "{v}"),
        ("ldapsearch -x -D cn=admin -w {v} -b dc=example", "{v}"),
        ("mongosh mongodb://db -u admin -p {v}", "{v}"),
        ("sqlplus scott/{v}@orcl", "{v}"),
        ("xfreerdp /u:ops /p:{v} /v:host", "{v}"),
        ("plink -ssh ops@host -pw {v}", "{v}"),
        ("cd app && mysql -p{v} -e 'show tables'", "{v}"),
    ],
)
def test_program_credentials_are_redacted(command: str, secret: str) -> None:
    value = "Pw" + random_text(14)
    text = command.format(v=value)
    result = redact(text)
    assert value not in result, result
    assert REDACTED in result


@pytest.mark.parametrize(
    "command",
    [
        "mysql -p appdb",  # prompts for the password; appdb is a database
        "docker run -p 8080:80 -u 1000:1000 nginx",
        "mkdir -p build/out",
        "zip -r out.zip src",
        "vault login -method=github",
        "htpasswd -c .htpasswd admin",  # prompts
        "openssl enc -pass env:BACKUP_KEY -in a",
        "aws configure set region eu-west-1",
        "redis-cli -a $REDIS_PASSWORD ping",
        "echo hello | docker login --password-stdin ghcr.io < /dev/null && echo $TOKEN",
    ],
)
def test_program_arguments_that_hold_no_secret_stay(command: str) -> None:
    expected = command.replace("echo hello |", "echo [REDACTED] |")  # what is piped in is the secret
    assert redact(command) == expected


def test_every_program_is_a_keyword_with_its_space() -> None:
    keywords = rule_set().keywords
    for name in PROGRAMS:
        assert name.split()[0] + " " in keywords, name


def test_an_argument_vector_uses_the_program_table_too() -> None:
    argv = ["smbclient", "//files/share", "-U", "ops%S3cretShare99"]
    protected = PROTECTOR.protect_event({"raw": {"argv": argv}})
    assert protected["raw"]["argv"] == ["smbclient", "//files/share", "-U", "ops%[REDACTED]"]
    assert protected["content"] == {"redacted": True}


@pytest.mark.parametrize(
    "key",
    [
        "sk-abcdefghijklmnopqrstuvwxyz",  # no digit, one case: still a key
        "sk-proj-abcdefghijklmnopqrstuvwxyzabcd",  # a kind, then a run of letters
        "sk-ant-api-abcdefghijklmnopqrstuvwxyzab",
        "sk-abcdefghij-klmnopqrstuvwxyzabcde",
    ],
)
def test_sk_keys_without_a_digit_are_redacted(key: str) -> None:
    for text in (key, f"run {key} now", f"OPENAI_BASE={key}"):
        result = redact(text)
        assert REDACTED in result and key[-20:] not in result, result


@pytest.mark.parametrize(
    "text",
    [
        "pip install sk-learn",
        "pip install sk-learn-contrib-lightning-extras",
        "scikit-learn (import as sk-learn-intelex) and the task-list",
        "git checkout task-sk-improve-logging-for-deploys",
        "sk-scikit-learn-compatible-estimators-and-transformers",
    ],
)
def test_words_after_sk_are_no_key(text: str) -> None:
    assert redact(text) == text


def test_an_object_that_only_describes_a_token_is_no_secret() -> None:
    """1.0's gen_ai.token.type is {"token": {"type": ...}}: a kind of token, not one."""
    event = {"gen_ai": {"token": {"type": "input"}, "usage": {"input_tokens": 7}}}
    assert PROTECTOR.protect_event(event) == event
    for token in ({"type": "bearer", "value": "Zq8xLr2Wv5Kt9Pn3"}, {"access_token": "Zq8xLr2Wv5Kt9Pn3"}):
        assert PROTECTOR.protect_event({"token": token}) == {"token": REDACTED, "content": {"redacted": True}}


# --- readers ------------------------------------------------------------------------------------


def test_a_csv_credential_column_is_redacted_whole_and_the_event_says_so() -> None:
    key_id, secret = "AKIA" + random_text(16, string.ascii_uppercase + string.digits), random_text(40)
    csv = (
        "User name,Password,Access key ID,Secret access key,Console login link\n"
        f"deploy,,{key_id},{secret},https://123456789012.signin.aws.amazon.com/console\n"
    )
    protected = PROTECTOR.protect_event({"message": csv})
    assert secret not in protected["message"] and key_id not in protected["message"]
    assert protected["message"].startswith("User name,Password,Access key ID,Secret access key,")
    assert protected["content"] == {"redacted": True}


def test_netrc_xml_sql_and_prose() -> None:
    value = "Zq" + random_text(14)
    for text in (
        f"machine api.example.com\n  login ci\n  password {value}\n",
        f"<settings><servers><server><id>r</id><password>{value}</password></server></servers></settings>",
        f"psql -c \"ALTER USER app WITH PASSWORD '{value}'\"",
        f"CREATE USER 'app'@'%' IDENTIFIED BY '{value}';",
        f"fyi the staging admin password is {value}, rotate it tomorrow",
        f"pw: {value}",
    ):
        assert value not in redact(text), text


def test_a_user_part_holding_an_at_sign_and_a_scheme_less_authority() -> None:
    value = "Kx" + random_text(14)
    assert value not in redact(f"smtp://postmaster@mg.example.com:{value}@smtp.mailgun.org:587")
    assert value not in redact(f"mysqlsh --uri root:{value}@db.internal:3306")
    for kept in ("git@github.com:acme/app.git", "nginx:1.25@sha256:" + "ab" * 32, "redis://redis:6379/0"):
        assert redact(kept) == kept


def test_base64_blobs_that_hide_a_key_are_replaced_whole() -> None:
    service_account = {
        "type": "service_account",
        "project_id": "acme",
        "private_key_id": random_text(40, "0123456789abcdef"),
        "private_key": "-----BEGIN PRIVATE KEY-----\n" + random_text(64) + "\n-----END PRIVATE KEY-----\n",
    }
    blob = base64.b64encode(json.dumps(service_account).encode()).decode()
    result = redact(f"GCP_SA_KEY={blob}")
    assert blob[20:60] not in result
    pem = base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----\n" + random_text(64).encode()).decode()
    assert pem[16:56] not in redact(f"    client-key-data: {pem}")
    harmless = base64.b64encode(json.dumps({"kind": "Config", "name": "dev"}).encode()).decode()
    assert redact(f"blob {harmless}") == f"blob {harmless}"


def test_a_putty_key_keeps_its_header_and_loses_its_private_lines() -> None:
    lines = "\n".join(random_text(64, string.ascii_letters + string.digits + "+/") for _ in range(3))
    key = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ci\nPublic-Lines: 1\n"
        + random_text(68)
        + f"\nPrivate-Lines: 3\n{lines}\nPrivate-MAC: {random_text(64, '0123456789abcdef')}\n"
    )
    result = redact(key)
    assert "PuTTY-User-Key-File-3: ssh-ed25519" in result
    for line in lines.splitlines():
        assert line not in result


# --- placeholders and look-alikes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "API_KEY=your-api-key-here",
        "password: xxxxxxxxxxxxxxxx",
        "STRIPE_KEY=sk_test_" + "x" * 24,
        "password: ********",
        "TOKEN=REPLACE_ME",
        "password: {{ .Values.db.password }}",
        "GITHUB_TOKEN=ghp_" + "x" * 36,
        "token: <your-token>",
        "DB_PASSWORD=${DB_PASSWORD}",
        "secret: CHANGEME",
        '"jsonwebtoken": "^9.0.2"',
        '"next-auth": "~4.24.5"',
        "credential_process = /usr/local/bin/aws-vault exec prod --json",
        "PASSWORD_HASHER=argon2id",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_placeholders_and_look_alikes_stay_readable(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("value", ["hunter2hunter2", "aB3dE5gH7jK9", "0000000000000A", "Tr0ub4dor&3"])
def test_real_looking_values_are_no_placeholders(value: str) -> None:
    assert not is_placeholder(value)


# --- a user's own rules ---------------------------------------------------------------------------


def test_user_patterns_and_allow_list() -> None:
    rules = parse_rules(
        {
            "patterns": [
                {"id": "acme", "regex": "acme_[a-z0-9]{20}", "keywords": ["acme_"]},
                {"regex": r"order key (?P<secret>\d{6})"},
            ],
            "allow": ["ghp_ALLOWEDFIXTURE[A-Za-z0-9]+"],
        }
    )
    protector = Protector(rules=rules)
    assert redact("use acme_0123456789abcdefghij now", protector) == "use [REDACTED] now"
    assert redact("order key 123456 shipped", protector) == "order key [REDACTED] shipped"
    fixture = "ghp_ALLOWEDFIXTURE" + "a1" * 12
    real = "ghp_" + random_text(36)
    assert redact(f"{fixture} and {real}", protector) == f"{fixture} and [REDACTED]"
    assert redact(fixture) == REDACTED  # without the rules the fixture is a token like any other


@pytest.mark.parametrize(
    "document,message",
    [
        ([], "the top level must be an object"),
        ({"pattern": []}, "unknown field 'pattern'"),
        ({"patterns": {}}, "must be lists"),
        ({"patterns": [{"id": "x"}]}, "patterns[0] has no 'regex'"),
        ({"patterns": [{"regex": "a["}]}, "patterns[0].regex is not a valid regular expression"),
        ({"patterns": [{"regex": "a*"}]}, "patterns[0].regex matches the empty string"),
        ({"patterns": [{"regex": "a", "keywords": "a"}]}, "'keywords' must be a list"),
        ({"patterns": [{"regex": "a", "flags": 1}]}, "unknown field 'flags'"),
        ({"allow": [3]}, "allow[0] must be a non-empty string"),
    ],
)
def test_a_bad_rules_document_names_the_entry(document: object, message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(document)


def test_exec_refuses_bad_rules_before_the_command_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    rules = tmp_path / "rules.json"
    rules.write_text('{"patterns": [{"regex": "("}]}')
    run = exec_claude(tmp_path, "--redact-rules", str(rules), "--", "touch", str(marker))
    assert run.code == EXIT_USAGE
    assert "patterns[0].regex is not a valid regular expression" in run.stderr
    assert not marker.exists()
    env = environ(tmp_path, BEACON_CI_REDACT_RULES=str(tmp_path / "missing.json"))
    run = beacon_run(tmp_path, "ci", "exec", "--", "touch", str(marker), env=env)
    assert run.code == EXIT_USAGE and "cannot read redaction rules" in run.stderr
    assert not marker.exists()


def test_exec_applies_the_users_rules_to_what_agents_send(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"patterns": [{"regex": "acme/app"}], "allow": [SYNTHETIC_SECRET]}))
    env = environ(tmp_path, BEACON_CI_REDACT_RULES=str(rules))
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", "--", sys.executable, FAKE_AGENT, env=env)
    assert run.code == 0, run.stderr
    log = run.log.read_text()
    assert "acme/app" not in log and "git push https://x-access-token:" in log
    assert SYNTHETIC_SECRET in log  # allowed by the user: kept


def test_session_start_refuses_bad_rules_before_starting_a_receiver(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text("{not json")
    run = beacon_run(
        tmp_path, "ci", "start", "--redact-rules", str(rules), "--github-env", str(tmp_path / "e")
    )
    assert run.code == EXIT_USAGE and "are not valid JSON" in run.stderr
    assert not (tmp_path / "runner" / "beacon" / "session.json").exists()


def _adversarial(unit: str, size: int = 1_000_000) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize(
    "unit", ["password token= secret: ", "mysql -p -u -a --password ", "a", "AccountKey=;"]
)
def test_a_huge_field_is_read_only_as_far_as_it_can_be_kept(unit: str) -> None:
    # Linear rules and the read margin: protecting a 1 MB field reads about 68 KB of it. Timing is
    # for tools/bench.py; here the result must be a cut, protected, stable field.
    protected = PROTECTOR.protect_event({"message": _adversarial(unit)})
    assert protected["field_truncated"] is True
    again = PROTECTOR.protect_event(protected)
    assert again["message"] == protected["message"]


KEYWORDS = sorted(rule_set().keywords)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(KEYWORDS), st.text(alphabet='aAbB-_.:/@ 0\n\\"', max_size=4)),
        max_size=12,
    ).map("".join)
)
def test_the_keyword_index_finds_every_keyword_that_occurs(text: str) -> None:
    # Overlapping ones included (a keyword that begins inside another), in any letter case.
    for variant in (text, text.upper()):
        found = rule_set().keywords_in(variant)
        present = {keyword for keyword in KEYWORDS if keyword in variant.lower()}
        assert present <= found


def test_a_redacted_key_never_overwrites_another_in_either_order() -> None:
    token = "ghp_" + random_text(36)
    for raw in ({token: 1, REDACTED: 2}, {REDACTED: 2, token: 1}):
        protected = PROTECTOR.protect_event({"raw": raw})["raw"]
        assert sorted(protected.values()) == [1, 2] and token not in str(protected)
