#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: on the default python3, and on
# the oldest and newest supported Pythons (3.8 and 3.13). One virtualenv per interpreter
# under .venv/, reused on later runs; pip's cache makes reinstalls cheap. The real agent CLIs
# come from the npm registry into .cache/agents; their end-to-end tests run on the default
# Python only, and so do the quality gates (tools/check.sh) and the distribution tests, which
# run the zipapp on every supported Python themselves.
#
# The HTML report's browser tests drive Debian's chromium (playwright's own browser download
# needs the internet): it is installed with apt-get where missing, when running as root.
#
# The suite runs inside a network namespace with only loopback (unshare -n as root, else
# unshare -rn) wherever the system allows it, so no test can reach off the machine. As root it
# also creates, once, the system user the tests run an agent as (AGENT_USER below).
# Extra arguments go to pytest, e.g.  tools/test.sh -k receiver
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # find_python 3.8 -> path of a python3.8, from PATH or pyenv
  local version=$1 candidate
  for candidate in "python$version" "$(pyenv root 2>/dev/null)/versions/$version"*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "tools/test.sh: Python $version not found (install it, e.g. pyenv install $version)" >&2
  return 1
}

run_suite() {  # run_suite NAME PYTHON [--agents] [--checks] [pytest args]
  local name=$1 python=$2 venv=".venv/$1" agents=no checks=no
  shift 2
  while :; do
    case "${1:-}" in
      --agents) agents=yes; shift ;;
      --checks) checks=yes; shift ;;
      *) break ;;
    esac
  done
  echo "=== tests on $name: $("$python" --version 2>&1)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  # pip and the build backend are chatty; show their output only when the install fails.
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
         "$venv/bin/python" -m pip install --disable-pip-version-check -e '.[dev]'; } >"$venv/install.log" 2>&1; then
    cat "$venv/install.log" >&2
    echo "tools/test.sh: installing the test dependencies into $venv failed" >&2
    return 1
  fi
  if [ "$agents" = yes ]; then
    "$venv/bin/python" tools/install_agents.py
  fi
  if [ "$checks" = yes ]; then
    tools/check.sh "$venv/bin/python"
  fi
  loopback_only "$venv/bin/python" -m pytest "$@"
}

loopback_only() {  # run a command in a new network namespace with only lo, if the system allows
  # Root keeps its own user (-n): inside -rn's user namespace no process can switch users,
  # which the tests of an agent run as another user (sudo -u, runuser) need.
  local namespace=-rn
  if [ "$(id -u)" = 0 ]; then namespace=-n; fi
  if unshare "$namespace" true 2>/dev/null && command -v ip >/dev/null; then
    unshare "$namespace" sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    echo "tools/test.sh: no network namespace available here; running with the host network" >&2
    "$@"
  fi
}

# The user tests run an agent as, as codex-action's unprivileged-user runs Codex (tests/
# test_vendor_actions.py; they skip without it): a system account with no home and no login
# shell, created once and kept, rather than one made and deleted by every run.
AGENT_USER=beacon-agent
create_agent_user() {
  if [ "$(id -u)" = 0 ] && ! id "$AGENT_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$AGENT_USER"
  fi
}

create_agent_user

install_chromium() {  # Debian's chromium for tests/test_html_browser.py, which skips without it
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "=== installing chromium (Debian's package) for the browser tests"
    mkdir -p .venv
    export DEBIAN_FRONTEND=noninteractive
    if { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; } \
        >.venv/chromium-install.log 2>&1 </dev/null; then
      return 0
    fi
    echo "tools/test.sh: installing chromium failed (.venv/chromium-install.log)" >&2
  fi
  echo "tools/test.sh: no chromium, and it cannot be installed here (needs root and apt-get): the browser tests will skip" >&2
}

install_chromium
py38=$(find_python 3.8)
py313=$(find_python 3.13)

run_suite default python3 --agents --checks "$@"
run_suite py3.8 "$py38" -m "not agents and not dist" "$@"
run_suite py3.13 "$py313" -m "not agents and not dist" "$@"
echo "=== all suites passed"
