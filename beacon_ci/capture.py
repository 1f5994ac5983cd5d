"""The capture: receiver -> normalize -> protect -> write, for one capture id, with the child's
environment that points every configured agent at the receiver.
"""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from beacon_ci.agents import claude_settings
from beacon_ci.agents.codex import user_codex_home, write_codex_home
from beacon_ci.agents.setup import child_environment
from beacon_ci.context import (
    DRAIN_TIMEOUT,
    CaptureContext,
    CapturePaths,
    claude_settings_prefix,
    codex_home_prefix,
    new_capture_id,
    private_dir,
    private_temp_dir,
    remove_private_temp_dir,
)
from beacon_ci.environment import Environment
from beacon_ci.eventlog import (
    EventWriter,
    Tally,
    Validation,
    diagnose_receiver,
    reasons,
    validate_written,
)
from beacon_ci.export import start_forwarder
from beacon_ci.report.summary import Summary
from beacon_ci.report.text import count_of
from beacon_ci.sink import EventSink, read_back
from beacon_otlp import Batch, Receiver

if TYPE_CHECKING:  # built with the first batch (see CapturePipeline)
    from beacon_ci.agents.normalizer import Normalizer
    from beacon_ci.writer_process import RemoteSink
    from beacon_protect.custom import CustomRules

# The receiver's queue of decoded batches (receiver.py): what a capture may hold before the
# writer has caught up. Decoded batches take about four times their bodies' bytes: at most about
# 17 MB, so that both processes stay under 80 MB whatever the session's size.
QUEUED_BYTES = 1024 * 1024
HARD_QUEUED_BYTES = 4 * 1024 * 1024

# Once the child has exited, what it sent drains in milliseconds: a drain still going after
# this waits for a process that still runs (a background one), and silence would look like a hang.
DRAIN_NOTICE_AFTER = 2.0


class CapturePipeline:
    """The receiver's consumer for one capture. Runs on the receiver's single consumer thread:
    normalizes each batch and hands the events to the sink, this process's own EventSink, or
    the writer process's (`env` given and nothing forwarded, whose TLS context stays here).

    The normalizer and the sink are built with the first batch, on this thread: a capture that
    receives nothing (a command that runs no agent) never loads them, and the agent starts
    without waiting for protection's patterns to compile. The exact secrets are those of
    `environ`, the environment the capture started with; `rules` the user's own (custom.py).
    After close(), tally, summary and findings hold what was written, wherever it was."""

    def __init__(
        self,
        context: CaptureContext,
        clock: Callable[[], float],
        environ: Mapping[str, str],
        token: str,
        writer: EventWriter,
        rules: Optional[CustomRules] = None,
        env: Optional[Environment] = None,
    ) -> None:
        self.context, self.clock, self.environ, self.token = context, clock, environ, token
        self.rules, self.writer, self.env = rules, writer, env
        self.forwarder: Any = None
        self.normalizer: Optional[Normalizer] = None
        self.sink: Any = None  # an EventSink, or a writer_process.RemoteSink
        self.remote: Optional[RemoteSink] = None  # the writer process, once it failed or closed
        self.writer_lost: Optional[str] = None  # why the writer process failed, if it did
        self.tally, self.summary = Tally(), Summary()
        self.findings: Any = None  # a findings.fold.FindingsFold, from the first batch on
        self.write_failures = 0
        self.write_error: Optional[str] = None
        self.writer_resources: Optional[Dict[str, float]] = None  # the writer process's, if it ran

    def __call__(self, batch: Batch) -> None:
        self._send(self.stages().events(batch))

    def flush(self) -> None:
        """Write the events still waiting for their tool call's record or span (agents/spans.py):
        the capture is ending. On the consumer's thread, or after the receiver has stopped."""
        if self.normalizer is not None:
            self._send(iter(self.normalizer.flush()))

    def _send(self, events: Iterator[Dict[str, Any]]) -> None:
        if isinstance(self.sink, EventSink):
            self.sink.write(events)
            return
        normalized: List[Dict[str, Any]] = []
        try:
            normalized.extend(events)
        finally:  # a bug in one record must not lose the records before it
            try:
                self.sink.write(normalized)
            except (OSError, EOFError) as exc:  # the writer process died: write here from now on
                self.writer_lost = f"{type(exc).__name__}: {exc}"
                self.remote, self.sink = self.sink, self._local_sink()
                self.sink.write(normalized)

    def stages(self) -> Normalizer:
        if self.normalizer is None:
            from beacon_ci.agents.normalizer import Normalizer

            self.normalizer = Normalizer(self.context, self.clock)
            self.sink = self._remote_sink() if self.env is not None and self.forwarder is None else None
            if self.sink is None:
                self.sink = self._local_sink()
        return self.normalizer

    def _local_sink(self) -> EventSink:
        from beacon_protect import Protector, secret_values_from_env

        assert self.normalizer is not None
        protector = Protector(secret_values_from_env(self.environ, [self.token]), self.rules)
        protector.seal(*self.normalizer.shared_parts())
        return EventSink(protector, self.writer, self.forwarder)

    def _remote_sink(self) -> Optional[RemoteSink]:
        from beacon_ci.writer_process import RemoteSink, WriterSetup  # only a capture with events

        assert self.normalizer is not None and self.env is not None
        parts = {str(n): part for n, part in enumerate(self.normalizer.shared_parts())}
        try:
            return RemoteSink(self.env, WriterSetup(self.writer.path, self.token, self.rules, parts))
        except OSError:  # no process to spare: the capture goes on in this one
            return None

    def close(self) -> None:
        """After the last batch: what was written, counted and folded, wherever it was. A writer
        process that died leaves what it wrote in the log: read back, its own capture's lines."""
        sink = self.sink
        if isinstance(sink, EventSink):
            self.tally, self.summary, self.findings = sink.tally, sink.summary, sink.findings
            self.write_failures, self.write_error = sink.writer.failed, sink.writer.last_error
        elif sink is not None:  # the writer process
            self.remote = sink
            try:
                result = sink.close()
            except (OSError, EOFError) as exc:
                self.writer_lost = f"{type(exc).__name__}: {exc}"
            else:
                self.tally, self.summary, self.findings = result.tally, result.summary, result.findings
                self.write_failures, self.write_error = result.write_failures, result.write_error
                self.writer_resources = result.resources
                return
        if self.remote is not None and self.writer_lost:  # what the log holds is what counts
            self.remote.abandon()
            self.tally, self.summary, self.findings = read_back(self.writer.path, self.context.capture_id)

    def folded_findings(self) -> Dict[str, Any]:
        """What the findings fold found (nothing before a first batch)."""
        return self.findings.result() if self.findings is not None else {}

    def record_counts(self) -> Dict[str, int]:
        """What the normalizer did not write as events of their own (none before a first batch)."""
        normalizer = self.normalizer
        return {
            "spans_received": normalizer.spans_seen if normalizer else 0,
            "records_dropped_as_noise": normalizer.dropped if normalizer else 0,
            "records_unmapped": normalizer.unmapped if normalizer else 0,
        }


class Capture:
    """One capture: its ids, token, paths, receiver and pipeline, and the child's settings."""

    def __init__(
        self,
        env: Environment,
        harnesses: Sequence[str],
        paths: CapturePaths,
        mode: str,
        protocol: str = "protobuf",
        capture_id: Optional[str] = None,
        token: Optional[str] = None,
        forward: Any = None,  # an export.endpoint.ForwardPlan
        rules: Optional[CustomRules] = None,
        traceparent: Optional[str] = None,
        trusted_uids: Sequence[int] = (),  # users whose exports need no token (ci start --agent-user)
    ) -> None:
        self.env, self.harnesses, self.paths, self.mode = env, list(harnesses), paths, mode
        self.protocol, self.forward = protocol, forward
        self.forwarded: Any = None  # the export.forward.ForwardResult, once finished
        self.capture_id = capture_id or new_capture_id()
        self.token = token or secrets.token_urlsafe(32)
        self.context = CaptureContext.detect(env.environ, self.capture_id, mode, traceparent)
        log_dir = os.path.dirname(paths.log_path)
        private_dir(log_dir, adopt=log_dir == paths.base_dir)
        self.codex_home: Optional[str] = None  # generated by start, removed by finish
        self.claude_settings: Optional[str] = None  # the same: beacon's `claude --settings` file
        self.claude_pinned: Dict[str, str] = {}  # what those settings give Claude Code
        # Before anything runs: a capture that cannot be written never starts.
        self.writer = EventWriter(paths.log_path)
        self.pipeline = CapturePipeline(
            self.context, env.clock, env.environ, self.token, self.writer, rules, env
        )
        self.receiver = Receiver(
            self.pipeline,
            token=self.token,
            trusted_uids=trusted_uids,
            max_queued_bytes=QUEUED_BYTES,
            hard_queued_bytes=HARD_QUEUED_BYTES,
        )

    def start(self) -> Dict[str, str]:
        """Start receiving; return the environment the agent should run with."""
        if self.forward is not None:
            self.pipeline.forwarder = start_forwarder(self.forward)
        self.receiver.start()
        if "codex" in self.harnesses:
            self.codex_home = private_temp_dir(self.env.environ, codex_home_prefix(self.capture_id))
            write_codex_home(
                self.codex_home,
                user_codex_home(self.env.environ),
                self.receiver.url,
                self.token,
                self.protocol,
            )
        environment = child_environment(
            self.env.environ,
            self.harnesses,
            self.receiver.url,
            self.token,
            self.capture_id,
            self.context.run,
            self.codex_home,
            self.protocol,
            self.context.traceparent,
        )
        if "claude" in self.harnesses:
            environment = self._with_claude_settings(environment)
        return environment

    def _with_claude_settings(self, environment: Dict[str, str]) -> Dict[str, str]:
        """Claude Code's settings files outrank its environment (claude_settings.py): beacon's
        settings also go in a file of their own, which a `claude` first on the child's PATH
        passes with --settings, and which a session names in its claude-args output."""
        folder = private_temp_dir(self.env.environ, claude_settings_prefix(self.capture_id))
        self.claude_pinned = claude_settings.pinned_environment(environment)
        self.claude_settings = claude_settings.write_flag_settings(folder, self.claude_pinned)
        shims = claude_settings.write_shim(folder, self.claude_settings)
        return {**environment, "PATH": shims + os.pathsep + environment.get("PATH", os.defpath)}

    def claude_overrides(self) -> List[claude_settings.Override]:
        """The settings files that replace what beacon gives Claude Code (none without Claude)."""
        if not self.claude_settings:
            return []
        return claude_settings.find_overrides(self.env.environ, os.getcwd(), self.claude_pinned)

    def finish(self, drain_timeout: float = DRAIN_TIMEOUT) -> None:
        """Drain what is still arriving, stop the receiver, flush the log, then flush the forward.
        The drain needs no quiet period: once the child has exited, every request it sent is in
        flight, on a connection still open, or in the listen backlog, and wait_idle waits for
        all three."""
        try:
            drained = self._drain(drain_timeout)
        finally:
            # The drain has already waited for the requests in flight: stop() waiting for them
            # again would stretch the drain's limit.
            self.receiver.stop(in_flight_timeout=0)
            try:
                self.pipeline.flush()
            finally:
                self.pipeline.close()
                self.writer.close()
                remove_private_temp_dir(
                    self.codex_home, codex_home_prefix(self.capture_id)
                )  # holds the token
                remove_private_temp_dir(  # and so do these
                    os.path.dirname(self.claude_settings or ""), claude_settings_prefix(self.capture_id)
                )
                if self.pipeline.forwarder is not None:
                    self.forwarded = self.pipeline.forwarder.close()
        if self.pipeline.writer_lost:
            self.env.say(
                f"the writer process failed ({self.pipeline.writer_lost}): this process wrote the "
                "rest, and what the log holds was counted again from it"
            )
        cut_off = self.receiver.cut_off
        if not drained and cut_off.connections:
            self.env.say(
                f"stopped waiting after {drain_timeout:g} s with "
                f"{still_open(cut_off.connections, cut_off.requests)}: events sent on "
                f"{'it' if cut_off.connections == 1 else 'them'} from now on are not captured"
            )

    def _drain(self, timeout: float) -> bool:
        """The drain, at most `timeout` seconds; whether it finished. Said once, when it has not
        finished after DRAIN_NOTICE_AFTER: what it still waits for, and how much longer at most."""
        receiver = self.receiver
        first = min(timeout, DRAIN_NOTICE_AFTER)
        if receiver.wait_idle(quiet=0, timeout=first, until_disconnected=True):
            return True
        if timeout <= first:
            return False
        connections = receiver.open_connections  # none: the drain is ending as we look
        if connections:
            self.env.say(
                f"waiting up to {timeout - first:g} s more for "
                f"{still_open(connections, receiver.in_flight)} (a background process still exporting?)"
            )
        return receiver.wait_idle(quiet=0, timeout=timeout - first, until_disconnected=True)

    def validate(self, min_events: int) -> Validation:
        """Judged from what was written, counted as it was: nothing is read back."""
        return validate_written(
            self.paths.log_path,
            self.pipeline.tally,
            min_events,
            self.harnesses,
            self.capture_id,
            diagnose=self.diagnose,
            write_failures=self.pipeline.write_failures,
            write_error=self.pipeline.write_error,
        )

    def diagnose(self, count: int) -> str:
        return reasons(
            claude_settings.diagnosis(self.claude_overrides()),
            diagnose_receiver(self.receiver.stats.snapshot()),
        )

    def result(self, validation: Validation) -> Dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "trace_id": self.context.trace_id,
            "mode": self.mode,
            "log_path": self.paths.log_path,
            "harnesses": self.harnesses,
            "events": dict(self.pipeline.tally.by_harness),
            "write_failures": self.pipeline.write_failures,
            **self.pipeline.record_counts(),
            "receiver": self.receiver.stats.snapshot(),
            "late": {  # cut off when the capture closed: not captured, not judged by validation
                "requests": self.receiver.cut_off.requests,
                "connections_open_at_close": self.receiver.cut_off.connections,
            },
            **({"writer_process": self.pipeline.writer_resources} if self.pipeline.writer_resources else {}),
            "validation": validation.as_json(),
            **({"forward": self.forwarded.to_json()} if self.forwarded else {}),
        }


def still_open(connections: int, requests: int) -> str:
    """What a drain waits for: "1 open connection from the agent's processes, 1 request in flight"."""
    text = f"{count_of(connections, 'open connection')} from the agent's processes"
    return text + (f", {count_of(requests, 'request')} in flight" if requests else "")
