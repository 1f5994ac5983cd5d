"""Token formats as data: one row per credential format, replaced wherever it appears.

Each row: an id (stable, for users and the README), the keywords of which one must occur in the
lowercased text for the rule to run (the cheap prefilter; none for a prefix whose lowercase form
is common in hex ids and paths, such as fc- or pat: those patterns are searched for themselves,
case-sensitively), the pattern (case-sensitive, starting with a literal so that the engine jumps
between its occurrences, never able to backtrack over a long run), and optionally the group that
is the secret (the rest, a URL's host say, is kept).

Shapes learnt from the public rule sets of gitleaks, trufflehog and detect-secrets; the rules are
our own. A match whose secret is a placeholder (`ghp_xxxx…`, `sk_test_0000…`) is kept.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from beacon_protect.names import is_placeholder
from beacon_protect.text import REDACTED, Span, replace_spans


class FormatRule(NamedTuple):
    id: str
    keywords: Tuple[str, ...]
    pattern: re.Pattern[str]
    group: Optional[str]  # the secret's group; None: the whole match
    before: int  # characters before the match that belong to the secret (checked by a lookbehind)
    extend: FrozenSet[str]  # or the characters the secret goes on with before the match
    check: Optional[Callable[[str], bool]]  # a test the secret must also pass


def _word(prefix: str) -> str:
    """`prefix` as a literal the engine can jump to, not glued to a word before it."""
    return re.escape(prefix) + r"(?<![A-Za-z0-9]" + re.escape(prefix) + ")"


_B64 = r"[A-Za-z0-9+/]"
_URLSAFE = r"[A-Za-z0-9_\-]"
_END = r"(?![A-Za-z0-9])"


# (id, keywords, pattern, secret group). Keywords are lowercase; a pattern's secret is the whole
# match unless a group named "secret" is given.
def _mixed(secret: str) -> bool:
    """Reads as random: upper- and lowercase letters and a digit (not a word, a hash or a number)."""
    return (
        any(char.isupper() for char in secret)
        and any(char.islower() for char in secret)
        and any(char.isdigit() for char in secret)
    )


def _has_digit(secret: str) -> bool:
    return any(char.isdigit() for char in secret)


def _random_sk_key(secret: str) -> bool:
    """An sk- key whose body reads as random, not as hyphenated words (sk-learn-contrib-2)."""
    return not _HYPHENATED_WORDS_RE.fullmatch(secret[3:])


# Words are shorter than the 20 characters the rule asks of a key's body: a run of 20 letters
# is a key even between hyphens and without a digit (sk-proj-<letters>), as it is alone.
_HYPHENATED_WORDS_RE = re.compile(r"[a-z]{1,19}(?:-(?:[a-z]{1,19}|[0-9]+))+")

_ROWS: Tuple[Tuple[Any, ...], ...] = (
    # --- AI providers ---------------------------------------------------------------------
    # Anthropic sk-ant-, OpenAI sk-, sk-proj-, sk-svcacct-, OpenRouter, DeepSeek and the rest
    ("sk-key", ("sk-",), _word("sk-") + r"[A-Za-z0-9_\-]{20,}", {"check": _random_sk_key}),
    ("xai-key", ("xai-",), _word("xai-") + r"[A-Za-z0-9]{60,}"),
    ("groq-key", ("gsk_",), _word("gsk_") + r"[A-Za-z0-9]{40,}"),
    ("replicate-token", ("r8_",), _word("r8_") + r"[A-Za-z0-9]{30,}"),
    ("perplexity-key", ("pplx-",), _word("pplx-") + r"[A-Za-z0-9]{40,}"),
    ("huggingface-token", ("hf_",), _word("hf_") + r"[A-Za-z0-9]{30,}"),
    ("huggingface-org-token", ("api_org_",), _word("api_org_") + r"[A-Za-z0-9]{30,}"),
    ("aws-bedrock-key", ("absk",), _word("ABSK") + _B64 + r"{60,}={0,2}"),
    ("cerebras-key", ("csk-",), _word("csk-") + r"[a-z0-9]{40,}"),
    ("tavily-key", ("tvly-",), _word("tvly-") + r"(?:dev-|prod-)?[A-Za-z0-9]{32,}"),
    ("firecrawl-key", (), _word("fc-") + r"[a-f0-9]{32}" + _END),
    ("fireworks-key", ("fw_",), _word("fw_") + r"[A-Za-z0-9]{24,}"),
    ("langsmith-key", ("lsv2_",), _word("lsv2_") + r"(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"),
    ("pinecone-key", ("pcsk_",), _word("pcsk_") + r"[A-Za-z0-9_]{40,}"),
    ("e2b-key", ("e2b_",), _word("e2b_") + r"[a-f0-9]{40}"),
    ("nvidia-key", ("nvapi-",), _word("nvapi-") + _URLSAFE + r"{40,}"),
    ("together-key", ("tgp_v1_",), _word("tgp_v1_") + _URLSAFE + r"{30,}"),
    ("voyage-key", ("pa-",), _word("pa-") + _URLSAFE + r"{40,}"),
    ("elevenlabs-key", ("sk_",), _word("sk_") + r"[a-f0-9]{48}" + _END),
    # --- code hosting and CI ----------------------------------------------------------------
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("github-fine-grained-token", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,}"),
    (
        "gitlab-token",
        (
            "glpat-",
            "gldt-",
            "glrt-",
            "glrtr-",
            "glptt-",
            "glcbt-",
            "glimt-",
            "gloas-",
            "glsoat-",
            "glft-",
            "glagent-",
        ),
        r"gl(?<![A-Za-z0-9]gl)(?:pat|dt|rt|rtr|ptt|cbt|imt|oas|soat|ft|agent)-[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*",
    ),
    ("bitbucket-app-password", ("atbb",), _word("ATBB") + r"[A-Za-z0-9]{28,}"),
    ("atlassian-token", ("atatt", "atctt"), _word("AT") + r"(?:ATT|CTT)3[A-Za-z0-9_\-=]{50,}"),
    ("circleci-token", ("ccipat_",), _word("CCIPAT_") + r"[A-Za-z0-9]{20,}_[a-f0-9]{40}"),
    ("buildkite-token", ("bkua_",), _word("bkua_") + r"[a-z0-9]{40}"),
    ("gitlab-runner-registration-token", ("gr1348941",), _word("GR1348941") + _URLSAFE + r"{20,}"),
    ("sonarqube-token", ("sqp_", "squ_", "sqa_"), _word("sq") + r"[pua]_[a-f0-9]{40}"),
    (
        "azure-devops-pat",
        ("jqqj99",),
        r"JQQJ99(?<=[A-Za-z0-9]{52}JQQJ99)[A-Za-z0-9]{4}AZDO[A-Za-z0-9]{4}",
        {"before": 52},
    ),
    ("octopus-deploy-key", ("api-",), _word("API-") + r"[A-Z0-9]{26,}" + _END),
    (
        "terraform-cloud-token",
        (".atlasv1.",),
        r"\.atlasv1\.(?<=[A-Za-z0-9]{14}\.atlasv1\.)[A-Za-z0-9_\-=]{60,}",
        {"before": 14},
    ),
    ("pulumi-token", ("pul-",), _word("pul-") + r"[a-f0-9]{40}"),
    (
        "harness-token",
        ("pat.", "sat."),
        r"(?:pat|sat)\.(?<![A-Za-z0-9](?:pat|sat)\.)" + _URLSAFE + r"{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}",
    ),
    (
        "jfrog-token",
        ("cmvmd", "akc"),
        r"(?:cmVmd(?<![A-Za-z0-9]cmVmd)[A-Za-z0-9]{50,}|AKC(?<![A-Za-z0-9]AKC)[A-Za-z0-9]{60,})",
    ),
    # --- package registries -------------------------------------------------------------------
    ("npm-token", ("npm_",), r"npm_[A-Za-z0-9]{36,}"),
    ("crates-io-token", ("cio",), _word("cio") + r"[A-Za-z0-9]{32}" + _END),
    ("pypi-token", ("pypi-",), r"pypi-AgE[A-Za-z0-9_\-]{16,}"),
    ("rubygems-key", ("rubygems_",), _word("rubygems_") + r"[a-f0-9]{48}"),
    ("nuget-key", ("oy2",), _word("oy2") + r"[a-z0-9]{43}"),
    ("clojars-token", ("clojars_",), _word("CLOJARS_") + r"[a-z0-9]{60}"),
    ("docker-hub-token", ("dckr_",), _word("dckr_") + r"(?:pat|oat)_[A-Za-z0-9_\-]{24,}"),
    # --- clouds -----------------------------------------------------------------------------
    (
        "aws-access-key-id",
        ("akia", "asia", "abia", "acca", "a3t"),
        r"A(?<![A-Z0-9]A)(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}(?:A(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16})*"
        + _END,
    ),
    ("google-api-key", ("aiza",), r"AIza[0-9A-Za-z_\-]{35,}"),
    ("google-oauth-access-token", ("ya29.",), _word("ya29.") + _URLSAFE + r"{30,}"),
    ("google-oauth-client-secret", ("gocspx-",), _word("GOCSPX-") + _URLSAFE + r"{24,}"),
    ("google-oauth-refresh-token", ("1//0",), r"1//0(?<![A-Za-z0-9]1//0)" + _URLSAFE + r"{30,}"),
    (
        "azure-ad-client-secret",
        ("q~",),
        r"Q~(?<=[A-Za-z0-9_~.]{3}[0-9]Q~)[A-Za-z0-9_~.\-]{31,34}",
        {"before": 4},
    ),
    # Azure's identifiable keys carry a signature at a fixed place: storage, Cosmos DB, API
    # Management (76 characters before it), Functions (44), Search and Container Registry (42),
    # Service Bus, Event Hubs and Relay (33).
    *(
        (
            f"azure-{kind}-key",
            (),
            re.escape(signature) + f"(?<={alphabet}{{{before}}}{re.escape(signature)})" + after,
            {"before": before},
        )
        for kind, signature, before, alphabet, after in (
            ("storage", "+ASt", 76, _B64, r"[A-Za-z0-9+/]{5}[AQgw]=="),
            ("cosmos-db", "ACDb", 76, _B64, r"[A-Za-z0-9+/]{5}[AQgw]=="),
            ("api-management", "APIM", 76, "[A-Za-z0-9]", r"[A-Za-z0-9]{5}[AQgw]=="),
            ("functions", "AzFu", 44, _URLSAFE, r"[A-Za-z0-9_\-]{5}[AQgw]=="),
            ("search", "AzSe", 42, "[A-Za-z0-9]", r"[A-D][A-Za-z0-9]{5}"),
            ("container-registry", "+ACR", 42, _B64, r"[A-D][A-Za-z0-9+/]{5}"),
            ("service-bus", "+ASb", 33, _B64, r"[A-Za-z0-9+/]{5}[AQgw]="),
            ("event-hubs", "+AEh", 33, _B64, r"[A-Za-z0-9+/]{5}[AQgw]="),
            ("relay", "+ARm", 33, _B64, r"[A-Za-z0-9+/]{5}[AQgw]="),
        )
    ),
    ("alibaba-access-key-id", ("ltai",), _word("LTAI") + r"[A-Za-z0-9]{20}" + _END),
    ("digitalocean-token", ("dop_v1_", "doo_v1_", "dor_v1_"), _word("do") + r"[opr]_v1_[a-f0-9]{64}"),
    ("heroku-key", ("hrku-",), _word("HRKU-") + _URLSAFE + r"{40,}"),
    (
        "fly-token",
        ("flyv1", "fo1_", "fm1", "fm2"),
        r"(?:FlyV1 fm\d_|fm[12][ar]_|fo1_)" + r"[A-Za-z0-9+/=,_\-]{40,}",
    ),
    ("netlify-token", ("nfp_",), _word("nfp_") + r"[A-Za-z0-9]{36,}"),
    ("vercel-token", ("vcp_", "vci_", "vca_", "vcr_", "vck_"), _word("vc") + r"[pciark]_[A-Za-z0-9]{24,}"),
    (
        "supabase-token",
        ("sbp_", "sb_secret_"),
        r"(?:sbp_(?<![A-Za-z0-9]sbp_)[a-f0-9]{40}|sb_secret_" + _URLSAFE + r"{20,})",
    ),
    ("planetscale-token", ("pscale_",), _word("pscale_") + r"(?:tkn|pw|oauth)_[A-Za-z0-9_\-.]{32,}"),
    ("neon-key", ("napi_",), _word("napi_") + r"[a-z0-9]{60,}"),
    ("render-key", ("rnd_",), _word("rnd_") + r"[A-Za-z0-9]{30,}"),
    ("cloudflare-origin-ca-key", ("v1.0-",), _word("v1.0-") + r"[a-f0-9]{24}-[a-f0-9]{140,}"),
    ("cloudflare-token", ("cfut_", "cfat_", "cfk_"), _word("cf") + r"(?:ut|at|k)_[A-Za-z0-9]{40,}"),
    ("databricks-token", ("dapi",), _word("dapi") + r"[a-f0-9]{32}(?:-[0-9])?" + _END),
    ("clickhouse-secret", (), _word("4b1d") + r"[A-Za-z0-9]{38}" + _END),
    ("vault-token", ("hvs.", "hvb.", "hvr."), _word("hv") + r"[sbr]\.[A-Za-z0-9_\-]{24,}"),
    ("tailscale-key", ("tskey-",), _word("tskey-") + r"[A-Za-z0-9\-]{20,}"),
    ("doppler-token", ("dp.",), _word("dp.") + r"(?:st|ct|sa|scim|audit|pt)\.[A-Za-z0-9_\-.]{40,}"),
    ("openshift-token", ("sha256~",), _word("sha256~") + _URLSAFE + r"{43}"),
    (
        "yandex-token",
        ("y0_", "aqvn", "t1."),
        r"(?:y0_(?<![A-Za-z0-9]y0_)" + _URLSAFE + r"{55,}|AQVN[A-Za-z0-9_\-]{35,38})",
    ),
    ("1password-service-token", ("ops_ey",), _word("ops_eyJ") + r"[A-Za-z0-9+/=_\-]{100,}"),
    ("1password-secret-key", (), _word("A3-") + r"[A-Z0-9]{6}-(?:[A-Z0-9]{5,6}-){3,4}[A-Z0-9]{5}"),
    (
        "vault-legacy-token",
        ("s.",),
        r"s\.(?<![A-Za-z0-9_.\-]s\.)(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{24}" + _END,
    ),
    (  # kubeadm bootstrap tokens: abcdef.0123456789abcdef
        "kubernetes-bootstrap-token",
        ("kubeadm", "token", "bootstrap"),
        r"\.(?<=[a-z0-9]{6}\.)(?<![a-z0-9.][a-z0-9]{6}\.)[a-z0-9]{16}" + _END,
        {"before": 6, "check": _has_digit},
    ),
    ("tencent-secret-id", ("akid",), _word("AKID") + r"[A-Za-z0-9]{32}" + _END),
    ("age-secret-key", ("age-secret-key-1",), r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{50,}"),
    # --- messaging, webhooks ------------------------------------------------------------------
    ("slack-token", ("xox",), r"xox[abposre]-[A-Za-z0-9\-]{10,}"),
    ("slack-app-token", ("xapp-",), r"xapp-[0-9]+-[A-Za-z0-9\-]{10,}"),
    (
        "slack-webhook",
        ("hooks.slack.com",),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9+/_\-]{20,})",
    ),
    (
        "discord-webhook",
        ("discord",),
        r"discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]{10,}/" + _URLSAFE + r"{30,})",
    ),
    (
        "teams-webhook",
        ("webhook.office.com", "webhookb2"),
        r"webhook(?:\.office\.com/webhookb2|b2)/(?P<secret>[A-Za-z0-9@\-/]{40,}[A-Za-z0-9\-])",
    ),
    ("telegram-bot-token", ("telegram", "/bot"), r"/bot[0-9]{6,12}:(?P<secret>" + _URLSAFE + r"{30,})"),
    ("telegram-token", (":aa",), r":(?<=[0-9]:)(?P<secret>AA" + _URLSAFE + r"{30,})"),
    ("sendgrid-key", ("sg.",), _word("SG.") + _URLSAFE + r"{16,}\." + _URLSAFE + r"{30,}"),
    ("sendinblue-key", ("xkeysib-",), _word("xkeysib-") + r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    ("mailgun-key", ("key-",), _word("key-") + r"[a-f0-9]{32}" + _END),
    ("mailchimp-key", ("-us",), r"-us(?<=[a-f0-9]{32}-us)[0-9]{1,2}" + _END, {"before": 32}),
    ("resend-key", (), _word("re_") + r"[A-Za-z0-9]{8}_[A-Za-z0-9]{20,}"),
    ("twilio-api-key", (), r"SK(?<![A-Za-z0-9]SK)[0-9a-fA-F]{32}" + _END),
    ("postman-key", ("pmak-",), _word("PMAK-") + r"[a-f0-9]{24}-[a-f0-9]{34}"),
    ("linear-key", ("lin_api_", "lin_oauth_"), _word("lin_") + r"(?:api|oauth)_[A-Za-z0-9]{40}"),
    (
        "notion-token",
        ("secret_", "ntn_"),
        r"(?:secret_(?<![A-Za-z0-9]secret_)[A-Za-z0-9]{43}|ntn_(?<![A-Za-z0-9]ntn_)[A-Za-z0-9]{40,})" + _END,
    ),
    ("figma-token", ("figd_",), _word("figd_") + _URLSAFE + r"{40,}"),
    ("airtable-token", (), r"pat(?<![A-Za-z0-9]pat)[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    (
        "sourcegraph-or-segment-token",
        ("sgp_", "sgph_", "sgd_"),
        _word("sg") + r"(?:p|ph|d)_[A-Za-z0-9_]{40,}",
    ),
    ("posthog-personal-key", ("phx_",), _word("phx_") + r"[A-Za-z0-9]{40,}"),
    (
        "launchdarkly-key",
        ("sdk-", "api-", "mob-"),
        r"(?:sdk|api|mob)-(?<![A-Za-z0-9](?:sdk|api|mob)-)[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
    ),
    ("maxmind-license-key", ("_mmk",), r"_mmk(?<=[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)" + _END, {"before": 36}),
    ("contentful-token", ("cfpat-",), _word("CFPAT-") + _URLSAFE + r"{40,}"),
    ("typeform-token", ("tfp_",), _word("tfp_") + r"[A-Za-z0-9_\-.=]{50,}"),
    ("prefect-key", ("pnu_",), _word("pnu_") + r"[A-Za-z0-9]{36}"),
    ("readme-key", ("rdme_",), _word("rdme_") + r"[a-z0-9]{70}"),
    ("dropbox-token", ("sl.",), _word("sl.") + _URLSAFE + r"{100,}"),
    ("twitter-bearer-token", ("aaaaaaaaaaaaaaaaaaaaa",), r"AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}"),
    ("facebook-token", (), _word("EAA") + r"(?:CEdEose0cBA|[A-Z])[A-Za-z0-9]{60,}"),
    ("mapbox-secret-token", ("sk.ey",), _word("sk.eyJ") + _URLSAFE + r"{20,}\." + _URLSAFE + r"{20,}"),
    # --- payments ---------------------------------------------------------------------------
    ("stripe-key", ("k_live_", "k_test_"), r"[sr]k_(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{10,}"),
    ("stripe-webhook-secret", ("whsec_",), _word("whsec_") + r"[A-Za-z0-9+/]{24,}"),
    (
        "square-token",
        ("sq0atp-", "sq0csp-", "eaaa"),
        r"(?:sq0(?:atp|csp)-" + _URLSAFE + r"{22,}|EAAA(?<![A-Za-z0-9]EAAA)[A-Za-z0-9_\-+=]{56,})",
    ),
    (
        "shopify-token",
        ("shpat_", "shpss_", "shpca_", "shppa_"),
        _word("shp") + r"(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",
    ),
    ("flutterwave-key", ("flwseck",), _word("FLWSECK") + r"(?:_TEST)?-[a-h0-9]{32}-X"),
    (
        "plaid-token",
        ("access-sandbox-", "access-development-", "access-production-"),
        r"access-(?:sandbox|development|production)-[a-f0-9\-]{36}",
    ),
    (
        "braintree-token",
        ("access_token$",),
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}",
    ),
    ("duffel-token", ("duffel_",), _word("duffel_") + r"(?:test|live)_[A-Za-z0-9_\-=]{40,}"),
    ("shippo-token", ("shippo_",), _word("shippo_") + r"(?:live|test)_[a-f0-9]{40}"),
    ("easypost-key", ("ezak", "eztk"), _word("EZ") + r"[AT]K[A-Za-z0-9]{50,}"),
    # --- observability --------------------------------------------------------------------------
    (
        "sentry-token",
        ("sntrys_", "sntryu_"),
        _word("sntry") + r"(?:s_eyJ[A-Za-z0-9+/=_\-]{60,}|u_[a-f0-9]{64})",
    ),
    (
        "new-relic-key",
        ("nrak-", "nrii-", "nrjs-", "nraa-"),
        _word("NR") + r"(?:AK|II|JS|AA)-[A-Za-z0-9_\-]{19,}",
    ),
    (
        "grafana-token",
        ("glc_", "glsa_"),
        r"(?:glc_(?<![A-Za-z0-9]glc_)[A-Za-z0-9+/]{32,}={0,2}|glsa_(?<![A-Za-z0-9]glsa_)[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    ("dynatrace-token", ("dt0c01.",), _word("dt0c01.") + r"[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    ("infracost-key", ("ico-",), _word("ico-") + r"[A-Za-z0-9]{32}"),
    ("frameio-token", ("fio-u-",), _word("fio-u-") + r"[A-Za-z0-9_\-=]{60,}"),
    (
        "settlemint-token",
        ("sm_pat_", "sm_aat_", "sm_sat_"),
        _word("sm_") + r"(?:pat|aat|sat)_[A-Za-z0-9]{16,}",
    ),
    ("scalingo-token", ("tk-us-",), _word("tk-us-") + _URLSAFE + r"{40,}"),
    # --- shapes with no keyword: searched for themselves in every string (see rules.RuleSet) ----
    (  # Discord bot tokens: base64 of the bot's id . 6 . 27+ (a JWT is eyJ...; this has no prefix)
        "discord-bot-token",
        (),
        r"\.(?<=[A-Za-z0-9_\-]{23}\.)[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}" + _END,
        {"extend": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", "check": _mixed},
    ),
    (  # Asana personal access tokens: 1/1234567890123456/1234567890123456:0123...
        "asana-token",
        (),
        r"/(?<=[0-9]/)[0-9]{16}(?:/[0-9]{16})?:[a-f0-9]{32}" + _END,
        {"before": 1},
    ),
    (  # Okta API tokens (SSWS): 00 + 40 base64url characters
        "okta-token",
        (),
        r"00(?<![A-Za-z0-9_\-]00)[A-Za-z0-9_\-]{40}" + _END,
        {"check": _mixed},
    ),
    # --- web tokens -------------------------------------------------------------------------
    (
        "jwt",
        ("eyj",),
        r"eyJ(?<![A-Za-z0-9_\-]eyJ)(?=(?P<h>[A-Za-z0-9_\-]{4,}))(?P=h)"  # header.payload.signature
        r"\.eyJ(?=(?P<p>[A-Za-z0-9_\-]{4,}))(?P=p)\.[A-Za-z0-9_\-]*",
    ),
)


def _compile(row: Tuple[Any, ...]) -> FormatRule:
    rule_id, keywords, source = row[:3]
    options: Dict[str, Any] = row[3] if len(row) > 3 else {}
    pattern = re.compile(source)
    group = "secret" if "secret" in pattern.groupindex else None
    return FormatRule(
        rule_id,
        keywords,
        pattern,
        group,
        options.get("before", 0),
        frozenset(options.get("extend", "")),
        options.get("check"),
    )


FORMAT_RULES: Tuple[FormatRule, ...] = tuple(_compile(row) for row in _ROWS)


def redact_format(rule: FormatRule, text: str) -> str:
    """Every match of one format rule replaced (its secret group only, when it names one),
    unless what would be replaced is a placeholder."""
    spans: List[Span] = []
    done = 0
    for match in rule.pattern.finditer(text):
        start, end = match.span(rule.group) if rule.group else match.span()
        start -= rule.before
        while rule.extend and start > done and text[start - 1] in rule.extend:
            start -= 1
        secret = text[start:end]
        if start < done or secret == REDACTED or is_placeholder(secret):
            continue
        if rule.check is not None and not rule.check(secret):
            continue
        spans.append((start, end))
        done = end
    return replace_spans(text, spans)
