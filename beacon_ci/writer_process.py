"""The capture's second process: protect, write and count the events beside the receiver.

CPython runs one thread at a time. The receiver's threads (reading, decoding and normalizing
requests) and the work after them (protection, the log line, validation's tally, the summary
and the findings) would take turns on one core; in a process of its own the second half runs
on another core, and a capture keeps up with more records a second. The capture process sends
each batch of normalized events over a pipe and, at the end, asks for what was written, counted
and folded. Both ends are this beacon: the messages are pickles. The envelope objects every
event shares go by name (persistent ids), so the writer protects them once (Protector.seal).

The writer starts with the first batch: a capture that receives nothing starts none. It
ignores the signals a cancelled job sends (the capture process decides when it ends, and
drains first): it writes what it was sent and ends when the pipe closes, also when the capture
process was killed.
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import signal
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any, Dict, List, NamedTuple, Optional

from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_OK

WRITE = ["ci", "_write"]  # the writer process's command line: not a command for people


class WriterSetup(NamedTuple):
    """What the writer needs: where to write, what to redact, the envelope to seal."""

    log_path: str
    token: str  # the receiver's: redacted wherever it appears, as every secret of the environment
    rules: Any  # beacon_protect.custom.CustomRules, or None
    shared_parts: Dict[str, Dict[str, Any]]  # name -> an envelope object every event holds


class WriterResult(NamedTuple):
    """What the writer wrote, counted and folded: eventlog.Tally, report.summary.Summary,
    findings.fold.FindingsFold, its EventWriter's failures, and what the process used."""

    tally: Any
    summary: Any
    findings: Any
    write_failures: int
    write_error: Optional[str]
    resources: Dict[str, float]  # peak_rss_mb, cpu_seconds


class _EnvelopePickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, names: Dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.names = names

    def persistent_id(self, obj: Any) -> Optional[str]:
        return self.names.get(id(obj)) if type(obj) is dict else None


class _EnvelopeUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, parts: Dict[str, Dict[str, Any]]) -> None:
        super().__init__(file)
        self.parts = parts

    def persistent_load(self, name: Any) -> Dict[str, Any]:
        return self.parts[name]


class RemoteSink:
    """The capture process's end: starts the writer, sends it batches, gets its result."""

    def __init__(self, env: Environment, setup: WriterSetup) -> None:
        self._names = {id(part): name for name, part in setup.shared_parts.items()}
        ours, theirs = os.pipe(), os.pipe()  # (ours: writer -> us), (theirs: us -> writer)
        self.process = subprocess.Popen(
            [sys.executable, env.program, *WRITE, "--read-fd", str(theirs[0]), "--write-fd", str(ours[1])],
            env=dict(env.environ),
            stdin=subprocess.DEVNULL,
            pass_fds=(theirs[0], ours[1]),
            close_fds=True,
        )
        os.close(theirs[0])
        os.close(ours[1])
        self._to_writer = Connection(theirs[1], readable=False)
        self._from_writer = Connection(ours[0], writable=False)
        self._to_writer.send_bytes(pickle.dumps(setup, pickle.HIGHEST_PROTOCOL))

    def write(self, events: List[Dict[str, Any]]) -> None:
        buffer = io.BytesIO()
        _EnvelopePickler(buffer, self._names).dump(events)
        self._to_writer.send_bytes(buffer.getbuffer())

    def close(self) -> WriterResult:
        """Everything sent is written: the writer's result. BeaconError-free: a writer that died
        is an OSError or EOFError here, which the caller reports."""
        try:
            self._to_writer.close()  # end of events
            result: WriterResult = pickle.loads(self._from_writer.recv_bytes())
            return result
        finally:
            self._from_writer.close()
            self.process.wait()

    def abandon(self) -> None:
        """The writer failed: close our ends and reap it (it ends when its pipe closes)."""
        for end in (self._to_writer, self._from_writer):
            try:
                end.close()
            except OSError:
                pass
        self.process.wait()


def serve_writer(read_fd: int, write_fd: int) -> int:
    """The writer process: protect, write and count every batch until the pipe closes."""
    from beacon_ci.eventlog import EventWriter
    from beacon_ci.sink import EventSink
    from beacon_protect import Protector, secret_values_from_env

    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    incoming, outgoing = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    setup: WriterSetup = pickle.loads(incoming.recv_bytes())
    # The environment is the capture's own (RemoteSink passes it whole): its secrets are these.
    protector = Protector(secret_values_from_env(os.environ, [setup.token]), setup.rules)
    protector.seal(*setup.shared_parts.values())
    sink = EventSink(protector, EventWriter(setup.log_path))
    try:
        while True:
            try:
                message = incoming.recv_bytes()
            except EOFError:
                break
            sink.write(_EnvelopeUnpickler(io.BytesIO(message), setup.shared_parts).load())
    finally:
        sink.writer.close()
    result = WriterResult(
        sink.tally, sink.summary, sink.findings, sink.writer.failed, sink.writer.last_error, _resources()
    )
    try:
        outgoing.send_bytes(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))
    except OSError:  # the capture process is gone (killed): what it sent is written all the same
        pass
    return EXIT_OK


def _resources() -> Dict[str, float]:
    """This process's peak memory and processor time, as the capture's result reports them."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "peak_rss_mb": round(usage.ru_maxrss * 1024 / 1e6, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }
