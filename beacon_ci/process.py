"""The agent's process: run it in its own process group with beacon's stdio, forward signals
to the group, hand it the terminal when beacon has one, and give back its exit code.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from beacon_ci.errors import UsageError

FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP, recorded from now on for a main thread that waits for one.
    The handler only records: it takes no lock, for it runs between two bytecodes of the main
    thread, which may hold the very lock that threading.Event.set() would need (a deadlock).
    The byte the interpreter writes to the wakeup socket for each signal ends the wait."""

    def __init__(self) -> None:
        self.received: List[int] = []
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        signal.set_wakeup_fd(self._write.fileno())
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, lambda signum, _frame: self.received.append(signum))

    def wait(self, timeout: float) -> bool:
        """Whether a signal came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if select.select([self._read], [], [], left)[0]:
                try:
                    self._read.recv(512)
                except OSError:
                    pass
        return True


def resolve_command(command: Sequence[str], environ: Mapping[str, str]) -> List[str]:
    if not command:
        raise UsageError("ci exec needs a command: beacon ci exec -- COMMAND [ARG...]")
    program = command[0]
    found = shutil.which(program, path=environ.get("PATH", os.defpath)) if os.sep not in program else program
    if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise UsageError(f"command not found or not executable: {program}")
    return [program, *command[1:]]


class ChildExit(NamedTuple):
    code: int  # 128+N when a signal N killed it
    signal_received: Optional[int]  # the first signal beacon received (and forwarded)
    killed_by: Optional[int]  # the signal that killed the child

    def describe(self) -> str:
        """How the command ended, in words."""
        if self.killed_by is not None:
            return f"the command was killed by {signal_name(self.killed_by)}"
        return f"the command exited {self.code}"

    def as_json(self) -> Dict[str, Any]:
        return {
            "exit_code": self.code,
            "killed_by": signal_name(self.killed_by) if self.killed_by is not None else None,
            "signal_received": signal_name(self.signal_received)
            if self.signal_received is not None
            else None,
        }


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_child(command: Sequence[str], child_env: Mapping[str, str]) -> ChildExit:
    """Run the child in its own process group with our stdio; forward SIGINT/SIGTERM/SIGHUP to
    the group. Returns its exit code (128+N for a signal death) and the signals involved."""
    # A group of its own in beacon's session (not a session of its own): it keeps the terminal.
    # Before 3.11, preexec_fn is the only way; os.setpgrp is a bare system call, safe to make there.
    options: Dict[str, Any] = (
        {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    )
    terminal = foreground_terminal()
    try:
        child = subprocess.Popen(list(command), env=dict(child_env), **options)
    except OSError as exc:
        raise UsageError(f"cannot run {command[0]}: {exc.strerror}") from None
    received: List[int] = []

    def forward(signum: int, _frame: Any) -> None:
        received.append(signum)
        try:
            os.killpg(child.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS} if in_main_thread else {}
    try:
        if terminal is not None:
            give_terminal(terminal, child.pid)
            code = wait_in_foreground(child, terminal)
        else:
            code = child.wait()
    finally:
        if terminal is not None:
            take_terminal_back(terminal, child.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    killed_by = -code if code < 0 else None
    return ChildExit(128 + killed_by if killed_by else code, received[0] if received else None, killed_by)


def foreground_terminal() -> Optional[int]:
    """The descriptor (stdin, stdout or stderr) of beacon's terminal when beacon's process group
    is its foreground group; None without a terminal or when beacon runs in the background."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return fd
        except OSError:  # not our controlling terminal
            continue
    return None


def give_terminal(fd: int, pgid: int) -> None:
    """Make the child's group the terminal's foreground: a background group is stopped
    (SIGTTIN, SIGTTOU) as soon as it reads the terminal or changes its modes. Keys such as
    Ctrl-C then signal the child's group directly, as they would without beacon."""
    set_foreground(fd, pgid)
    # It may have read the terminal before it got it, and been stopped: continue it. A process
    # that was not stopped ignores SIGCONT (unless it handles it).
    continue_group(pgid)


def take_terminal_back(fd: int, pgid: int) -> None:
    """Make beacon's group the foreground again, if the child's group still is (when the shell
    runs beacon in the background, bg, the shell has the terminal and keeps it)."""
    try:
        holder = os.tcgetpgrp(fd)
    except OSError:
        return
    if holder == pgid:
        set_foreground(fd, os.getpgrp())


def continue_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass


def wait_in_foreground(child: subprocess.Popen[Any], terminal: int) -> int:
    """child.wait() for a child that has the terminal. When it is stopped (Ctrl-Z), beacon
    stops with the same signal, so that the shell sees its job stopped; continued by the shell,
    beacon continues the child: in the foreground (fg) with the terminal, else (bg) without."""
    while True:
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            break
        take_terminal_back(terminal, child.pid)
        os.kill(os.getpid(), os.WSTOPSIG(status))  # returns once continued
        if foreground_terminal() == terminal:
            give_terminal(terminal, child.pid)
        else:
            continue_group(child.pid)
    child.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return child.returncode


def set_foreground(fd: int, pgid: int) -> None:
    """tcsetpgrp, from the background too: there it raises SIGTTOU, which would stop beacon
    (blocked meanwhile). A terminal that has gone away (hung up) is left alone."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
