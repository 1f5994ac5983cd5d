"""The receiver against the official OpenTelemetry Python exporters (real clients, real HTTP)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Dict, List

import pytest
from conftest import TOKEN, Collector, scoped
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from beacon_otlp import Receiver

pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")

RESOURCE = Resource.create({"service.name": "claude-code", "service.version": "2.1.197"})
COMPRESSIONS = [Compression.NoCompression, Compression.Gzip]


def exporter_options(receiver: Receiver, signal: str, compression: Compression) -> Dict[str, Any]:
    return {
        "endpoint": f"{receiver.url}/v1/{signal}",
        "headers": {"x-beacon-token": TOKEN},
        "compression": compression,
        "timeout": 10,
    }


def assert_compression_travelled(receiver: Receiver, compression: Compression) -> None:
    """Gzip bodies arrive smaller than they decode; identity bodies arrive as they decode."""
    stats = receiver.stats.snapshot()
    if compression == Compression.Gzip:
        assert 0 < stats["bytes_received"] < stats["bytes_decoded"]
    else:
        assert 0 < stats["bytes_received"] == stats["bytes_decoded"]


def records_of(collector: Collector, signal: str) -> List[Dict[str, Any]]:
    assert all(batch.signal == signal for batch in collector.batches)
    out = []
    for resource, _, item in scoped(collector.batches, signal):
        assert resource["attributes"]["service.name"] == "claude-code"
        out.append(item)
    return out


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=["identity", "gzip"])
def test_log_records_arrive_exactly_once(
    receiver: Receiver, collector: Collector, compression: Compression
) -> None:
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(**exporter_options(receiver, "logs", compression)), max_export_batch_size=64
        )
    )
    # The stdlib logging bridge: the one log API every supported SDK release shares.
    logger = logging.Logger(f"com.anthropic.claude_code.events.{compression.name}")
    logger.addHandler(LoggingHandler(logger_provider=provider))
    for i in range(300):
        logger.warning(
            "claude_code.tool_result", extra={"i": i, "tool_name": "Bash", "ok": True, "cost": 0.5}
        )
    provider.shutdown()

    assert collector.wait_for_records(300) == 300
    records = records_of(collector, "logs")
    assert Counter(r["attributes"]["i"] for r in records) == Counter(range(300))
    assert {r["body"] for r in records} == {"claude_code.tool_result"}
    assert records[0]["attributes"]["ok"] is True and records[0]["attributes"]["cost"] == 0.5
    encodings = {key["content_type"] for key in receiver.stats.snapshot()["requests"]}
    assert encodings == {"application/x-protobuf"}
    assert receiver.stats.snapshot()["records"] == {"logs": 300}
    assert_compression_travelled(receiver, compression)


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=["identity", "gzip"])
def test_spans_arrive_exactly_once(
    receiver: Receiver, collector: Collector, compression: Compression
) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(**exporter_options(receiver, "traces", compression)), max_export_batch_size=50
        )
    )
    tracer = provider.get_tracer("com.anthropic.claude_code.tracing")
    expected = {}
    for i in range(120):
        with tracer.start_as_current_span(f"claude_code.tool.{i}", attributes={"i": i}) as span:
            context = span.get_span_context()
            expected[f"claude_code.tool.{i}"] = (
                format(context.trace_id, "032x"),
                format(context.span_id, "016x"),
            )
    provider.shutdown()

    assert collector.wait_for_records(120) == 120
    spans = records_of(collector, "traces")
    assert Counter(s["name"] for s in spans) == Counter(expected.keys())
    for span in spans:
        assert (span["trace_id"], span["span_id"]) == expected[span["name"]]
        assert span["end_time_unix_nano"] >= span["start_time_unix_nano"] > 0
    assert_compression_travelled(receiver, compression)


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=["identity", "gzip"])
def test_metric_points_arrive_exactly_once(
    receiver: Receiver, collector: Collector, compression: Compression
) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(**exporter_options(receiver, "metrics", compression)),
        export_interval_millis=3_600_000,
    )
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("com.anthropic.claude_code")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    for kind, amount in (("input", 120), ("output", 25), ("cacheRead", 7)):
        tokens.add(amount, {"type": kind})
    meter.create_histogram("duration", unit="ms").record(12.5)
    provider.shutdown()

    assert collector.wait_for_records(4) == 4
    metrics = {
        m["name"]: m
        for b in collector.batches
        for r in b.request["resource_metrics"]
        for s in r["scope_metrics"]
        for m in s["metrics"]
    }
    points = metrics["claude_code.token.usage"]["sum"]["data_points"]
    assert {p["attributes"]["type"]: p["as_int"] for p in points} == {
        "input": 120,
        "output": 25,
        "cacheRead": 7,
    }
    assert metrics["claude_code.token.usage"]["sum"]["is_monotonic"] is True
    histogram = metrics["duration"]["histogram"]["data_points"][0]
    assert histogram["count"] == 1 and histogram["sum"] == 12.5
    assert_compression_travelled(receiver, compression)
