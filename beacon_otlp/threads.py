"""Background threads that leave the process's signals to its main thread."""

from __future__ import annotations

import signal
import threading
from typing import Callable

# What a runner or a terminal sends to stop a job (the application's handlers decide what to do).
_PROCESS_SIGNALS = {
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
}


def background_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread (not started) that blocks SIGINT, SIGTERM and SIGHUP, as do the threads it
    starts. The kernel hands a process's signal to any thread that does not block it, and Python
    runs handlers only in the main thread: one that arrived in another thread while the main
    thread waits in a system call (waitpid, a lock) would wait with it, for hours, when the
    kernel picked another thread (it does, for one continued after SIGSTOP)."""

    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _PROCESS_SIGNALS)
        target()

    return threading.Thread(target=run, name=name, daemon=True)
