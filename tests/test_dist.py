"""Distribution: the zipapp (tools/build_pyz.py) alone on every supported Python, the wheel and
sdist built offline, the wheel installed by pip and run by pipx with no package index, and one
version everywhere.

Everything here runs without a network (tools/test.sh runs the suite with only loopback), so
nothing may reach for a package index: pip gets `--no-index` and none of this machine's pip
configuration, which could point at a local wheelhouse.
"""

from __future__ import annotations

import email.parser
import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
from conftest import ROOT
from test_exec import EVENTS_PER_SESSION, Run, environ
from test_session import exports_from, stop_receivers  # noqa: F401  (stop_receivers: autouse cleanup)

from beacon_ci import __version__
from beacon_ci.selftest import SYNTHETIC_SECRET

pytestmark = pytest.mark.dist

SUPPORTED_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
TOOLS = ROOT / "tools"
FAKE_AGENT = ROOT / "tests" / "fake_agent.py"
VERSION_LINE = f"beacon {__version__}"
TIMEOUT = 120


def run(
    argv: Sequence[object], env: Dict[str, str], cwd: Optional[Path] = None
) -> subprocess.CompletedProcess[str]:
    """Run argv (paths and strings) to the end, capturing its output as text."""
    return subprocess.run(
        [str(arg) for arg in argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


def offline_environ(tmp_path: Path, **extra: str) -> Dict[str, str]:
    """test_exec's minimal environment, with pip reading no configuration file."""
    return environ(tmp_path, PIP_CONFIG_FILE=os.devnull, **extra)


# --- the zipapp ---------------------------------------------------------------------------


def build_pyz(out_dir: Path) -> Path:
    built = run([sys.executable, TOOLS / "build_pyz.py", "--out-dir", out_dir], env=dict(os.environ))
    assert built.returncode == 0, built.stderr
    return out_dir / "beacon.pyz"


def shipped_sources(root: Path = ROOT) -> List[str]:
    sys.path.insert(0, str(TOOLS))
    try:  # tools/ needs Python 3.11+ (tomllib): imported only where a dist test runs
        from runtime_sources import runtime_sources
    finally:
        sys.path.remove(str(TOOLS))
    return runtime_sources(root)


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pyz(tmp_path_factory.mktemp("pyz"))


def test_the_pyz_build_is_reproducible(tmp_path: Path) -> None:
    first, second = build_pyz(tmp_path / "first"), build_pyz(tmp_path / "second")
    content = first.read_bytes()
    assert content == second.read_bytes()
    checksum = (tmp_path / "first" / "beacon.pyz.sha256").read_text()
    assert checksum == f"{hashlib.sha256(content).hexdigest()}  beacon.pyz\n"  # sha256sum's format
    assert (tmp_path / "second" / "beacon.pyz.sha256").read_text() == checksum


def test_the_pyz_holds_the_runtime_and_a_main(pyz: Path) -> None:
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(pyz) as archive:
        members = archive.infolist()
        assert [m.filename for m in members] == sorted(["__main__.py", *shipped_sources()])
        assert {(m.date_time, m.external_attr >> 16) for m in members} == {((1980, 1, 1, 0, 0, 0), 0o100644)}
        for name in shipped_sources():
            assert archive.read(name) == (ROOT / name).read_bytes()
        assert b"beacon.main()" in archive.read("__main__.py")


def test_a_module_listed_in_pyproject_ships(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npy-modules = ["beacon", "beacon_extra"]\npackages = ["pkg", "pkg.sub"]\n'
    )
    for name in (
        "beacon.py",
        "beacon_extra.py",
        "pkg/__init__.py",
        "pkg/sub/__init__.py",
        "pkg/sub/x.py",
        "pkg/unlisted/__init__.py",
        "pkg/__pycache__/y.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert shipped_sources(tmp_path) == [
        "beacon.py",
        "beacon_extra.py",
        "pkg/__init__.py",
        "pkg/sub/__init__.py",
        "pkg/sub/x.py",
    ]


def pyenv_root() -> Optional[str]:
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    if shutil.which("pyenv") is None:
        return None
    return run(["pyenv", "root"], env=dict(os.environ)).stdout.strip() or None


def is_python(candidate: str, version: str) -> bool:
    """Does candidate run, and is it that version? (pyenv's shims exist but fail for other versions.)"""
    check = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        return run([candidate, "-c", check], env=dict(os.environ)).stdout.strip() == version
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def find_python(version: str) -> Optional[str]:
    """python3.X from PATH, else from pyenv's versions, as tools/test.sh finds them."""
    root = pyenv_root()
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(f"{root}/versions/{version}*/bin/python3")) if root else []
    return next((c for c in candidates if c and is_python(c, version)), None)


@pytest.fixture(params=SUPPORTED_PYTHONS)
def python(request: pytest.FixtureRequest) -> str:
    found = find_python(request.param)
    if found is None:  # every supported Python must be proven, so a missing one fails
        pytest.fail(f"Python {request.param} is on neither PATH nor pyenv (pyenv install {request.param})")
    return found


@pytest.fixture
def lone_pyz(pyz: Path, tmp_path: Path) -> Path:
    """The pyz copied alone into an empty directory, the way a runner downloads it."""
    folder = tmp_path / "download"
    folder.mkdir()
    return Path(shutil.copy(pyz, folder))


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    """A copy of fake_agent.py far from the repository, so it imports beacon from the pyz alone."""
    folder = tmp_path / "agent" / "bin"  # fake_agent.py puts its parent's parent on sys.path
    folder.mkdir(parents=True)
    return Path(shutil.copy(FAKE_AGENT, folder))


def run_pyz(python: str, pyz: Path, env: Dict[str, str], *argv: str) -> Run:
    """python -I -S beacon.pyz ARGV: isolated, with no site-packages, from the pyz's folder."""
    done = run([python, "-I", "-S", pyz.name, *argv], env=env, cwd=pyz.parent)
    log = Path(env["RUNNER_TEMP"]) / "beacon" / "runtime.jsonl"
    return Run(done.returncode, done.stdout, done.stderr, log)


def agent_command(python: str, agent: Path) -> List[str]:
    return [python, "-S", str(agent)]  # -S: beacon can come only from PYTHONPATH, the pyz


def agent_environ(env: Dict[str, str], pyz: Path) -> Dict[str, str]:
    return {**env, "PYTHONPATH": str(pyz)}


def assert_one_session_captured(run: Run) -> None:
    """The agent's whole session is in the log, as this capture's, with its secret redacted."""
    assert run.result["events"] == {"claude_code": EVENTS_PER_SESSION}
    assert len(run.events) == EVENTS_PER_SESSION
    assert {event["capture"]["id"] for event in run.events} == {run.result["capture_id"]}
    assert SYNTHETIC_SECRET not in run.log.read_text()


def test_pyz_selftest(python: str, lone_pyz: Path, tmp_path: Path) -> None:
    selftest = run_pyz(python, lone_pyz, environ(tmp_path), "ci", "selftest")
    assert selftest.code == 0, selftest.stderr
    assert "selftest passed" in selftest.stderr


def test_pyz_exec(python: str, lone_pyz: Path, agent: Path, tmp_path: Path) -> None:
    env = agent_environ(environ(tmp_path), lone_pyz)  # exec passes it on to the agent
    exec_run = run_pyz(
        python,
        lone_pyz,
        env,
        "ci",
        "exec",
        "--json",
        "--harness",
        "claude",
        "--",
        *agent_command(python, agent),
    )
    assert exec_run.code == 0, exec_run.stderr
    assert_one_session_captured(exec_run)


def test_pyz_start_and_finish(python: str, lone_pyz: Path, agent: Path, tmp_path: Path) -> None:
    # No PYTHONPATH for beacon: the detached receiver must start from the pyz by itself.
    env = environ(tmp_path)
    start = run_pyz(python, lone_pyz, env, "ci", "start", "--harness", "claude")
    assert start.code == 0, start.stderr
    exports = {key: value for key, value in exports_from(start.stdout).items() if value}
    agent_run = run(agent_command(python, agent), env=agent_environ({**env, **exports}, lone_pyz))
    assert agent_run.returncode == 0, agent_run.stderr
    finish = run_pyz(python, lone_pyz, env, "ci", "finish", "--json")
    assert finish.code == 0, finish.stderr
    assert_one_session_captured(finish)


# --- the wheel and the sdist ----------------------------------------------------------------


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """The sdist, and the wheel built from it (as `python -m build` does), with the test venv's
    setuptools: --no-isolation, since build isolation would fetch setuptools from the index."""
    out_dir = tmp_path_factory.mktemp("dists")
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", out_dir, ROOT]
    built = run(build, env=dict(os.environ))
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,), (sdist,) = out_dir.glob("*.whl"), out_dir.glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="session")
def wheel(dists: Tuple[Path, Path]) -> Path:
    return dists[0]


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a fresh venv with no package index; the venv's bin folder."""
    tmp_path = tmp_path_factory.mktemp("installed")
    venv = tmp_path / "venv"
    env = offline_environ(tmp_path)
    created = run([sys.executable, "-m", "venv", venv], env=env)
    assert created.returncode == 0, created.stderr
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check"]
    installing = run([*pip, "install", "--no-index", wheel], env=env)
    assert installing.returncode == 0, installing.stdout + installing.stderr
    return venv / "bin"


def test_the_wheel_needs_nothing_at_run_time(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
        runtime = [n for n in archive.namelist() if ".dist-info/" not in n]
    requirements = metadata.get_all("Requires-Dist") or []
    assert [r for r in requirements if "extra ==" not in r] == []  # only the extras (s3, gcs, test) require
    assert sorted(runtime) == shipped_sources()  # the same modules as the pyz


def test_the_sdist_holds_what_the_wheel_is_built_from(dists: Tuple[Path, Path]) -> None:
    with tarfile.open(dists[1]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", *shipped_sources()} <= names


def test_the_installed_console_script(installed: Path, tmp_path: Path) -> None:
    selftest = run([installed / "beacon", "ci", "selftest"], env=environ(tmp_path))
    assert selftest.returncode == 0, selftest.stderr


@pytest.fixture
def pipx_environ(tmp_path: Path) -> Dict[str, str]:
    """Everything pipx keeps goes under tmp_path. Offline, pipx needs its shared-libraries
    upgrade turned off: it would otherwise reinstall pip from the index into its shared venv
    and fail; ensurepip's bundled pip is used instead."""
    pipx_home = tmp_path / "pipx"
    return offline_environ(
        tmp_path,
        PIPX_HOME=str(pipx_home),
        PIPX_BIN_DIR=str(pipx_home / "bin"),
        PIPX_MAN_DIR=str(pipx_home / "man"),
        PIPX_DISABLE_SHARED_LIBS_AUTO_UPGRADE="1",
        PIPX_DEFAULT_BACKEND="pip",
    )  # not uv, were it on PATH: uv has other offline rules


def test_the_distribution_is_beacon_ci_with_two_names_for_one_entry(wheel: Path) -> None:
    """`beacon` on PyPI is another project's: ours is beacon-ci, which installs both commands."""
    assert wheel.name == f"beacon_ci-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")).rpartition("/")[0]
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert metadata["Name"] == "beacon-ci"
    assert entry_points.split() == [
        "[console_scripts]",
        "beacon",
        "=",
        "beacon:main",
        "beacon-ci",
        "=",
        "beacon:main",
    ]


@pytest.mark.parametrize("argv", [("ci", "selftest"), ("--version",)])
def test_pipx_runs_the_wheel_offline_as_beacon_ci(
    wheel: Path, pipx_environ: Dict[str, str], argv: Tuple[str, ...]
) -> None:
    """`pipx run beacon-ci ...`, with the wheel standing in for the index."""
    pipx_run = [sys.executable, "-m", "pipx", "run", "--pip-args=--no-index", "--spec", wheel]
    done = run([*pipx_run, "beacon-ci", *argv], env=pipx_environ)
    assert done.returncode == 0, done.stdout + done.stderr
    if argv == ("--version",):
        assert done.stdout.strip() == VERSION_LINE
    else:
        assert "selftest passed" in done.stderr


def test_pipx_install_gives_the_beacon_command(wheel: Path, pipx_environ: Dict[str, str]) -> None:
    pipx = [sys.executable, "-m", "pipx"]
    installing = run([*pipx, "install", "--pip-args=--no-index", wheel], env=pipx_environ)
    assert installing.returncode == 0, installing.stdout + installing.stderr
    bin_dir = Path(pipx_environ["PIPX_BIN_DIR"])
    for command in ("beacon", "beacon-ci"):
        version = run([bin_dir / command, "--version"], env=pipx_environ)
        assert (version.returncode, version.stdout.strip()) == (0, VERSION_LINE), version.stderr


def test_one_version_everywhere(pyz: Path, installed: Path, tmp_path: Path) -> None:
    env = environ(tmp_path)
    versions = {
        "beacon.py": run([sys.executable, ROOT / "beacon.py", "--version"], env=env).stdout.strip(),
        "beacon.pyz": run([sys.executable, pyz, "--version"], env=env).stdout.strip(),
        "the wheel's beacon": run([installed / "beacon", "--version"], env=env).stdout.strip(),
        "the wheel's beacon-ci": run([installed / "beacon-ci", "--version"], env=env).stdout.strip(),
    }
    assert versions == dict.fromkeys(versions, VERSION_LINE)
