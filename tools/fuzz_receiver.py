"""Fuzz beacon_otlp's OTLP/HTTP receiver for as long as asked: the cases of tests/fuzz_receiver.py
(tests/test_receiver_fuzz.py runs a few thousand of them), each on a new loopback connection to
one Receiver, with a valid canary request every 500 cases and after the last.

    .venv/default/bin/python tools/fuzz_receiver.py --cases 100000 --seed 1

Prints one JSON summary on stdout: cases, answers by status, unanswered (all, and complete
cases among them, which must be none), violations of the receiver contract (by case kind, and
the first --keep offending cases with their bytes), the receiver's internal errors and
exceptions escaping a handler, seconds and cases/s. Progress goes to stderr. Exits 1 when
anything broke the contract, else 0. A case is rebuilt with fuzz_receiver.case(seed, index).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]  # tests/ first: this file has the module's name

import fuzz_receiver as fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="how many cases (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    parser.add_argument("--start", type=int, default=0, help="the first case's index (default 0)")
    parser.add_argument("--keep", type=int, default=20, help="offending cases to list (default 20)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args()

    def progress(done: int) -> None:
        if not args.quiet and (done % 5000 == 0 or done == args.cases):
            print(f"fuzz_receiver: {done}/{args.cases} cases", file=sys.stderr, flush=True)

    tally = fuzz.Tally()
    with fuzz.fuzz_receiver(tally) as (receiver, escaped):
        summary = fuzz.run(
            receiver, tally, args.seed, args.cases, args.start, keep=args.keep, progress=progress
        )
    summary["handler_exceptions"] = len(escaped)
    summary["first_handler_exception"] = escaped[0] if escaped else None
    broken = (
        summary["violations"]
        or summary["unanswered_complete"]
        or summary["no_status_line"]
        or summary["internal_errors"]
        or summary["retryable_statuses"]
        or summary["handler_exceptions"]
        or summary["canary_failures"]
        or summary["consumed_batches"] != summary["answered_200"]
    )
    summary["contract_kept"] = not broken
    print(json.dumps(summary, indent=2))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
