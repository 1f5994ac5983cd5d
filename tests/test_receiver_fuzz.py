"""The receiver under fuzz: a few thousand deterministic cases from tests/fuzz_receiver.py, each
on a new loopback connection to one Receiver, then a valid request. Every answer must keep the
receiver contract (ARCHITECTURE.md); a failure lists the first offending cases, each of which
fuzz_receiver.case(SEED, index) rebuilds. Longer runs: tools/fuzz_receiver.py --cases 100000.
"""

from __future__ import annotations

import json

import fuzz_receiver as fuzz

SEED = 1
CASES = 5000  # about 20 s on two cores


def test_every_fuzz_case_gets_the_contract_answer() -> None:
    tally = fuzz.Tally()
    with fuzz.fuzz_receiver(tally) as (receiver, escaped):
        summary = fuzz.run(receiver, tally, seed=SEED, n=CASES, keep=8)
        # After all that, on a new connection: a valid request is served and its records counted.
        data, records = fuzz.canary(CASES)
        before = tally.records
        outcome = fuzz.send_case(receiver.port, data)
        assert (outcome.statuses, outcome.problem) == ((200,), "")
        assert tally.wait_for(lambda: CASES in tally.canaries)
        assert tally.records == before + records
        stats = receiver.stats.snapshot()

    offending = summary.pop("offending")
    report = json.dumps(summary, indent=1) + "\nfirst offending cases:\n" + "\n".join(offending)
    assert summary["violations"] == 0, report
    assert summary["unanswered_complete"] == 0, report
    assert summary["no_status_line"] == 0, report
    assert set(summary["by_status"]) <= {str(s) for s in fuzz.ALLOWED} | {"unanswered"}, report
    assert summary["internal_errors"] == 0 and "internal_error" not in stats["rejected"], report
    assert summary["retryable_statuses"] == 0, report
    assert escaped == [], "exceptions escaped a connection handler:\n" + "\n".join(escaped[:3])
    assert summary["canary_failures"] == [], report
    # Every request answered 200 reached the consumer, with every record the stats count.
    assert summary["consumed_batches"] == summary["answered_200"], report
    assert summary["consumed_records"] == summary["counted_records"], report
    # The run reached every family, and every answer the fuzz is meant to draw.
    assert len(summary["by_family"]) == len(fuzz.FAMILIES), report
    assert {"200", "400", "401", "404", "405", "413", "415", "unanswered"} <= set(summary["by_status"]), (
        report
    )


def test_the_cases_are_deterministic_and_well_formed() -> None:
    """A case is rebuilt from (seed, index) alone, and knows whether it must be answered."""
    for index in range(200):
        first, again = fuzz.case(SEED, index), fuzz.case(SEED, index)
        assert first == again
        assert first.kind.split("/")[0] in dict(fuzz.FAMILIES)
        assert first.complete == fuzz.first_request_complete(first.data)
    assert fuzz.first_request_complete(fuzz.canary(0)[0])
    assert not fuzz.first_request_complete(b"POST /v1/logs HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc")
    assert fuzz.first_request_complete(b"POST /v1/logs HTTP/1.1\r\nContent-Length: x\r\n\r\n")
    assert not fuzz.first_request_complete(
        b"POST /v1/logs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    )
    assert fuzz.first_request_complete(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nab")
    assert not fuzz.first_request_complete(b"\r\n\r\n")
