"""Any session size in constant memory: validating and summarizing a log, the capture's own
tally, its findings and its HTML page keep bounded state whatever the number of events. Measured with
tracemalloc (what Python allocates), so the tests catch a regression without timing anything."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest

from beacon_ci.eventlog import validate_log
from beacon_ci.findings.config import NO_FINDINGS_CONFIG
from beacon_ci.findings.fold import EVIDENCE_KEPT, FINDINGS_KEPT, FindingsFold
from beacon_ci.findings.judge import judge
from beacon_ci.report.html import ROWS_KEPT, ReportFacts
from beacon_ci.report.summary import FILES_TRACKED, NAMES_KEPT, SUMMARY_KEEP, Summary
from beacon_ci.review import CaptureFolds
from beacon_ci.verdict import write_page

EVENTS = 200_000
PEAK_BYTES = 24 * 1024 * 1024  # a log of 200,000 events held in memory would be about 1 GB


def event(index: int, capture: str = "big") -> Dict[str, Any]:
    """A small but complete event; every one names a new command, file, tool and model."""
    kind = ("command.executed", "file.read", "tool.invoked", "session.activity")[index % 4]
    return {
        "timestamp": f"2026-12-05T03:{index // 60000 % 60:02d}:{index // 1000 % 60:02d}.{index % 1000:03d}Z",
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": "1.0",
        "event": {"kind": "agent_runtime", "action": kind, "id": f"{index:032x}", "outcome": "success"},
        "severity": "info",
        "endpoint": {"hostname": "runner", "os": "linux"},
        "harness": {"name": "claude_code", "version": "2.1.197"},
        "capture": {"id": capture},
        "tool": {"name": f"Tool{index}", "path": f"src/module_{index}.py"},
        "command": {"command": f"pytest tests/test_{index}.py"},
        "file": {"path": f"src/module_{index}.py"},
        "model": f"model-{index}",
        "gen_ai": {"usage": {"input_tokens": 3, "output_tokens": 5}},
    }


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 events of one capture, with another capture's lines and torn lines among them."""
    path = tmp_path_factory.mktemp("scale") / "runtime.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index in range(EVENTS):
            handle.write(json.dumps(event(index)) + "\n")
            if index % 1000 == 0:
                handle.write(json.dumps(event(index, capture="other")) + "\n")
                handle.write('{"torn": \n')
    return path


def peak_of(work: Callable[[], Any]) -> Tuple[Any, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_validating_and_summarizing_a_big_log_keeps_bounded_state(big_log: Path) -> None:
    def work() -> Tuple[Any, Dict[str, Any]]:
        summary = Summary()
        validation = validate_log(str(big_log), 1, ("claude",), "big", on_event=summary.add)
        return validation, summary.result(validation.as_json())

    (validation, summary), peak = peak_of(work)
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert validation.passed and validation.event_count == EVENTS
    assert validation.stages[1].numbers == {"lines": EVENTS, "unparseable_lines_of_other_writers": 200}
    (harness,) = summary["harnesses"]
    assert harness["events"] == EVENTS
    assert harness["counts"]["commands"] == EVENTS // 4 and len(harness["commands"]) == SUMMARY_KEEP
    assert harness["counts"]["files_read"] == EVENTS // 4  # every path differs: each counted once
    # Commands, file reads and tool calls name a tool each: 3 in 4 events, every name new.
    assert len(harness["tools"]) == NAMES_KEPT + 1
    assert harness["tools"]["(other)"] == EVENTS * 3 // 4 - NAMES_KEPT
    assert len(harness["models"]) == NAMES_KEPT + 1


def test_without_a_capture_id_every_line_counts_and_memory_stays_bounded(big_log: Path) -> None:
    validation, peak = peak_of(lambda: validate_log(str(big_log), 1))
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert not validation.passed
    assert validation.stages[1].detail.startswith("line 3: not JSON")
    assert validation.stages[1].numbers == {"bad_lines": 200, "lines": EVENTS + 200 + 200}


def test_writing_the_html_page_of_a_big_log_keeps_bounded_state(big_log: Path, tmp_path: Path) -> None:
    def facts_of(validation: Any) -> ReportFacts:  # the folds' bounds are the tests' above
        summary, judged = CaptureFolds().conclude(NO_FINDINGS_CONFIG, validation)
        return ReportFacts(summary, judged, None, 0, True, None, "runtime.jsonl", 0.0)

    page = tmp_path / "page.html"
    events, peak = peak_of(lambda: write_page(str(page), str(big_log), "big", facts_of))
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert events == EVENTS
    assert page.read_bytes().count(b',"' + b"0" * 16) == ROWS_KEPT  # each shown row's id begins so


def test_a_line_longer_than_any_beacon_writes_is_skipped_in_pieces(tmp_path: Path) -> None:
    path = tmp_path / "runtime.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(event(1)) + "\n")
        handle.write('{"x": "' + "y" * 32_000_000 + '"}\n')  # another writer's 32 MB line
        handle.write(json.dumps(event(2)) + "\n")
    validation, peak = peak_of(lambda: validate_log(str(path), 1, (), "big"))
    assert validation.passed and validation.event_count == 2
    assert validation.stages[1].numbers["unparseable_lines_of_other_writers"] == 1
    assert peak < 8 * 1024 * 1024  # read 1 MiB at a time, never the whole line


def test_files_past_the_tracked_bound_are_counted_again_when_seen_again() -> None:
    summary = Summary()
    reads = [dict(event(4 * i + 1), file={"path": f"f{i}"}) for i in range(FILES_TRACKED + 10)]
    for item in reads + reads[:5] + reads[-5:]:
        summary.add(item)
    (harness,) = summary.result()["harnesses"]
    assert harness["counts"]["files_read"] == FILES_TRACKED + 10 + 5  # the first 5 were tracked


def finding_event(index: int) -> Dict[str, Any]:
    """An event that opens a finding of its own: a new command, workflow file or refusal each."""
    kind = index % 3
    fields: Dict[str, Any] = {"content": {"redacted": True}}
    if kind == 0:
        fields.update(command={"command": f"chmod 777 dir{index}"})
    elif kind == 1:
        fields.update(file={"path": f".github/workflows/w{index}.yml", "operation": "write"})
    else:
        fields.update(tool={"name": "Bash", "command": f"rm -rf build{index}"})
    action = ("command.executed", "file.modified", "approval.denied")[kind]
    base = event(index)
    for key in ("tool", "command", "file", "model", "gen_ai"):
        base.pop(key)
    return {**base, "event": {**base["event"], "action": action}, **fields}


def test_the_findings_fold_keeps_bounded_state() -> None:
    count = EVENTS // 4

    def work() -> Dict[str, Any]:
        fold = FindingsFold()
        for index in range(count):
            fold.add(finding_event(index))
        return judge(fold.result(), NO_FINDINGS_CONFIG, {})

    result, peak = peak_of(work)
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert len(result["findings"]) == FINDINGS_KEPT + 1  # and the one of the redactions
    assert sum(result["omitted"].values()) == count - FINDINGS_KEPT and result["count"] == count + 1
    (secrets,) = [f for f in result["findings"] if f["rule"] == "BCN181"]
    assert secrets["event_count"] == count and len(secrets["events"]) == EVIDENCE_KEPT
