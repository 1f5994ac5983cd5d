"""The outside world a command sees: environment variables, standard streams, the clock and the
program that runs beacon. Tests pass their own, so commands run in-process, fast and
deterministic."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Dict, Mapping, Optional, TextIO


class Environment:
    """What a command may read from the outside world: variables, streams, clock, program."""

    def __init__(
        self,
        environ: Optional[Mapping[str, str]] = None,
        stdout: Optional[TextIO] = None,
        stderr: Optional[TextIO] = None,
        clock: Callable[[], float] = time.time,
        program: Optional[str] = None,
    ) -> None:
        self.environ: Dict[str, str] = dict(os.environ if environ is None else environ)
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.clock = clock
        self.program = program or door_path()  # what `python3 PROGRAM ci _serve` runs

    def say(self, message: str) -> None:
        """A human message: stderr, prefixed, so stdout stays the child's and --json's."""
        print(f"beacon: {message}", file=self.stderr, flush=True)


def door_path() -> str:
    """The file that starts this beacon: the zipapp (beacon.pyz) the package was imported from,
    else the beacon.py beside the package (a clone, or a wheel's site-packages)."""
    package = os.path.dirname(os.path.abspath(__file__))
    archive = getattr(getattr(__spec__, "loader", None), "archive", None)  # zipimport sets .archive
    return archive or os.path.join(os.path.dirname(package), "beacon.py")
