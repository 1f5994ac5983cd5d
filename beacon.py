#!/usr/bin/env python3
"""beacon: record what AI coding agents (Claude Code, Codex CLI, Gemini CLI) do in a CI job.

This file is the door: `python3 beacon.py`, the `beacon` and `beacon-ci` console scripts and
the beacon.pyz zipapp all enter here and hand over to beacon_ci.cli. The program lives in the
packages beside it (see the README's "Layout"):

    beacon_ci/       the application: agents, capture, validation, export, report, CLI
    beacon_protect/  secret protection: sanitize, redact, truncate, line cap
    beacon_otlp/     the OTLP/HTTP wire layer: decoders and receiver

Standard library only. Being modules, they are byte-compiled once and cached, where a script
like this one is compiled on every run: keep it small.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from beacon_ci.environment import Environment


def _find_packages() -> None:
    """`python3 -I beacon.py` leaves this file's folder off sys.path, where the packages are."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(os.path.join(here, "beacon_ci")) and here not in sys.path:
        sys.path.insert(0, here)


def main(argv: Optional[Sequence[str]] = None, env: Optional[Environment] = None) -> int:
    """Run the command line (argv defaults to sys.argv[1:]); return the exit code."""
    _find_packages()
    from beacon_ci.cli import main as cli_main

    return cli_main(argv, env)


if __name__ == "__main__":
    sys.exit(main())
