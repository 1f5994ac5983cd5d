"""Commands that matter, matched on the stages shell.py reads from a (redacted) command line.

Most rules are rows of COMMAND_ROWS: a program, the subcommand its leading arguments must be, and
the arguments that must (or must not) be there, each a regular expression matched against one
whole argument, case-insensitively. Matching whole arguments is what keeps a commit message that
says `--force` from being a force push. What a row cannot say (a pipe from a download into a
shell, the hosts a client reaches, the files a command reads or writes) is a detector below.
"""

from __future__ import annotations

import functools
import re
from typing import Callable, FrozenSet, Iterator, List, NamedTuple, Optional, Pattern, Sequence, Tuple

from beacon_ci.findings.hosts import (
    DEFAULT_ALLOWED_HOSTS,
    is_allowed,
    is_metadata,
    remote_hosts,
    scp_host,
    url_hosts,
)
from beacon_ci.findings.paths import is_credential_store, is_key_or_env_file, path_rule
from beacon_ci.findings.shell import SHELLS, Stage, positionals, script_flag, stages


class Hit(NamedTuple):
    """A rule that fired, and what it is about: the command, a path it touched, a host."""

    rule: str
    subject: str  # what makes this finding one of its own: the command, the path, the host
    path: str = ""
    host: str = ""


class Row(NamedTuple):
    rule: str
    programs: FrozenSet[str]  # empty: any program
    path: Tuple[Pattern[str], ...]  # the leading positional arguments, in order
    words: Tuple[Pattern[str], ...]  # each matched by some argument
    unless: Optional[Pattern[str]]  # no argument may match this
    keywords: Tuple[str, ...]  # a command mentions one of these, or the row cannot fire


def row(
    rule: str,
    programs: str,
    path: Sequence[str] = (),
    words: Sequence[str] = (),
    unless: str = "",
    keywords: Sequence[str] = (),
) -> Row:
    """A row from text: programs a space-separated list ("" for any). Its keywords are its
    programs unless given: a program every agent runs (python, node) needs a narrower one."""

    def compiled(pattern: str) -> Pattern[str]:
        return re.compile(pattern, re.IGNORECASE | re.DOTALL)

    return Row(
        rule,
        frozenset(programs.split()),
        tuple(map(compiled, path)),
        tuple(map(compiled, words)),
        compiled(unless) if unless else None,
        tuple(keywords) or tuple(programs.split()),
    )


# Options that take a value before a subcommand (`git -C dir push`): so the value is not read as
# the subcommand.
VALUED_OPTIONS = {
    "git": frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"}),
    "gh": frozenset({"-R", "--repo", "-X", "--method", "-H", "--header", "--hostname", "-q", "--jq"}),
    "kubectl": frozenset({"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user"}),
    "aws": frozenset({"--profile", "--region", "--endpoint-url", "--output"}),
    "gcloud": frozenset({"--project", "--account", "--configuration"}),
    "npm": frozenset({"--prefix", "-w", "--workspace"}),
    "yarn": frozenset({"--cwd"}),
    "pnpm": frozenset({"-C", "--dir", "--filter", "-F"}),
}

SECRET_VARIABLE = (  # case-sensitive: variable names that say secret are written in capitals
    r"(?-i:[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY"
    r"|CREDENTIALS?)[A-Z0-9_]*)"
)
RECURSIVE = r"-[a-zA-Z]*[rR][a-zA-Z]*|--recursive"
# rm -r of these destroys what is not the workspace's: the root, a home, a system directory.
OUTSIDE_WORKSPACE = (
    r"/+\*?|~/?\*?|\$\{?HOME\}?/?\*?"
    r"|/(?:bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|sbin|srv|sys|usr|var)/?\*?"
)
WORLD_WRITABLE = r"(?:0|[2-7])?[0-7][0-7][2367]|(?:.*,)?[ugo]*[ao][ugo]*[+=][rwxXst]*w[rwxXst]*(?:,.*)?"
PACKAGE_URL = r"(?:[\w.\[\],-]+\s*@\s*)?(?:(?:git|hg|svn|bzr)\+\S+|https?://\S+)"
NPM_REMOTE = r"(?:[\w@./-]+@)?(?:git\+\S+|git://\S+|(?:github|gitlab|bitbucket|gist):\S+|https?://\S+)"
GH_SETTINGS_ENDPOINT = (
    r"/?(?:repos/[^/\s]+/[^/\s]+|orgs/[^/\s]+)(?:/(?:branches/\S+/protection|rulesets|actions/(?:secrets|variables"
    r"|permissions)|secrets|variables|dependabot/secrets|environments|keys|hooks|collaborators|teams)(?:/.*)?)?"
)
GH_WRITE = (  # gh api sends GET unless told a method or given fields
    r"-X|--method(?:=.*)?|-X(?:POST|PUT|PATCH|DELETE)|-f|-F|--field(?:=.*)?|--raw-field(?:=.*)?"
    r"|--input(?:=.*)?"
)
GIT_CODE_OR_CREDENTIALS = (
    r"credential(?:\..+)?\.helper|http\..*extraheader|core\.(?:hookspath|sshcommand|fsmonitor|askpass"
    r"|gitproxy)|url\..+\.(?:insteadof|pushinsteadof)|include\.path|includeif\..+\.path"
)
SECURITY_SERVICES = (
    r"(?:apparmor|auditd|falco|firewalld|selinux|clamav-daemon|clamd|osqueryd|wazuh-agent|falcon-sensor"
    r"|sysdig|auditbeat|tetragon|ufw)(?:\.service)?"
)

COMMAND_ROWS: Tuple[Row, ...] = (
    # BCN111: programs that print a credential
    row("BCN111", "gh", ("auth", "token")),
    row("BCN111", "gh", ("auth", "status"), ("-t|--show-token",)),
    row("BCN111", "gcloud", ("auth", "print-access-token|print-identity-token")),
    row("BCN111", "gcloud", ("auth", "application-default", "print-access-token")),
    row("BCN111", "az", ("account", "get-access-token")),
    row("BCN111", "aws", ("configure", "export-credentials")),
    row("BCN111", "aws", ("configure", "get"), (r"(?:\S+\.)?aws_(?:secret_access_key|session_token)",)),
    row("BCN111", "aws", ("ecr", "get-login-password")),
    row("BCN111", "git", ("credential", "fill")),
    row("BCN111", "kubectl", ("get|describe", r"secrets?(?:/.*)?")),
    row("BCN111", "security", ("find-generic-password|find-internet-password",), ("-w|-g",)),
    # BCN113: the environment or a secret variable printed
    row("BCN113", "env"),  # shell.py keeps env as a stage of its own only when it runs no command
    row("BCN113", "printenv", unless=r"(?!" + SECRET_VARIABLE + r"$).*"),  # bare, or a secret's name
    row("BCN113", "echo printf", words=(r".*\$\{?" + SECRET_VARIABLE + r"\b.*",)),
    row("BCN113", "export", words=("-p",)),
    row("BCN113", "get-childitem gci dir ls", words=(r"env:\\?\*?",), keywords=("env:",)),
    row(
        "BCN113",
        "python",
        words=("-c", r".*\bprint\s*\(\s*(?:dict\s*\(\s*)?os\.environ\s*\)?\s*\).*"),
        keywords=("environ",),
    ),
    row(
        "BCN113",
        "node",
        words=(
            "-e|-p|--eval|--print",
            r"process\.env|.*(?:console\.log|JSON\.stringify)\s*\(\s*process\.env\s*\).*",
        ),
        keywords=("process.env",),
    ),
    # BCN123: repository settings through the API
    row("BCN123", "gh", ("api", GH_SETTINGS_ENDPOINT), (GH_WRITE,), unless="GET|-XGET|--method=GET"),
    row("BCN123", "gh", ("secret|variable", "set|delete|remove")),
    row("BCN123", "gh", ("repo", "edit|delete|archive|rename|deploy-key")),
    # BCN131-BCN135: history, the default branch, git's trust, merges, releases
    row(
        "BCN131",
        "git",
        ("push",),
        (r"--force(?:-with-lease(?:=.*)?|-if-includes)?|-[a-zA-Z]*f[a-zA-Z]*|\+.+|--mirror",),
    ),
    row("BCN132", "git", ("push",), (r"\+?(?:[^:\s]*:)?(?:refs/heads/)?(?:main|master)",)),
    row(
        "BCN133",
        "git",
        ("config",),
        (GIT_CODE_OR_CREDENTIALS,),
        unless=r"--get(?:-all|-regexp|-urlmatch)?|--list|-l|get|list",
    ),
    row("BCN134", "gh", ("pr", "merge")),
    row("BCN134", "glab", ("mr", "merge")),
    row("BCN135", "gh glab", ("release", "create|upload|edit|delete")),
    row("BCN135", "npm pnpm bun", ("publish",)),
    row("BCN135", "yarn", ("npm|publish",), ("publish",)),
    row("BCN135", "twine", ("upload",)),
    row("BCN135", "cargo poetry uv flit hatch", ("publish",)),
    row("BCN135", "gem", ("push",)),
    row("BCN135", "docker podman", ("push|image|manifest",), ("push",)),
    # BCN151: an agent started without its approval checks
    row(
        "BCN151",
        "",
        words=(
            "--dangerously-skip-permissions|--dangerously-bypass-approvals-and-sandbox|--yolo"
            "|--permission-mode=bypasspermissions|--approval-mode=yolo",
        ),
        keywords=("dangerously", "yolo", "permission-mode"),
    ),
    row("BCN151", "", words=("--permission-mode", "bypasspermissions"), keywords=("permission-mode",)),
    row("BCN151", "", words=("--approval-mode", "yolo"), keywords=("approval-mode",)),
    row("BCN151", "gemini", words=("-y",)),
    # BCN152: security controls switched off
    row("BCN152", "setenforce", words=("0|permissive",)),
    row("BCN152", "ufw", ("disable",)),
    row("BCN152", "systemctl service", words=("stop|disable|mask", SECURITY_SERVICES)),
    row("BCN152", "iptables ip6tables", words=("-F|--flush",)),
    row("BCN152", "iptables ip6tables", words=("-P|--policy", "accept")),
    row("BCN152", "auditctl", words=("-e", "0")),
    row("BCN152", "git", ("config",), (r"http\.(?:.*\.)?sslverify", "false|0|no|off")),
    row("BCN152", "git", words=(r"http\.(?:.*\.)?sslverify=(?:false|0|no|off)",)),
    row("BCN152", "npm yarn pnpm", ("config", "set"), ("strict-ssl(?:=false)?",), unless="true"),
    row(
        "BCN152",
        "export",
        words=(r"NODE_TLS_REJECT_UNAUTHORIZED=0|GIT_SSL_NO_VERIFY=(?:1|true)|PYTHONHTTPSVERIFY=0",),
    ),
    row("BCN152", "set-mppreference", words=("-disablerealtimemonitoring",)),
    row("BCN152", "csrutil", ("disable",)),
    row("BCN152", "spctl", words=("--master-disable",)),
    # BCN153-BCN155: hooks, permissions, root
    row("BCN153", "git", ("commit|merge|am|push|rebase|cherry-pick|revert",), ("--no-verify",)),
    row("BCN153", "git", ("commit",), ("-[a-zA-Z]*n[a-zA-Z]*",)),
    row("BCN153", "export", words=("HUSKY=0|HUSKY_SKIP_HOOKS=1",)),
    row("BCN154", "chmod", words=(WORLD_WRITABLE,)),
    row("BCN155", "sudo doas su pkexec"),
    # BCN161: destruction outside the workspace
    row("BCN161", "rm", words=(RECURSIVE, OUTSIDE_WORKSPACE)),
    row("BCN161", "rm", words=("--no-preserve-root",)),
    row("BCN161", "chmod chown chgrp", words=("-R|--recursive", OUTSIDE_WORKSPACE)),
    row("BCN161", "mkfs mke2fs wipefs"),
    row("BCN161", "dd", words=(r"of=/dev/(?!null$|zero$|stdout$|stderr$|fd/)\S+",)),
    row("BCN161", "shred", words=(r"/dev/\S+",)),
    row("BCN161", "find", ("/",), ("-delete",)),
    # BCN171, BCN172: packages from URLs, install scripts forced on
    row("BCN171", "pip", ("install",), (PACKAGE_URL,)),
    row("BCN171", "pipx", ("install|run|inject",), (PACKAGE_URL,)),
    row("BCN171", "uv", ("pip", "install"), (PACKAGE_URL,)),
    row("BCN171", "uv", ("add",), (PACKAGE_URL,)),
    row("BCN171", "uv", ("tool", "install|run"), (PACKAGE_URL,)),
    row("BCN171", "uvx poetry pdm", words=(PACKAGE_URL,)),
    row("BCN171", "npm pnpm yarn bun", ("install|i|add",), (NPM_REMOTE,)),
    row("BCN171", "npx", words=(NPM_REMOTE,)),
    row("BCN171", "cargo", ("install",), ("--git(?:=.*)?",)),
    row("BCN172", "npm pnpm yarn bun", words=("--ignore-scripts=false",)),
    row(
        "BCN172",
        "npm pnpm yarn",
        ("config", "set"),
        ("ignore-scripts(?:=false)?", "false|ignore-scripts=false"),
    ),
    row("BCN172", "yarn", ("config", "set"), ("enablescripts", "true")),
    row("BCN172", "export", words=("npm_config_ignore_scripts=false",)),
    row("BCN172", "pnpm", words=("--dangerously-allow-all-builds",)),
    row("BCN172", "bun", words=("--trust",)),
    row("BCN172", "bun", ("pm", "trust")),
)


def matches(rule_row: Row, stage: Stage) -> bool:
    if rule_row.programs and stage.program not in rule_row.programs:
        return False
    args = stage.args
    if rule_row.path:
        leading = positionals(args, VALUED_OPTIONS.get(stage.program, frozenset()))
        if len(leading) < len(rule_row.path):
            return False
        if not all(p.fullmatch(word) for p, word in zip(rule_row.path, leading)):
            return False
    if not all(any(p.fullmatch(word) for word in args) for p in rule_row.words):
        return False
    return rule_row.unless is None or not any(rule_row.unless.fullmatch(word) for word in args)


# --- detectors: what a row cannot say ----------------------------------------------------

DOWNLOADERS = frozenset(
    {"curl", "wget", "iwr", "irm", "invoke-webrequest", "invoke-restmethod", "http", "https", "xh", "fetch"}
)
INTERPRETERS = frozenset({"python", "node", "perl", "ruby", "php", "deno", "bun"})
# `$` is a `$(...)` that stands as the command: the shell runs what it prints.
EVALUATORS = frozenset({"iex", "invoke-expression", "eval", "source", ".", "$"})
NETWORK_CLIENTS = DOWNLOADERS | frozenset(
    {"ssh", "scp", "sftp", "rsync", "ftp", "lftp", "aria2c", "svn", "hg"}
)
GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote", "remote", "submodule"})
RAW_SOCKETS = frozenset({"nc", "ncat", "netcat", "socat", "telnet"})
# Programs that put a file's content where the agent sees it (or sends it on).
READERS = frozenset(
    {"cat", "less", "more", "head", "tail", "bat", "batcat", "strings", "xxd", "od", "hexdump", "base64"}
    | {"source", ".", "grep", "egrep", "fgrep", "rg", "awk", "gawk", "sed", "cut", "sort", "nl", "tac"}
    | {"jq", "yq", "type", "get-content", "gc", "tar", "zip", "7z"}
)
COPIERS = frozenset({"cp", "mv", "scp", "rsync", "install"})  # read every operand but the last
# Programs whose arguments may name a credential store they read (python -c "open('~/.netrc')",
# curl --data @~/.aws/credentials); too broad for key files, which they use (curl --key).
STORE_READERS = INTERPRETERS | DOWNLOADERS | RAW_SOCKETS
REMOVERS = frozenset({"rm", "unlink", "truncate", "touch", "shred"})  # write every operand
_PIPES = ("|", "|&")
_GROUPS = ("(", "<(")
_SCRIPT_FLAG = re.compile(r"-[a-zA-Z]*[ce]|--eval")
_SUBSTITUTED_DOWNLOAD = re.compile(r"(?:\$\(|`)\s*(?:curl|wget)\b", re.IGNORECASE)
_EXEC_FLAGS = re.compile(r"-[a-zA-Z]*[ec]|--(?:exec|sh-exec|lua-exec)(?:=.*)?|(?i:exec|system):.*")
_DEV_TCP = re.compile(r"/dev/(?:tcp|udp)/([^/\s]+)/")
_SOCAT_ADDRESS = re.compile(r"(?:tcp|tcp4|tcp6|udp|udp4|udp6|openssl|ssl)[^:]*:([^:,\s]+):", re.IGNORECASE)


def downloads_into_executor(parsed: Sequence[Stage]) -> bool:
    """BCN101: a download piped into a shell or interpreter that runs stdin, a shell or eval
    given a download's output (`bash <(curl …)`, `iex (iwr …)`, `eval "$(curl …)"`), or a
    -c script that is a download's output."""
    downloaded = False
    for index, stage in enumerate(parsed):
        if stage.after not in _PIPES:
            downloaded = False
        if stage.after in _PIPES and downloaded and runs_stdin(stage):
            return True
        if is_download(stage):
            downloaded = True
            previous = parsed[index - 1] if index else None
            if stage.after in _GROUPS and previous is not None and executes(previous):
                return True
        if stage.program in SHELLS | INTERPRETERS and _script_is_download(stage.args):
            return True
    return False


def _script_is_download(args: Sequence[str]) -> bool:
    """`bash -c "$(curl …)"`, `python -c "$(curl …)"`, `node -e "$(curl …)"`."""
    return any(
        _SCRIPT_FLAG.fullmatch(flag) and _SUBSTITUTED_DOWNLOAD.search(script)
        for flag, script in zip(args, args[1:])
    )


def is_download(stage: Stage) -> bool:
    if stage.program == "new-object":
        return any("webclient" in word.lower() for word in stage.args)
    return stage.program in DOWNLOADERS


def runs_stdin(stage: Stage) -> bool:
    """A program that runs what it reads on stdin as code."""
    if stage.program in SHELLS or stage.program in ("pwsh", "powershell"):
        return not script_flag(stage.program, stage.args)
    if stage.program in INTERPRETERS:
        return stage.args in ((), ("-",)) or stage.args[:1] == ("-",)
    return stage.program in ("iex", "invoke-expression")


def executes(stage: Stage) -> bool:
    return stage.program in EVALUATORS or stage.program in SHELLS or stage.program in ("pwsh", "powershell")


def read_operands(stage: Stage) -> List[str]:
    """What a command reads from files: a reader's operands (not its options: `grep
    --include=*.pem` reads no key), a copy's sources, `<` sources."""
    operands = list(stage.reads)
    if stage.program in READERS:
        operands += [word for word in stage.args if not word.startswith("-")]
    elif stage.program in COPIERS:
        operands += positionals(stage.args)[:-1]
    return operands


def store_operands(stage: Stage) -> List[str]:
    """Where a command may name a credential store it reads: as read_operands, and the arguments
    of interpreters and network clients."""
    return read_operands(stage) + (list(stage.args) if stage.program in STORE_READERS else [])


def written_operands(stage: Stage) -> List[str]:
    """What a command writes to, creates or removes: redirections, tee, sed -i, a copy's
    destination, rm and friends, dd of=."""
    operands = list(stage.writes)
    program, args = stage.program, stage.args
    if program == "tee" or program in REMOVERS:
        operands += positionals(args)
    elif program in ("sed", "perl") and any(word.startswith("-i") or word.startswith("-pi") for word in args):
        operands += positionals(args)
    elif program in COPIERS or program == "ln":
        operands += positionals(args)[-1:]
    elif program == "git" and positionals(args)[:1] in (["rm"], ["mv"]):
        operands += positionals(args)[1:]
    elif program == "dd":
        operands += [word[3:] for word in args if word.startswith("of=")]
    return operands


def path_hits(parsed: Sequence[Stage]) -> Iterator[Hit]:
    """BCN111/BCN112 for what is read, BCN121/BCN122/BCN161 for what is written."""
    for stage in parsed:
        stores = [operand for operand in store_operands(stage) if is_credential_store(operand)]
        yield from (Hit("BCN111", operand, path=operand) for operand in stores)
        for operand in read_operands(stage):
            if is_key_or_env_file(operand) and operand not in stores:
                yield Hit("BCN112", operand, path=operand)
        for operand in written_operands(stage):
            rule = path_rule(operand, written=True)
            if rule is not None:
                yield Hit(rule, operand, path=operand)


def stage_hosts(stage: Stage) -> List[str]:
    """The hosts a network client's arguments name (URLs, scp-style destinations)."""
    program, args = stage.program, stage.args
    if program == "git" and not GIT_NETWORK & set(positionals(args, VALUED_OPTIONS["git"])[:1]):
        return []
    if program not in NETWORK_CLIENTS and program != "git":
        return []
    hosts = [host for word in args for host in url_hosts(word)]
    if program in ("ssh", "scp", "sftp", "rsync", "git"):
        hosts += [scp_host(word) for word in args if scp_host(word)]
    if program == "ssh":
        hosts += [_ssh_destination(args)]
    return [host for host in hosts if host]


_SSH_VALUED = frozenset("-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w".split())


def _ssh_destination(args: Sequence[str]) -> str:
    destinations = positionals(args, _SSH_VALUED)
    if not destinations:
        return ""
    host = destinations[0].rsplit("@", 1)[-1].lower()
    return host if "." in host else ""


def egress_hits(parsed: Sequence[Stage]) -> Iterator[Hit]:
    """BCN141 per host a network client reaches (the allow-list is applied when findings are
    judged, so a user's additions count); BCN114 for a metadata service, wherever named."""
    for stage in parsed:
        for host in remote_hosts(stage_hosts(stage)):
            if is_metadata(host):
                yield Hit("BCN114", host, host=host)
            elif not is_allowed(host, DEFAULT_ALLOWED_HOSTS):
                yield Hit("BCN141", host, host=host)
        if stage.program not in NETWORK_CLIENTS:
            named = [host for word in stage.args for host in url_hosts(word) if is_metadata(host)]
            yield from (Hit("BCN114", host, host=host) for host in named)


def raw_socket(parsed: Sequence[Stage]) -> bool:
    """BCN142: nc, socat, telnet to another machine or running a program; bash's /dev/tcp."""
    for stage in parsed:
        words = stage.args + stage.reads + stage.writes
        if any(remote_hosts([m.group(1).lower()]) for word in words for m in _DEV_TCP.finditer(word)):
            return True
        if stage.program not in RAW_SOCKETS:
            continue
        if any(_EXEC_FLAGS.fullmatch(word) for word in stage.args):
            return True
        if remote_hosts(_socket_hosts(stage)):
            return True
    return False


def _socket_hosts(stage: Stage) -> List[str]:
    if stage.program == "socat":
        return [m.group(1).lower() for word in stage.args for m in _SOCAT_ADDRESS.finditer(word)]
    return [
        word.lower()
        for word in positionals(stage.args, frozenset({"-w", "-p", "-s", "-x", "-i", "-q", "-W"}))
        if not re.fullmatch(r"[\d,-]+", word)
    ]


_CURL_UPLOAD = re.compile(r"-T.*|--upload-file(?:=.*)?")
# A long option's value follows `=` or comes as the next argument; a short one's may be glued on.
_CURL_DATA = re.compile(r"--(?:data(?:-binary|-urlencode|-ascii)?|json)(?:=(.*))?|-d(.*)")
_CURL_FORM = re.compile(r"--form(?:=(.*))?|-F(.*)")


def uploads(parsed: Sequence[Stage]) -> bool:
    """BCN143: a file sent off the machine."""
    return any(_uploads(stage) for stage in parsed)


def _uploads(stage: Stage) -> bool:
    program, args = stage.program, stage.args
    if program == "curl":
        hosts = [host for word in args for host in url_hosts(word)]
        return _curl_sends_file(args) and (not hosts or bool(remote_hosts(hosts)))
    if program == "wget":
        return any(word.startswith(("--post-file", "--body-file")) for word in args)
    if program in ("invoke-webrequest", "iwr", "invoke-restmethod", "irm"):
        return any(word.lower() == "-infile" for word in args)
    operands = positionals(args, frozenset({"-e", "-i", "-P", "-o", "-F", "--rsh"}))
    if program in ("scp", "rsync") and len(operands) >= 2:
        return bool(remote_hosts([scp_host(operands[-1])] if scp_host(operands[-1]) else []))
    if program == "aws" and operands[:1] == ["s3"] and len(operands) >= 4:
        return operands[-1].startswith("s3://") and not operands[-2].startswith("s3://")
    if program in ("gsutil", "gcloud") and len(operands) >= 3:
        return operands[-1].startswith("gs://") and not operands[-2].startswith("gs://")
    return program == "az" and operands[:3] == ["storage", "blob", "upload"]


def _curl_sends_file(args: Sequence[str]) -> bool:
    for index, word in enumerate(args):
        value = args[index + 1] if index + 1 < len(args) else ""
        if _CURL_UPLOAD.fullmatch(word):
            return True
        data = _CURL_DATA.fullmatch(word)
        sent = (data.group(1) or data.group(2) or value) if data else ""
        if sent.startswith("@") and sent != "@-":  # `@-` posts what a pipe made (a JSON body), no file
            return True
        form = _CURL_FORM.fullmatch(word)
        if form and re.search(r"=[@<]", form.group(1) or form.group(2) or value):
            return True
    return False


# --- one command -------------------------------------------------------------------------

Detector = Callable[[Sequence[Stage]], bool]
COMMAND_DETECTORS: Tuple[Tuple[str, Detector], ...] = (
    ("BCN101", downloads_into_executor),
    ("BCN142", raw_socket),
    ("BCN143", uploads),
)


def _keywords() -> Pattern[str]:
    """What a command must mention for any rule to fire: most commands an agent runs (tests,
    builds, reads) mention none, and are never parsed."""
    programs = {keyword for rule_row in COMMAND_ROWS for keyword in rule_row.keywords}
    programs |= DOWNLOADERS | NETWORK_CLIENTS | RAW_SOCKETS | {"git", "tee", "dd", "new-object", "iex"}
    fragments = (
        "/dev/", "169.254", "metadata", "100.100.100.200", "fd00:ec2", ".ssh", ".aws", "gcloud",
        ".docker", "netrc", ".kube", "credential", ".pypirc", "environ", "secrets", "vault-token",
        ".terraform", "gh/hosts", ".azure", ".pem", ".key", ".p12", ".pfx", ".jks", "keystore", ".ppk",
        "id_", ".env", ".github", "gitlab", "codeowners", ".git/", "jenkinsfile", ".circleci",
        ".buildkite", "pipelines", ".drone", ".travis", ".woodpecker",
    )  # fmt: skip
    words = r"\b(?:" + "|".join(re.escape(p) for p in sorted(programs, key=len, reverse=True)) + r")\b"
    return re.compile(words + "|" + "|".join(re.escape(f) for f in fragments), re.IGNORECASE)


_MENTIONS = _keywords()
SUBJECT_CHARS = 1000  # a finding quotes at most this much of a command


@functools.lru_cache(maxsize=4096)  # an agent's decision and result quote the same command
def command_hits(command: str) -> Tuple[Hit, ...]:
    """Every rule the command fires, once each per subject."""
    if not _MENTIONS.search(command):
        return ()
    parsed = stages(command)
    subject = command[:SUBJECT_CHARS]
    hits: List[Hit] = [Hit(r.rule, subject) for r in COMMAND_ROWS if any(matches(r, s) for s in parsed)]
    hits += [Hit(rule, subject) for rule, detect in COMMAND_DETECTORS if detect(parsed)]
    whole = {hit.rule for hit in hits}  # `dd of=/dev/sda` is one finding, not one per reading
    hits += [hit for hit in path_hits(parsed) if hit.rule not in whole]
    hits += egress_hits(parsed)
    return tuple(dict.fromkeys(hits))  # once each, in order
