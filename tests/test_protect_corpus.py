"""Secret protection against an independent corpus (tests/secret_corpus.py): hundreds of secret
formats and look-alikes, each in the five places an agent's telemetry carries text (a shell
command, a tool's output, a file write, a prompt, MCP tool arguments).

Twice: in-process through the capture's own consumer (fast), and through one real
`beacon ci exec` run whose child posts every record over OTLP/HTTP protobuf, read back from
runtime.jsonl. The harness is tested first: a secret left in place must be reported, a secret
replaced must not be, and a look-alike must be compared after JSON decoding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Sequence

import pytest
import secret_corpus as corpus
from conftest import ROOT

TRIALS = corpus.build_trials()
SECRET_TRIALS = [trial for trial in TRIALS if trial.kind == "secret"]
LOOKALIKE_TRIALS = [trial for trial in TRIALS if trial.kind == "lookalike"]
MAX_ALTERED = 0.02  # of look-alike trials (look-alike x context)
# What no rule can catch, and the README says so: a secret with no label, no known shape, no known
# flag and no file name beside it. Rails' config/master.key is 32 hex digits: written to that file,
# echoed into it or read from it, it is caught; pasted alone into a prompt, or written by an MCP
# tool to an ordinary file, it reads like any MD5 digest.
UNCATCHABLE = {
    ("label-rails-master-key/master-key", "prompt"),
    ("label-rails-master-key/master-key", "mcp"),
}

# The bug report the corpus must prove fixed, and the formats everyone expects covered.
REQUIRED_FORMATS = """
    azure-storage-connection-string azure-service-bus-connection-string azure-sas-token
    azure-storage-keys-output aws-iam-credentials-csv gcp-service-account-base64 gcp-access-token
    kubeconfig-credentials huggingface-token groq-api-key replicate-api-token perplexity-api-key
    aws-bedrock-api-key google-oauth-client-secret google-oauth-refresh-token sendgrid-api-key
    slack-webhook-url discord-webhook-url teams-webhook-url vault-service-token docker-hub-pat
    heroku-api-key-v2 digitalocean-pat tailscale-auth-key stripe-webhook-secret telegram-bot-token-url
    age-secret-key putty-ppk-ed25519 sk-key-without-digits aws-configure-set-secret az-login-password
    vault-login-token doctl-auth-init docker-login-password-stdin redis-cli-auth sqlcmd-password
    htpasswd-batch openssl-pass-argument keytool-storepass zip-password smbclient-user-password
    net-use-password rabbitmqctl-password psql-alter-user-password mysql-password-argument
    sshpass-password curl-user-password gh-auth-with-token npm-config-auth-token
    kubectl-create-secret-literal heroku-config-set ldap-bind-password mongosh-password
    git-clone-credentials netrc-password maven-settings-password mysqlsh-uri-without-scheme
    smtp-url-user-with-at prose-password-sentence prose-pw-colon label-db-pass label-admin-pass
    label-dd-app-key label-laravel-app-key label-webhook-hmac-key label-new-relic-license-key
    label-ts-authkey label-azure-devops-ext-pat label-deploy-key-b64 label-dockerconfigjson
    label-npmrc-auth github-pat github-oauth-token github-user-to-server-token
    github-app-installation-token github-refresh-token github-fine-grained-pat gitlab-pat
    openai-api-key-legacy openai-project-key anthropic-api-key aws-access-key google-api-key
    slack-bot-token stripe-secret-key stripe-restricted-key npm-token pypi-token jwt-hs256
    private-key-rsa private-key-ec private-key-openssh private-key-pgp label-bearer-opaque
    label-basic-auth-header label-cookie-header database-url-password twilio-api-key
    shopify-access-token atlassian-api-token linear-api-key notion-token-secret notion-token-ntn
    databricks-token doppler-service-token grafana-cloud-token grafana-service-account-token
    postman-api-key mailgun-api-key mailchimp-api-key square-access-token planetscale-token
    supabase-access-token flyio-token netlify-token label-vercel-token pulumi-access-token
    terraform-cloud-token sentry-org-token new-relic-user-key label-dd-api-key
    label-cloudflare-api-token label-algolia-admin-key okta-ssws-token azure-ad-client-secret
    alibaba-access-key
""".split()
REQUIRED_LOOKALIKES = """
    placeholder-api-key-here placeholder-password-x placeholder-stripe-test-x
    placeholder-password-stars placeholder-token-replace-me placeholder-helm-template
    placeholder-github-token-x placeholder-angle-your-token placeholder-shell-variable
    placeholder-changeme package-jsonwebtoken package-next-auth package-express-basic-auth
    package-passport-oauth2 package-keytar setting-secrets-manager-arn placeholder-aws-vault
    setting-password-hasher setting-redis-url code-request-authorization setting-max-tokens
    setting-input-tokens path-tokenizer-json package-npm-integrity setting-password-reset-url
    setting-author
""".split()


# --- the corpus itself ---------------------------------------------------------------------


def test_the_corpus_is_wide_enough_and_covers_the_bug_report() -> None:
    formats = {trial.format_id for trial in SECRET_TRIALS}
    cases = {trial.case_id for trial in SECRET_TRIALS}
    lookalikes = {trial.case_id for trial in LOOKALIKE_TRIALS}
    assert len(formats) >= 150
    assert len(cases) >= 400
    assert len(lookalikes) >= 150
    assert {trial.family for trial in SECRET_TRIALS} == set(corpus.FAMILIES)
    assert sorted(set(REQUIRED_FORMATS) - formats) == []
    assert sorted(set(REQUIRED_LOOKALIKES) - lookalikes) == []
    assert {trial.context for trial in TRIALS} == set(corpus.CONTEXTS)


def test_every_secret_body_is_in_its_snippet_and_long_enough() -> None:
    """A body the snippet does not hold would make its leak check vacuous."""
    for trial in SECRET_TRIALS:
        assert trial.sample.bodies, trial.case_id
        for body in trial.sample.bodies:
            assert body in trial.sample.text, (trial.case_id, body)
            assert len(body) >= corpus.WINDOW, (trial.case_id, body)


def test_the_corpus_is_the_same_on_every_build() -> None:
    again = corpus.build_trials()
    assert [(t.key, t.case_id, t.context, t.sample) for t in again] == [
        (t.key, t.case_id, t.context, t.sample) for t in TRIALS
    ]


# --- the harness: what a leak and an alteration are ---------------------------------------


class KeepEverything:
    """A protector that changes nothing: every secret must be reported as leaked."""

    def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        return event


class ReplaceEveryBody:
    """A protector that knows the answers: each trial's bodies replaced wherever they are, in
    JSON strings too (re-encoded only where a body was replaced), and the event flagged."""

    def __init__(self, trials: Sequence[corpus.Trial]) -> None:
        self.bodies = {trial.key: trial.sample.bodies for trial in trials}

    def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        bodies = self.bodies.get(corpus.trial_key(event), [])
        if not bodies:
            return event
        protected = self._replace(event, bodies)
        protected["content"] = {"redacted": True}
        return protected

    def _replace(self, value: Any, bodies: Sequence[str]) -> Any:
        if isinstance(value, str):
            inner = corpus.json_container(value)
            if isinstance(inner, (dict, list)):
                replaced = self._replace(inner, bodies)
                return (
                    value
                    if replaced == inner
                    else json.dumps(replaced, ensure_ascii=False, separators=(",", ":"))
                )
            for body in bodies:
                value = value.replace(body, "[REDACTED]")
            return value
        if isinstance(value, dict):
            return {key: self._replace(item, bodies) for key, item in value.items()}
        if isinstance(value, list):
            return [self._replace(item, bodies) for item in value]
        return value


def test_a_secret_left_in_place_is_reported_in_every_context() -> None:
    lines = corpus.run_in_process(TRIALS, KeepEverything())
    report = corpus.analyze(TRIALS, lines)
    assert report.missing == {} and report.unattributed == 0
    assert {key: len(bodies) for key, bodies in report.leaks.items()} == {
        trial.key: len(trial.sample.bodies) for trial in SECRET_TRIALS
    }
    assert report.altered == {}
    # Look-alikes with quotes or newlines are escaped in the raw line: the comparison decodes.
    escaped = [
        trial
        for trial, line in zip(LOOKALIKE_TRIALS, lookalike_lines(lines))
        if trial.sample.text not in line
    ]
    assert escaped, "no look-alike needed JSON decoding: the decoding path is untested"


def test_a_secret_replaced_everywhere_is_not_reported() -> None:
    report = corpus.analyze(TRIALS, corpus.run_in_process(TRIALS, ReplaceEveryBody(TRIALS)))
    assert report.leaks == {}
    assert report.altered == {}
    assert report.unflagged == []
    assert report.missing == {} and report.unattributed == 0


def test_a_partial_leak_is_a_leak_and_an_unflagged_redaction_is_reported() -> None:
    """Twelve characters of a body are enough to count; a removal without the flag is caught."""
    trial = next(t for t in SECRET_TRIALS if t.format_id == "github-pat" and t.context == "prompt")
    body = trial.sample.bodies[0]

    class KeepTwelve(ReplaceEveryBody):
        def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
            protected = super().protect_event(event)
            if corpus.trial_key(event) == trial.key:
                protected["prompt"]["text"] += " " + body[5 : 5 + corpus.WINDOW]
                protected.pop("content")
            return protected

    report = corpus.analyze(TRIALS, corpus.run_in_process(TRIALS, KeepTwelve(TRIALS)))
    assert report.leaks == {trial.key: [body]}
    assert report.unflagged == []  # the only body survived: nothing was removed, no flag is owed

    class DropFlag(ReplaceEveryBody):
        def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
            protected = super().protect_event(event)
            if corpus.trial_key(event) == trial.key:
                protected.pop("content")
            return protected

    report = corpus.analyze(TRIALS, corpus.run_in_process(TRIALS, DropFlag(TRIALS)))
    assert report.leaks == {} and report.unflagged == [trial.key]


def lookalike_lines(lines: Sequence[str]) -> List[str]:
    """The last line written for each look-alike trial, in trial order."""
    by_key = {}
    for line in lines:
        by_key[corpus.trial_key(json.loads(line))] = line
    return [by_key[trial.key] for trial in LOOKALIKE_TRIALS]


# --- beacon's protection, in-process and through `beacon ci exec` -------------------------


@pytest.fixture(scope="module")
def in_process() -> corpus.Report:
    return corpus.analyze(TRIALS, corpus.run_in_process(TRIALS))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> corpus.Report:
    """One `beacon ci exec` whose child posts the whole corpus, as Claude Code and Codex would."""
    tmp = tmp_path_factory.mktemp("corpus-exec")
    (tmp / "home").mkdir()
    log = tmp / "runtime.jsonl"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "RUNNER_TEMP": str(tmp / "runner")}
    child = [sys.executable, str(ROOT / "tests" / "secret_corpus.py"), "--post"]
    beacon = [sys.executable, str(ROOT / "beacon.py"), "ci", "exec", "--harness", "claude,codex"]
    argv = [*beacon, "--log-path", str(log), "--", *child]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return corpus.analyze(TRIALS, log.read_text(encoding="utf-8").splitlines())


@pytest.fixture(params=["in-process", "pipeline"])
def report(request: pytest.FixtureRequest) -> corpus.Report:
    return request.getfixturevalue(request.param.replace("-", "_"))


def test_every_record_became_one_event(report: corpus.Report) -> None:
    """Otherwise a leak check would pass on an event that was never written."""
    if report.missing or report.unattributed:
        missing = dict(list(report.missing.items())[:10])
        pytest.fail(
            f"{len(report.missing)} trials without their events (expected, written): {missing}; "
            f"{report.unattributed} lines of no trial",
            pytrace=False,
        )


def test_no_secret_survives(report: corpus.Report) -> None:
    uncatchable = {trial.key for trial in SECRET_TRIALS if (trial.case_id, trial.context) in UNCATCHABLE}
    leaks = {key: bodies for key, bodies in report.leaks.items() if key not in uncatchable}
    if leaks:
        pytest.fail(corpus.describe_leaks(TRIALS, report._replace(leaks=leaks)), pytrace=False)


def test_what_cannot_be_caught_is_still_listed_honestly(report: corpus.Report) -> None:
    """Each trial the README calls uncatchable still leaks: once a rule catches it, drop it here."""
    uncatchable = {(trial.case_id, trial.context) for trial in SECRET_TRIALS if trial.key in report.leaks}
    assert uncatchable & UNCATCHABLE == UNCATCHABLE


def test_lookalikes_come_through_unchanged(report: corpus.Report) -> None:
    altered = len(report.altered)
    if altered > MAX_ALTERED * len(LOOKALIKE_TRIALS):
        pytest.fail(
            f"{altered} of {len(LOOKALIKE_TRIALS)} look-alike trials altered (at most {MAX_ALTERED:.0%}): "
            f"{', '.join(corpus.altered_ids(TRIALS, report))}\n{corpus.describe_altered(TRIALS, report)}",
            pytrace=False,
        )


def test_every_event_that_lost_a_secret_says_it_was_redacted(report: corpus.Report) -> None:
    by_key = {trial.key: trial for trial in TRIALS}
    unflagged = sorted({f"{by_key[key].case_id} in {by_key[key].context}" for key in report.unflagged})
    if unflagged:
        pytest.fail(f"content.redacted is not true on {len(unflagged)}: {unflagged[:40]}", pytrace=False)
