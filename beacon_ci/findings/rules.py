"""The rules: one row each, with an id that never changes and is never reused (BCN1xx, a block of
ten per family), a short name, a title, a severity and the help a reviewer reads. What makes a
rule fire lives in the matching tables (commands.py, paths.py, hosts.py) and in fold.py."""

from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

SEVERITIES = ("low", "medium", "high", "critical")  # least severe first: --fail-on compares ranks
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Rule(NamedTuple):
    id: str
    name: str  # SARIF's rule name: one word, stable like the id
    family: str
    title: str
    severity: str
    help: str  # why it matters and what to check (how to silence a rule is said once, in SILENCE)


SILENCE = (
    "Silence a rule with a findings configuration (--findings-config FILE or BEACON_CI_FINDINGS_CONFIG): "
    '{"disable": ["BCN1xx"]}; a host the agent may reach with "allow_hosts" or --allow-host.'
)

RULES: Tuple[Rule, ...] = (
    Rule(
        "BCN101",
        "remote-script-execution",
        "remote code",
        "Remote script piped to a shell or interpreter",
        "high",
        "The agent ran code downloaded at that moment (curl … | sh, wget -O- … | bash, "
        'bash <(curl …), python -c "$(curl …)", iex (iwr …)): whatever the server sent ran with '
        "the job's permissions and secrets, and nothing kept a copy of it. Check the URL and "
        "whether the script is pinned (a checksum, a release asset).",
    ),
    Rule(
        "BCN111",
        "credential-file-read",
        "credentials",
        "Cloud, SSH or registry credentials read",
        "high",
        "The agent read a credential store: an SSH private key, ~/.aws/credentials, "
        "~/.config/gcloud, ~/.docker/config.json, ~/.netrc, ~/.kube/config, ~/.git-credentials, "
        "a process environment (/proc/*/environ), a Kubernetes service-account token, or a token "
        "printed by gh auth token, gcloud auth print-access-token and the like. Its content is "
        "now in the model's context. Check why the task needed it.",
    ),
    Rule(
        "BCN112",
        "key-or-env-file-read",
        "credentials",
        "Private key or .env file read",
        "medium",
        "The agent read a private key (*.pem, *.key, *.p12, id_rsa, …) or a .env file (not "
        ".env.example and other templates). Such files usually hold secrets; their content is "
        "now in the model's context.",
    ),
    Rule(
        "BCN113",
        "environment-dump",
        "credentials",
        "Environment or secret variables printed",
        "medium",
        "The agent printed the whole environment (env, printenv, export -p, os.environ) or a "
        "variable whose name says secret ($GITHUB_TOKEN, …). A CI job's environment holds its "
        "tokens: the log is redacted, the model's context is not.",
    ),
    Rule(
        "BCN114",
        "cloud-metadata-access",
        "credentials",
        "Cloud metadata endpoint reached",
        "high",
        "The agent reached a cloud instance metadata service (169.254.169.254, "
        "metadata.google.internal, …), which hands out the machine's cloud credentials.",
    ),
    Rule(
        "BCN121",
        "ci-definition-changed",
        "CI and repository policy",
        "CI workflow or action changed",
        "high",
        "The agent created, edited or deleted a CI definition (.github/workflows/*, "
        ".github/actions/*, .gitlab-ci.yml, …). A workflow change runs with the repository's "
        "secrets on its next trigger: review it as code that holds your credentials.",
    ),
    Rule(
        "BCN122",
        "repository-policy-changed",
        "CI and repository policy",
        "CODEOWNERS, git hooks or git configuration changed",
        "high",
        "The agent changed who must review (CODEOWNERS) or what git runs or trusts on this "
        "checkout (.git/hooks/*, .git/config).",
    ),
    Rule(
        "BCN123",
        "repository-settings-changed",
        "CI and repository policy",
        "Repository settings changed through the API",
        "high",
        "The agent changed branch protection, rulesets, secrets, variables, deploy keys or other "
        "repository settings (gh api with a write method, gh secret set, gh repo edit, …).",
    ),
    Rule(
        "BCN131",
        "force-push",
        "git history and publishing",
        "Force push",
        "high",
        "The agent pushed with --force, --force-with-lease, --mirror or a +refspec: history on the "
        "remote was rewritten and commits may be gone.",
    ),
    Rule(
        "BCN132",
        "default-branch-push",
        "git history and publishing",
        "Push to the default branch",
        "high",
        "The agent pushed straight to main or master, around the review a pull request gets.",
    ),
    Rule(
        "BCN133",
        "git-config-code-or-credentials",
        "git history and publishing",
        "Git configured to run code or handle credentials",
        "high",
        "The agent set a git option that hands credentials to a program or runs one "
        "(credential.helper, http.extraHeader, core.hooksPath, core.sshCommand, core.fsmonitor, "
        "url.*.insteadOf, include.path).",
    ),
    Rule(
        "BCN134",
        "pull-request-merged",
        "git history and publishing",
        "Pull request merged by the agent",
        "high",
        "The agent merged a pull request (gh pr merge): the change reached its base branch "
        "without a person's merge.",
    ),
    Rule(
        "BCN135",
        "release-published",
        "git history and publishing",
        "Release or package published",
        "high",
        "The agent published something others consume: a GitHub release (gh release "
        "create/upload/edit/delete), a package (npm publish, twine upload, cargo publish, …) or "
        "an image (docker push).",
    ),
    Rule(
        "BCN141",
        "network-egress",
        "network egress",
        "Network access to a host outside the allow-list",
        "medium",
        "A command, web fetch or MCP call reached a host outside the allow-list (the forge, the "
        "model providers and the package registries by default). Check that the host is one the "
        "task needs; allow it with --allow-host or allow_hosts.",
    ),
    Rule(
        "BCN142",
        "raw-socket",
        "network egress",
        "Raw network socket",
        "high",
        "The agent opened a raw connection to another machine (nc, ncat, socat, telnet, "
        "/dev/tcp/…), or one that runs a program on the connection: the shape of a reverse "
        "shell or of data leaving around every HTTP control.",
    ),
    Rule(
        "BCN143",
        "file-upload",
        "network egress",
        "File uploaded",
        "high",
        "The agent sent a file off the machine (curl -T, -d @file, -F x=@file, wget --post-file, "
        "scp or rsync to a remote, aws s3 cp / gsutil cp to a bucket). Check what was sent and "
        "where.",
    ),
    Rule(
        "BCN151",
        "permission-bypass",
        "guard rails",
        "Permission checks bypassed",
        "medium",
        "The agent ran without its approval checks (Claude Code bypassPermissions or "
        "--dangerously-skip-permissions, Gemini CLI yolo, Codex with approvals off and no "
        "sandbox), switched during the session to a mode that approves by itself (acceptEdits, "
        "auto_edit), or started an agent that way: nothing stood between the model and the runner.",
    ),
    Rule(
        "BCN152",
        "security-control-disabled",
        "guard rails",
        "Security control disabled",
        "high",
        "The agent switched off a security control: SELinux or AppArmor, the firewall, audit "
        "or endpoint agents, or TLS verification (http.sslVerify false, "
        "NODE_TLS_REJECT_UNAUTHORIZED=0, strict-ssl false).",
    ),
    Rule(
        "BCN153",
        "git-hooks-skipped",
        "guard rails",
        "Git hooks skipped",
        "low",
        "The agent committed or pushed with --no-verify (or HUSKY=0): the repository's hooks, "
        "which may scan for secrets, did not run.",
    ),
    Rule(
        "BCN154",
        "world-writable-permissions",
        "guard rails",
        "World-writable permissions",
        "medium",
        "The agent made files writable by every user (chmod 777, 666, o+w, a+w).",
    ),
    Rule(
        "BCN155",
        "privilege-escalation",
        "guard rails",
        "Command run as root",
        "low",
        "The agent ran a command through sudo, doas or su: beyond the job's user, so a mistake "
        "or an injected instruction reaches the whole runner.",
    ),
    Rule(
        "BCN161",
        "destructive-command",
        "destructive commands",
        "Destructive command outside the workspace",
        "critical",
        "The agent ran a command that destroys what lies outside the workspace: rm -r of /, "
        "~, $HOME or a system directory, mkfs, dd or a redirection onto a disk device, find / "
        "-delete.",
    ),
    Rule(
        "BCN171",
        "package-from-url",
        "packages",
        "Package installed from a URL or git",
        "medium",
        "The agent installed a package straight from a URL or a git repository (pip install "
        "git+https://…, npm install github:user/repo, cargo install --git, …): no registry, "
        "no version pin, no lock file.",
    ),
    Rule(
        "BCN172",
        "install-scripts-forced",
        "packages",
        "Package install scripts forced on",
        "medium",
        "The agent forced package install scripts on (--ignore-scripts=false, npm config set "
        "ignore-scripts false, --dangerously-allow-all-builds, bun --trust): every dependency "
        "runs its own code at install.",
    ),
    Rule(
        "BCN181",
        "secrets-exposed",
        "agent conduct",
        "Secrets reached the agent",
        "medium",
        "Events needed redaction before they were written: a secret passed through the agent "
        "(in a command, a prompt, a file or the model's traffic). The finding counts them by "
        "kind of event; the values are not in the log. Rotate what the agent should not have "
        "seen.",
    ),
    Rule(
        "BCN182",
        "action-denied",
        "agent conduct",
        "Action denied",
        "low",
        "The agent asked to do something its permissions, a hook or a policy refused.",
    ),
    Rule(
        "BCN183",
        "refused-action-retried",
        "agent conduct",
        "Agent kept trying a refused action",
        "medium",
        "The agent tried again what had been refused: asked again, or ran it after the denial. "
        "An agent that works around its guard rails may be following injected instructions.",
    ),
    Rule(
        "BCN191",
        "cost-budget-exceeded",
        "budgets",
        "Cost budget exceeded",
        "high",
        "The capture's model cost went over --max-cost. Agents that do not report cost (Codex) "
        "count nothing here: bound them with --max-tokens.",
    ),
    Rule(
        "BCN192",
        "token-budget-exceeded",
        "budgets",
        "Token budget exceeded",
        "high",
        "The capture's input and output tokens went over --max-tokens (cache reads and writes "
        "are not counted).",
    ),
)
RULES_BY_ID: Dict[str, Rule] = {rule.id: rule for rule in RULES}
BUDGET_RULES = ("BCN191", "BCN192")  # always fail a capture, --fail-on or not (ARCHITECTURE.md)


def at_least(severity: str, threshold: str) -> bool:
    """Whether `severity` is `threshold` or worse."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]
