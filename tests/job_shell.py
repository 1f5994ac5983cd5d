"""A minimal job-control shell for terminal tests: it leads a session whose controlling
terminal is its stdin, runs COMMAND as a foreground job in a process group of its own with
the terminal as stdin, stdout and stderr, and resumes the job in the foreground whenever it
stops (as `fg` does), or with --bg-first the first time in the background (as `bg` does).
It reports on its stdout, a line each: `started PID` (the job's pid and process group),
`stopped SIGNAL` whenever the job stops, and at the end `exited CODE`.

    python job_shell.py [--bg-first] COMMAND [ARG...]    (started with start_new_session=True)
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import termios


def main() -> int:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a shell hands the terminal over from the background
    command, background_once = sys.argv[1:], sys.argv[1:2] == ["--bg-first"]
    if background_once:
        command = command[1:]
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    job = subprocess.Popen(command, stdin=0, stdout=0, stderr=0, **group)  # type: ignore[call-overload]
    os.tcsetpgrp(0, job.pid)
    print(f"started {job.pid}", flush=True)
    while True:
        _, status = os.waitpid(job.pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            break
        os.tcsetpgrp(0, os.getpgrp())
        print(f"stopped {signal.Signals(os.WSTOPSIG(status)).name}", flush=True)
        if background_once:  # bg
            background_once = False
        else:  # fg
            os.tcsetpgrp(0, job.pid)
        os.killpg(job.pid, signal.SIGCONT)
    job.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(f"exited {job.returncode}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
