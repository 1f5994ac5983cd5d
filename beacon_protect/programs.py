"""Programs as data: which arguments of which commands carry a credential that no label names.

Each entry says how a program takes its secret: the flags whose next argument (or `=value`) is
one, flag prefixes glued to the secret (mysql's `-pSECRET`), a positional argument, the value
after a `pass:` prefix (openssl), the password part of `user%password` (smbclient), or stdin
(`echo SECRET | docker login --password-stdin`). A program is named by its first words, the
first one compared by its basename (`/usr/bin/mysql` is mysql).
"""

from __future__ import annotations

from typing import Dict, FrozenSet, NamedTuple, Optional, Tuple


class Program(NamedTuple):
    flags: FrozenSet[str] = frozenset()  # -p SECRET, --password SECRET, --password=SECRET
    attached: Tuple[str, ...] = ()  # -pSECRET, /p:SECRET
    positional: Optional[int] = None  # the Nth argument that is no flag (-1: the last)
    when_flag: str = ""  # positional or name_value only with a flag holding this letter (htpasswd -b)
    name_value: bool = False  # `set NAME VALUE`: VALUE when NAME names a secret
    after_share: bool = False  # the argument after a \\server\share or //server/share path
    after_word: str = ""  # the argument after this word (mysqladmin ... password SECRET)
    named_args: bool = False  # the argument after any that names a secret (nmcli ... wifi-sec.psk SECRET)
    user_percent: FrozenSet[str] = frozenset()  # -U user%SECRET
    pass_prefix: bool = False  # pass:SECRET (openssl's -pass, -passin, -passout)
    stdin_flags: FrozenSet[str] = frozenset()  # the secret arrives on stdin: echo SECRET | prog --flag
    writes_secret_file: bool = False  # its arguments, written to a key file: echo SECRET > master.key


def _flags(*names: str) -> FrozenSet[str]:
    return frozenset(names)


_MYSQL = Program(attached=("-p",))  # "-p name" prompts, then names a database
_REGISTRY_LOGIN = Program(flags=_flags("-p", "--password"), stdin_flags=_flags("--password-stdin"))
_MONGO = Program(flags=_flags("-p", "--password"))
_LDAP = Program(flags=_flags("-w", "-s", "-a"))  # -w bind password; ldappasswd: -s new, -a old
_KEYSTORE = Program(
    flags=_flags("-storepass", "-keypass", "-srcstorepass", "-deststorepass", "-srckeypass", "-destkeypass")
)
_SQLSERVER = Program(flags=_flags("-P"))
_PUTTY = Program(flags=_flags("-pw"))

PROGRAMS: Dict[str, Program] = {
    **dict.fromkeys(
        ("mysql", "mysqldump", "mysqlimport", "mysqlshow", "mysqlcheck", "mariadb", "mariadb-dump"), _MYSQL
    ),
    "mysqladmin": Program(attached=("-p",), after_word="password"),
    "mariadb-admin": Program(attached=("-p",), after_word="password"),
    "sshpass": Program(flags=_flags("-p"), attached=("-p",)),
    **dict.fromkeys(
        (
            "docker login",
            "podman login",
            "buildah login",
            "skopeo login",
            "nerdctl login",
            "oras login",
            "helm registry login",
            "crane auth login",
            "regctl registry login",
        ),
        _REGISTRY_LOGIN,
    ),
    "twine": Program(flags=_flags("-p", "--password")),
    "redis-cli": Program(flags=_flags("-a", "--pass", "--askpass")),
    "valkey-cli": Program(flags=_flags("-a", "--pass")),
    **dict.fromkeys(("sqlcmd", "bcp", "osql"), _SQLSERVER),
    "isql": Program(positional=2),
    "htpasswd": Program(positional=-1, when_flag="b"),
    "openssl": Program(flags=_flags("-k"), pass_prefix=True),
    **dict.fromkeys(("keytool", "jarsigner"), _KEYSTORE),
    "zip": Program(flags=_flags("-P", "--password")),
    "unzip": Program(flags=_flags("-P")),
    **dict.fromkeys(("7z", "7za", "7zz", "rar", "unrar"), Program(attached=("-p",))),
    "smbclient": Program(user_percent=_flags("-U", "--user"), after_share=True),
    "rpcclient": Program(user_percent=_flags("-U", "--user")),
    "net use": Program(after_share=True),
    "net user": Program(positional=1),
    "rabbitmqctl add_user": Program(positional=1),
    "rabbitmqctl change_password": Program(positional=1),
    "aws configure set": Program(name_value=True),
    "npm config set": Program(name_value=True),
    "pnpm config set": Program(name_value=True),
    "yarn config set": Program(name_value=True),
    "az login": Program(flags=_flags("-p", "--password")),
    "vault login": Program(positional=0),
    "doctl auth init": Program(flags=_flags("-t", "--access-token")),
    "gh auth login": Program(stdin_flags=_flags("--with-token")),
    "glab auth login": Program(stdin_flags=_flags("--stdin")),
    **dict.fromkeys(("ldapsearch", "ldapadd", "ldapmodify", "ldapdelete", "ldappasswd", "ldapwhoami"), _LDAP),
    **dict.fromkeys(("mongosh", "mongo", "mongodump", "mongorestore", "mongoexport", "mongoimport"), _MONGO),
    "sqlplus": Program(positional=0),  # user/SECRET@db: see commands._slash_password
    "xfreerdp": Program(attached=("/p:",)),
    "rdesktop": Program(flags=_flags("-p")),
    **dict.fromkeys(("plink", "pscp", "psftp"), _PUTTY),
    "ssh-keygen": Program(flags=_flags("-N", "-P")),
    "psexec": Program(flags=_flags("-p")),
    "cf login": Program(flags=_flags("-p")),
    "cf auth": Program(positional=1),
    "oc login": Program(flags=_flags("-p")),
    "curl": Program(flags=_flags("--oauth2-bearer")),
    "nmcli": Program(after_word="password", named_args=True),
    "influx": Program(flags=_flags("-t", "--token")),
    "mc alias set": Program(positional=-1),
    "mcli alias set": Program(positional=-1),
    "dotnet nuget add source": Program(flags=_flags("-p", "--password")),
    "dotnet nuget update source": Program(flags=_flags("-p", "--password")),
    "nuget sources add": Program(flags=_flags("-Password", "-password")),
    "nuget sources update": Program(flags=_flags("-Password", "-password")),
    "dotnet user-secrets set": Program(name_value=True),
    "kubeadm token create": Program(positional=0),
    "echo": Program(writes_secret_file=True),
    "printf": Program(writes_secret_file=True),
    "set": Program(name_value=True, when_flag="x"),  # fish: set -x API_TOKEN SECRET
    "gh secret set": Program(flags=_flags("-b", "--body")),
    "gh variable set": Program(flags=_flags("-b", "--body")),
}
