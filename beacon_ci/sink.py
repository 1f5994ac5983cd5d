"""The stages after normalize: protect, write, count and fold (and forward) each batch of a
capture's events, in the capture's process or in its writer process (writer_process.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple

from beacon_ci.eventlog import EventWriter, Tally, read_log, schema_problem, to_each
from beacon_ci.report.summary import Summary

if TYPE_CHECKING:
    from beacon_protect import Protector


class EventSink:
    """The stages after normalize: protect, write, count and fold (and forward) each batch of
    events. In the capture's process, or in the writer process beside it (writer_process.py)."""

    def __init__(self, protector: Protector, writer: EventWriter, forwarder: Any = None) -> None:
        from beacon_ci.findings.fold import FindingsFold

        self.protector, self.writer = protector, writer
        self.forwarder = forwarder  # an export.forward.Forwarder: gets every event the log got
        self.tally = Tally()  # what the writer wrote, counted as it wrote it: validation's input
        self.summary = Summary()  # and the summary's, folded as written (see eventlog.Tally)
        self.findings = FindingsFold()  # and the findings'

    def write(self, events: Iterable[Dict[str, Any]]) -> None:
        protected: List[Dict[str, Any]] = []
        try:
            for event in events:
                protected.append(self.protector.protect_event(event))
        finally:  # a bug in one record must not lose the records before it
            written = protected[: self.writer.write_all(protected)]  # one write for the batch
            self._count(written)
        if self.forwarder is not None and written:
            self.forwarder.submit(written)  # as they arrive: a cancelled job still delivered these

    def _count(self, written: List[Dict[str, Any]]) -> None:
        """Validation's tally, the summary and the findings, folded as the events are written."""
        tally, summary, findings = self.tally, self.summary, self.findings
        for event in written:
            problem = schema_problem(event)
            if problem:  # never from the normalizer; the check costs a microsecond
                tally.bad(tally.events + tally.bad_lines + 1, problem)
            else:
                tally.count(event)
                summary.add(event)
                findings.add(event)


def read_back(log_path: str, capture_id: Optional[str]) -> Tuple[Tally, Summary, Any]:
    """What a sink counts and folds (tally, summary, findings.fold.FindingsFold), read back from
    the log line by line, this capture's lines only: for a writer that did not report its own
    (a writer process or a session receiver that died)."""
    from beacon_ci.findings.fold import FindingsFold

    tally, summary, findings = Tally(), Summary(), FindingsFold()
    read_log(log_path, capture_id, tally, to_each(summary.add, findings.add))
    return tally, summary, findings
