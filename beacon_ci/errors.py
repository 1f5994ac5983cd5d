"""Exit codes and the one error type beacon reports: a BeaconError is one `beacon:` line and
its exit code (ARCHITECTURE.md "Command surface").
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_VALIDATION = 3
EXIT_EXPORT = 4
EXIT_FINDINGS = 5  # a finding at or above --fail-on, or a budget gone over
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: stdout's reader went away, as a shell reports it


class BeaconError(Exception):
    """An error beacon reports as one `beacon:` line and maps to an exit code."""

    exit_code = EXIT_ERROR


class UsageError(BeaconError):
    exit_code = EXIT_USAGE
