"""The HTML report's own markup, style and script (html.py embeds them; the Content-Security-
Policy allows exactly these two by their hashes). The markup is a skeleton without data; the
script draws everything from the page's two JSON elements, with textContent, createElement and
DOM properties only, never markup from data. Kept in one place so that the page needs nothing
else: no network, no file beside it."""

BODY = """<div class="page">
<header class="top">
  <p class="brand"><span class="mark" aria-hidden="true"></span>beacon report</p>
  <h1 id="title">Agent capture</h1>
  <p id="run" class="meta"></p>
  <p id="capture" class="meta"></p>
  <details id="shared" class="shared"><summary>Fields every event shares</summary></details>
</header>
<noscript><p class="noscript">This report draws its content with its own script: allow scripts
for this file to see it. The events themselves are in the log beside it (runtime.jsonl).</p></noscript>
<section id="verdict" class="verdict"></section>
<section class="card" aria-labelledby="findings-title">
  <h2 id="findings-title">Findings</h2>
  <div id="findings"></div>
</section>
<section class="card" aria-labelledby="agents-title">
  <h2 id="agents-title">Agents</h2>
  <div id="agents" class="agents"></div>
</section>
<section class="card" id="timeline" aria-labelledby="timeline-title">
  <h2 id="timeline-title">Timeline</h2>
  <div class="filters">
    <div id="agent-filter" class="chips" role="group" aria-label="Agents"></div>
    <label>Kind <select id="kind-filter"></select></label>
    <label>Outcome <select id="outcome-filter">
      <option value="any">any</option>
      <option value="failed">failed, denied or error</option>
      <option value="succeeded">succeeded</option>
      <option value="none">not reported</option>
    </select></label>
    <input id="search" type="search" placeholder="Search commands, paths, prompts, ids"
      aria-label="Search the events" autocomplete="off" spellcheck="false">
  </div>
  <p id="evidence" class="evidence" hidden><span></span> <button type="button">Show all</button></p>
  <div class="lanes"><canvas id="lanes" aria-label="When each agent did what"></canvas></div>
  <div id="usage" class="usage"></div>
  <p id="limits" class="limits" hidden></p>
  <div class="list-head"><span id="shown"></span><span class="pager">
    <button type="button" id="previous">Previous</button>
    <button type="button" id="next">Next</button></span></div>
  <ol id="events" class="events"></ol>
</section>
<footer id="footer" class="footer"></footer>
</div>"""

STYLE = """
:root {
  --bg: #f5f6f8; --card: #fff; --ink: #17202a; --muted: #5f6b7a; --faint: #8a94a3;
  --line: #e2e6eb; --soft: #f0f2f5; --accent: #3b5bdb;
  --fail: #b42318; --fail-bg: #fef3f2; --fail-line: #fecdca;
  --review: #b54708; --review-bg: #fffaeb; --review-line: #fedf89;
  --pass: #067647; --pass-bg: #ecfdf3; --pass-line: #abefc6;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.page { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 24px; margin: 2px 0 6px; font-weight: 650; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 0 0 12px; font-weight: 650; }
h3 { font-size: 15px; margin: 0; font-weight: 650; overflow-wrap: anywhere; }
.brand { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .02em; display: flex;
  align-items: center; gap: 8px; }
.mark { width: 12px; height: 12px; border-radius: 50%; background: var(--accent);
  box-shadow: 0 0 0 4px #dbe4ff; }
.meta { margin: 2px 0; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 16px; }
.meta-key { color: var(--faint); margin-right: 5px; }
.meta-value { color: var(--ink); overflow-wrap: anywhere; }
a.meta-value { color: var(--accent); }
.shared { margin-top: 8px; color: var(--muted); font-size: 13px; }
.shared summary { cursor: pointer; }
.noscript { background: var(--review-bg); border: 1px solid var(--review-line); padding: 12px;
  border-radius: 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; margin-top: 16px; }
.verdict { margin-top: 18px; border-radius: 10px; padding: 14px 18px; border: 1px solid;
  display: grid; grid-template-columns: 36px 1fr; gap: 2px 12px; align-items: start; }
.verdict-fail { background: var(--fail-bg); border-color: var(--fail-line); color: var(--fail); }
.verdict-review { background: var(--review-bg); border-color: var(--review-line); color: var(--review); }
.verdict-pass { background: var(--pass-bg); border-color: var(--pass-line); color: var(--pass); }
.verdict-icon { grid-row: span 2; width: 32px; height: 32px; border-radius: 50%; color: #fff;
  display: grid; place-items: center; font-weight: 700; font-size: 18px; }
.verdict-fail .verdict-icon { background: var(--fail); }
.verdict-review .verdict-icon { background: #dc6803; }
.verdict-pass .verdict-icon { background: #079455; }
.verdict-headline { font-size: 18px; font-weight: 650; margin: 3px 0 0; overflow-wrap: anywhere; }
.verdict ul { margin: 4px 0 0; padding-left: 18px; color: var(--ink); }
.empty { color: var(--muted); margin: 0; }
.tally { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 0 0 12px; }
.pill { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px;
  font-weight: 600; color: #fff; background: #98a2b3; white-space: nowrap; }
.sev-critical { background: #6e2fb0; } .sev-high { background: #d92d20; }
.sev-medium { background: #e4760a; } .sev-low { background: #c99a06; } .sev-info { background: #98a2b3; }
.finding { border: 1px solid var(--line); border-left: 4px solid #98a2b3; border-radius: 8px;
  padding: 10px 12px; margin-top: 8px; }
.finding.sev-critical, .finding.sev-high, .finding.sev-medium, .finding.sev-low, .finding.sev-info {
  background: var(--card); }
.finding.sev-critical { border-left-color: #6e2fb0; } .finding.sev-high { border-left-color: #d92d20; }
.finding.sev-medium { border-left-color: #e4760a; } .finding.sev-low { border-left-color: #c99a06; }
.finding-head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; }
.rule { font: 600 12px var(--mono); color: var(--muted); }
.finding-title { font-weight: 600; }
.quote { font: 12.5px/1.45 var(--mono); background: var(--soft); border-radius: 6px; padding: 6px 8px;
  margin: 8px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 9em; overflow: auto; }
.finding-detail { margin: 6px 0 0; color: var(--muted); }
.finding-foot { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin-top: 8px;
  color: var(--muted); font-size: 13px; }
.finding-foot details { flex-basis: 100%; }
.finding-foot summary { cursor: pointer; }
.finding-foot details p { margin: 4px 0 0; color: var(--ink); }
button { font: inherit; font-size: 13px; border: 1px solid var(--line); background: var(--card);
  color: var(--ink); border-radius: 6px; padding: 3px 10px; cursor: pointer; }
button:hover:not(:disabled) { border-color: #b8c0cc; background: var(--soft); }
button:disabled { color: var(--faint); cursor: default; }
.agent-tag { font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 999px;
  padding: 0 8px; }
.agents { display: grid; gap: 12px; }
.agent { border: 1px solid var(--line); border-left: 4px solid var(--agent, #98a2b3); border-radius: 8px;
  padding: 12px 14px; }
.agent header { display: flex; gap: 10px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
.version { color: var(--muted); font-size: 13px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(104px, 1fr)); gap: 8px; }
.tile { background: var(--soft); border-radius: 8px; padding: 7px 10px; display: flex;
  flex-direction: column; }
.tile-value { font-size: 18px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile-label { color: var(--muted); font-size: 12px; }
.tile-note { color: var(--faint); font-size: 11.5px; }
.bad-tile { background: var(--fail-bg); }
.bad-tile .tile-value, .bad-tile .tile-note { color: var(--fail); }
.stats { display: grid; grid-template-columns: auto 1fr; gap: 3px 14px; margin: 10px 0 0; font-size: 13px; }
.stats dt { color: var(--muted); }
.stats dd { margin: 0; overflow-wrap: anywhere; }
.bad { color: var(--fail); font-weight: 600; }
.good { color: var(--pass); }
.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: center; margin-bottom: 10px; }
.filters label { color: var(--muted); font-size: 13px; display: flex; gap: 6px; align-items: center; }
select, input[type=search] { font: inherit; font-size: 13px; border: 1px solid var(--line);
  border-radius: 6px; padding: 4px 8px; background: var(--card); color: var(--ink); }
input[type=search] { flex: 1 1 240px; min-width: 200px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { display: inline-flex; gap: 6px; align-items: center; border-radius: 999px; padding: 3px 10px; }
.chip[aria-pressed=false] { color: var(--faint); background: var(--soft); text-decoration: line-through; }
.swatch { width: 10px; height: 10px; border-radius: 50%; background: var(--agent, #98a2b3);
  display: inline-block; flex: none; }
.chip[aria-pressed=false] .swatch { opacity: .35; }
.count { color: var(--muted); font-size: 12px; }
.evidence { background: #eef2ff; border: 1px solid #c7d2fe; border-radius: 8px; padding: 6px 10px;
  margin: 0 0 10px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.evidence[hidden], .limits[hidden] { display: none; }
.lanes { position: relative; }
.lanes canvas { display: block; width: 100%; cursor: crosshair; }
.usage { margin-top: 6px; }
.usage-title { font-size: 13px; color: var(--muted); margin: 10px 0 2px; display: flex; gap: 14px;
  flex-wrap: wrap; align-items: center; }
.usage svg { display: block; width: 100%; overflow: visible; }
.usage text { font: 11px system-ui, sans-serif; fill: var(--muted); }
.legend { display: inline-flex; gap: 5px; align-items: center; color: var(--ink); }
.limits { color: var(--review); background: var(--review-bg); border: 1px solid var(--review-line);
  border-radius: 8px; padding: 6px 10px; font-size: 13px; }
.list-head { display: flex; justify-content: space-between; align-items: center; margin: 12px 0 6px;
  color: var(--muted); font-size: 13px; gap: 10px; flex-wrap: wrap; }
.pager { display: flex; gap: 6px; }
.events { list-style: none; margin: 0; padding: 0; border-top: 1px solid var(--line); }
.event { border-bottom: 1px solid var(--line); }
.event.focused > .line { background: #eef2ff; }
.line { display: grid; grid-template-columns: 84px 104px 96px minmax(0, 1fr) auto 110px; gap: 10px;
  align-items: center; padding: 5px 6px; cursor: pointer; }
.line:hover { background: var(--soft); }
.line:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }
.time { font: 12px var(--mono); color: var(--muted); white-space: nowrap; }
.agent-name { display: flex; gap: 6px; align-items: center; font-size: 12.5px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.kind { font-size: 12px; border-radius: 5px; padding: 1px 7px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; background: var(--soft); color: #344054; border-left: 3px solid var(--cat); }
.label { font: 12.5px var(--mono); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.result { display: flex; gap: 6px; justify-content: flex-end; font-size: 12px; white-space: nowrap; }
.badge { border-radius: 5px; padding: 0 6px; background: var(--soft); color: var(--muted); }
.badge.bad { background: var(--fail-bg); color: var(--fail); }
.badge.good { background: var(--pass-bg); color: var(--pass); }
.sev-mark { width: 8px; height: 8px; border-radius: 50%; display: inline-block; }
.duration { display: grid; grid-template-columns: 1fr 52px; gap: 6px; align-items: center;
  font: 12px var(--mono); color: var(--muted); text-align: right; }
.bar { height: 6px; background: var(--soft); border-radius: 3px; overflow: hidden; direction: rtl; }
.bar span { display: block; height: 100%; background: #98a2b3; border-radius: 3px; }
.detail { padding: 8px 12px 12px 96px; background: #fbfcfd; border-top: 1px dashed var(--line); }
.detail-head { display: flex; flex-wrap: wrap; gap: 6px 16px; color: var(--muted); font-size: 12.5px;
  margin-bottom: 6px; }
.note { color: var(--review); }
.fields { display: grid; grid-template-columns: minmax(120px, max-content) minmax(0, 1fr); gap: 2px 14px;
  margin: 0; font: 12px/1.5 var(--mono); }
.fields dt { color: var(--muted); overflow-wrap: anywhere; }
.fields dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.shared-fields { margin-top: 6px; color: var(--muted); font-size: 12.5px; }
.shared-fields summary { cursor: pointer; }
.footer { color: var(--faint); font-size: 12.5px; margin-top: 20px; }
.footer p { margin: 3px 0; }
.cat-prompt { --cat: #2563eb; } .cat-command { --cat: #0f766e; } .cat-file { --cat: #16a34a; }
.cat-tool { --cat: #7c3aed; } .cat-mcp { --cat: #c026d3; } .cat-approval { --cat: #d97706; }
.cat-session { --cat: #94a3b8; } .cat-metric { --cat: #cbd5e1; } .cat-other { --cat: #cbd5e1; }
@media (max-width: 760px) {
  .line { grid-template-columns: 70px minmax(0, 1fr) auto; }
  .line .agent-name, .line .kind, .line .duration { display: none; }
  .detail { padding-left: 12px; }
}
"""

SCRIPT = r"""
"use strict";
(() => {
  const byId = (id) => document.getElementById(id);
  const report = JSON.parse(byId("beacon-report").textContent);
  const rows = JSON.parse(byId("beacon-events").textContent);
  // One row per event (html.py ReportPage._row), then its fields, whether the capture's shared
  // fields apply to it, and how much of its fields the page kept.
  const T = 0, H = 1, A = 2, O = 3, SEV = 4, LABEL = 5, ID = 6, DUR = 7, EXIT = 8, WAIT = 9,
    USAGE = 10, ERR = 11, FIELDS = 12, SHARED = 13, TRIM = 14;
  const PAGE_ROWS = 200;
  const SEVERITIES = ["info", "low", "medium", "high", "critical"];
  const AGENT_COLORS = { claude_code: "#d97757", codex_cli: "#10a37f", gemini_cli: "#4285f4" };
  const PALETTE = ["#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569"];
  const CATEGORY_COLORS = {
    prompt: "#2563eb", command: "#0f766e", file: "#16a34a", tool: "#7c3aed", mcp: "#c026d3",
    approval: "#d97706", session: "#94a3b8", metric: "#cbd5e1",
  };
  const FAILED_COLOR = "#d92d20";
  const ACTION_NAMES = {
    "prompt.submitted": "prompt", "command.executed": "command", "file.read": "file read",
    "file.created": "file created", "file.modified": "file modified", "tool.invoked": "tool",
    "tool.failed": "tool failed", "mcp.tool_invoked": "MCP call", "mcp.connection": "MCP server",
    "approval.requested": "approval asked", "approval.allowed": "approved",
    "approval.denied": "denied", "session.started": "session start", "session.activity": "activity",
    "session.status": "status", "session.error": "error", "token.usage": "tokens",
    "cost.usage": "cost", "metric.observed": "metric",
  };
  const TRIMMED = [
    "",
    "Its raw attributes were left out to keep the page small.",
    "Its raw attributes were left out and its strings cut to " + report.limits.cut_chars +
      " characters to keep the page small.",
    "Its fields were left out to keep the page small.",
  ];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attributes) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const name of Object.keys(attributes)) node.setAttribute(name, String(attributes[name]));
    return node;
  }
  const text = (value) => (typeof value === "string" ? value : "");
  const number = (n) => Number(n || 0).toLocaleString("en-US");
  const dollars = (n) => "$" + Number(n || 0).toFixed(4);
  const plural = (n, noun) => number(n) + " " + noun + (n === 1 ? "" : "s");
  const category = (name) => (/^[a-z]+$/.test(name) && name in CATEGORY_COLORS ? name : "other");
  const severity = (name) => (SEVERITIES.includes(name) ? name : "info");

  const agentColors = new Map();
  function agentColor(name) {
    if (!agentColors.has(name)) {
      agentColors.set(name, AGENT_COLORS[name] || PALETTE[agentColors.size % PALETTE.length]);
    }
    return agentColors.get(name);
  }
  report.harnesses.forEach(agentColor);

  function duration(ms) {
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    const minutes = Math.floor(ms / 60000);
    if (minutes < 60) return minutes + "m " + String(Math.floor(ms / 1000) % 60).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }
  function offset(ms) {
    const whole = Math.max(0, ms);
    const s = Math.floor(whole / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    const pad = (n, w) => String(n).padStart(w, "0");
    const tail = pad(s % 60, 2) + "." + pad(Math.floor(whole % 1000), 3);
    return "+" + (h ? h + ":" + pad(m % 60, 2) : String(m)) + ":" + tail;
  }
  const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";

  // The common time axis: every event with a time, earliest first.
  let first = Infinity, last = -Infinity, longest = 0;
  for (const row of rows) {
    if (row[T] !== null) { first = Math.min(first, row[T]); last = Math.max(last, row[T]); }
    if (row[DUR] !== null) longest = Math.max(longest, row[DUR]);
  }
  const timed = first !== Infinity;
  const when = (i) => (rows[i][T] === null ? Infinity : rows[i][T]);
  const order = rows.map((_, i) => i).sort((a, b) => when(a) - when(b) || a - b);
  const actionOf = (row) => report.actions[row[A]] || ["(none)", "other"];
  const denied = (row) => actionOf(row)[0] === "approval.denied";
  const failed = (row) => row[O] === 2 || row[ERR] === 1 || denied(row);

  function link(label, href) {
    if (typeof href !== "string" || !href.startsWith("https://")) return el("span", "meta-value", label);
    const a = el("a", "meta-value", label);
    a.href = href;
    a.rel = "noopener noreferrer";
    a.referrerPolicy = "no-referrer";
    return a;
  }
  function metaItem(key, value, href) {
    const item = el("span", "meta-item");
    item.append(el("span", "meta-key", key), link(value, href));
    return item;
  }

  function drawHeader() {
    const meta = report.meta, run = meta.run || {}, links = meta.links || {}, capture = meta.capture || {};
    const repository = text(run.repository);
    byId("title").textContent = repository || "Agent capture";
    document.title = "beacon report · " + (repository || text(capture.id) || "capture");
    const runLine = byId("run");
    const again = text(run.run_attempt) && run.run_attempt !== "1";
    const attempt = again ? " (attempt " + run.run_attempt + ")" : "";
    const parts = [
      ["repository", repository, links.repository],
      ["workflow", text(run.workflow), links.workflow],
      ["run", run.run_id ? "#" + text(run.run_id) + attempt : "", links.run],
      ["job", text(run.job)],
      ["commit", text(run.commit).slice(0, 12), links.commit],
      ["branch", text(run.branch), links.branch],
      ["pull request", run.pr_number ? "#" + text(run.pr_number) : "", links.pr],
      ["event", text(run.event_name)],
      ["actor", text(run.actor)],
      ["CI", run.provider && run.provider !== "github_actions" ? text(run.provider) : ""],
    ];
    for (const [key, value, href] of parts) if (value) runLine.append(metaItem(key, value, href));
    if (!runLine.childElementCount) runLine.append(el("span", "meta-value", "not a CI run"));
    const span = timed ? utc(first) + " → " + utc(last).slice(11) + " (" + duration(last - first) + ")" : "";
    const captureLine = byId("capture");
    const items = [
      ["capture", text(capture.id) + (capture.mode ? " (" + text(capture.mode) + ")" : "")],
      ["events", number(report.limits.events)],
      ["time", span],
      ["log", text(meta.log)],
    ];
    for (const [key, value] of items) if (value) captureLine.append(metaItem(key, value));
    byId("shared").append(fieldList(flatten(meta.shared || {})));
  }

  function drawVerdict() {
    const verdict = report.verdict;
    const level = ["fail", "review", "pass"].includes(verdict.level) ? verdict.level : "fail";
    const box = byId("verdict");
    box.classList.add("verdict-" + level);
    box.append(el("span", "verdict-icon", { fail: "✕", review: "!", pass: "✓" }[level]));
    box.append(el("p", "verdict-headline", verdict.headline));
    const points = el("ul");
    for (const point of verdict.points) points.append(el("li", null, point));
    box.append(points);
  }

  function drawFindings() {
    const findings = report.findings, box = byId("findings");
    if (!findings.count) {
      box.append(el("p", "empty", "No findings: no rule fired on this capture."));
      return;
    }
    const tally = el("p", "tally");
    tally.append(el("strong", null, plural(findings.count, "finding")));
    for (const name of SEVERITIES.slice(1).reverse()) {
      const n = (findings.by_severity || {})[name];
      if (n) tally.append(el("span", "pill sev-" + name, n + " " + name));
    }
    box.append(tally);
    for (const finding of findings.findings) box.append(findingCard(finding));
    const omitted = Object.entries(findings.omitted || {});
    if (omitted.length) {
      const counted = omitted.map(([rule, n]) => rule + " " + number(n)).join(", ");
      box.append(el("p", "empty", "More findings past the 1,000 kept, counted by rule: " + counted + "."));
    }
  }

  function findingCard(finding) {
    const level = severity(finding.severity);
    const card = el("article", "finding sev-" + level);
    const head = el("div", "finding-head");
    head.append(el("span", "pill sev-" + level, level), el("span", "rule", finding.rule));
    head.append(el("span", "finding-title", finding.title));
    if (finding.harness) head.append(el("span", "agent-tag", finding.harness));
    card.append(head);
    if (finding.quote) card.append(el("pre", "quote", finding.quote));
    if (finding.detail) card.append(el("p", "finding-detail", finding.detail));
    const foot = el("div", "finding-foot");
    const ids = new Set(finding.events || []);
    const found = [];
    rows.forEach((row, i) => { if (ids.has(row[ID])) found.push(i); });
    foot.append(el("span", null, "Evidence: " + plural(finding.event_count || 0, "event")));
    if (found.length) {
      const show = el("button", null, "Show in the timeline");
      show.type = "button";
      show.addEventListener("click", () => showEvidence(finding, found));
      foot.append(show);
    }
    const help = report.rules[finding.rule];
    if (typeof help === "string") {
      const more = el("details");
      more.append(el("summary", null, "Why it matters"), el("p", null, help));
      foot.append(more);
    }
    card.append(foot);
    return card;
  }

  function drawAgents() {
    const box = byId("agents");
    if (!report.agents.length) box.append(el("p", "empty", "No agent sent an event to this capture."));
    for (const agent of report.agents) {
      const card = el("article", "agent");
      card.style.setProperty("--agent", agentColor(agent.name));
      const head = el("header");
      head.append(el("span", "swatch"), el("h3", null, agent.name), el("span", "version", agent.version));
      if (agent.duration_seconds !== null) {
        head.append(el("span", "version", "active " + duration(agent.duration_seconds * 1000)));
      }
      card.append(head);
      const counts = agent.counts;
      const tiles = el("div", "tiles");
      const tile = (value, label, note, bad) => {
        const item = el("div", "tile" + (bad ? " bad-tile" : ""));
        item.append(el("span", "tile-value", value), el("span", "tile-label", label));
        if (note) item.append(el("span", "tile-note", note));
        tiles.append(item);
      };
      let tokens = 0, cost = 0;
      for (const usage of Object.values(agent.models)) {
        tokens += usage.input_tokens + usage.output_tokens;
        cost += usage.cost_usd;
      }
      tile(number(agent.events), "events");
      tile(number(counts.prompts), "prompts");
      const failedCommands = counts.commands_failed ? number(counts.commands_failed) + " failed" : "";
      tile(number(counts.commands), "commands", failedCommands, counts.commands_failed > 0);
      tile(number(counts.files_read || 0), "files read");
      tile(number((counts.files_created || 0) + (counts.files_modified || 0)), "files written",
        number(counts.files_created || 0) + " created");
      tile(number(counts.approvals_denied), "denied", "", counts.approvals_denied > 0);
      tile(number(counts.errors), "errors", "", counts.errors > 0);
      tile(number(tokens), "tokens", "input and output");
      tile(cost ? dollars(cost) : "\u2013", "cost", cost ? "" : "none reported");
      tile(number(agent.redacted), "redacted", "events");
      card.append(tiles);
      const stats = el("dl", "stats");
      const add = (key, value) => stats.append(el("dt", null, key), el("dd", null, value));
      add("tools", named(agent.tools));
      if (agent.mcp.length) add("MCP", named(agent.mcp));
      for (const model of Object.keys(agent.models).sort()) {
        const usage = agent.models[model];
        add("model", model + ": " + number(usage.input_tokens) + " in, " + number(usage.output_tokens) +
          " out, " + number(usage.cache_read_tokens) + " cache read, " + dollars(usage.cost_usd));
      }
      card.append(stats);
      box.append(card);
    }
  }
  const named = (pairs) => pairs.map(([name, n]) => name + " " + number(n)).join(", ") || "none";

  // --- the timeline: filters, lanes, usage, the list -------------------------------------
  const state = { hidden: new Set(), kind: "acts", outcome: "any", query: "", evidence: null, page: 0 };
  const opened = new Set();
  let shown = order;
  let focused = -1;
  let lowered = null;

  // What the agents did: everything but the chatter (activity and status without an error, a
  // failure, a duration or a model request's usage) and the usage metrics.
  function isChatter(row) {
    const [action, group] = actionOf(row);
    if (group === "metric" || action === "token.usage" || action === "cost.usage") return true;
    const request = row[USAGE] !== null && row[USAGE][2] === 0;
    return (action === "session.activity" || action === "session.status") &&
      !failed(row) && row[DUR] === null && !request;
  }
  function matchesKind(row) {
    const kind = state.kind;
    if (kind === "all") return true;
    if (kind === "acts") return !isChatter(row);
    if (kind.startsWith("a:")) return String(row[A]) === kind.slice(2);
    return actionOf(row)[1] === kind.slice(2);
  }
  function matchesOutcome(row) {
    const outcome = state.outcome;
    if (outcome === "failed") return failed(row);
    if (outcome === "succeeded") return row[O] === 1 && !failed(row);
    if (outcome === "none") return row[O] === 0 && !failed(row);
    return true;
  }
  function searchable(i) {
    if (lowered === null) lowered = new Array(rows.length);
    if (lowered[i] === undefined) {
      const row = rows[i];
      lowered[i] = [row[LABEL], row[ID], report.harnesses[row[H]], actionOf(row)[0],
        row[FIELDS] === null ? "" : JSON.stringify(row[FIELDS])].join("\n").toLowerCase();
    }
    return lowered[i];
  }
  function matches(i) {
    const row = rows[i];
    if (state.hidden.has(row[H])) return false;
    if (state.evidence) return state.evidence.rows.has(i);
    return matchesKind(row) && matchesOutcome(row) && (!state.query || searchable(i).includes(state.query));
  }
  function apply() {
    shown = order.filter(matches);
    state.page = 0;
    drawList();
    drawLanes();
  }

  function setUpFilters() {
    const chips = byId("agent-filter");
    const perAgent = new Map();
    for (const row of rows) perAgent.set(row[H], (perAgent.get(row[H]) || 0) + 1);
    for (const [index, count] of perAgent) {
      const chip = el("button", "chip");
      chip.type = "button";
      chip.setAttribute("aria-pressed", "true");
      chip.style.setProperty("--agent", agentColor(report.harnesses[index]));
      chip.append(el("span", "swatch"), el("span", null, report.harnesses[index]));
      chip.append(el("span", "count", number(count)));
      chip.addEventListener("click", () => {
        const hide = !state.hidden.has(index);
        if (hide) state.hidden.add(index); else state.hidden.delete(index);
        chip.setAttribute("aria-pressed", String(!hide));
        apply();
      });
      chips.append(chip);
    }
    const kinds = byId("kind-filter");
    kinds.append(option("acts", "what the agents did"), option("all", "everything"));
    const perAction = new Map();
    for (const row of rows) perAction.set(row[A], (perAction.get(row[A]) || 0) + 1);
    const groups = new Map();
    for (const [index, count] of perAction) {
      const [action, group] = report.actions[index] || ["(none)", "other"];
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push([action, index, count]);
    }
    for (const group of [...groups.keys()].sort()) {
      const entries = groups.get(group).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      const optgroup = el("optgroup");
      optgroup.label = group;
      const total = entries.reduce((sum, entry) => sum + entry[2], 0);
      optgroup.append(option("c:" + group, "all " + group + " (" + number(total) + ")"));
      for (const [action, index, count] of entries) {
        optgroup.append(option("a:" + index, action + " (" + number(count) + ")"));
      }
      kinds.append(optgroup);
    }
    kinds.addEventListener("change", () => { state.kind = kinds.value; clearEvidence(); apply(); });
    const outcome = byId("outcome-filter");
    outcome.addEventListener("change", () => { state.outcome = outcome.value; clearEvidence(); apply(); });
    const search = byId("search");
    let pending = 0;
    search.addEventListener("input", () => {
      clearTimeout(pending);  // a keystroke at a time over 100,000 events: filter when typing pauses
      pending = setTimeout(() => {
        state.query = search.value.trim().toLowerCase();
        clearEvidence();
        apply();
      }, 120);
    });
    byId("evidence").querySelector("button").addEventListener("click", () => { clearEvidence(); apply(); });
    byId("previous").addEventListener("click", () => turn(-1));
    byId("next").addEventListener("click", () => turn(1));
  }
  function option(value, label) {
    const node = el("option", null, label);
    node.value = value;
    return node;
  }
  function clearEvidence() {
    state.evidence = null;
    byId("evidence").hidden = true;
  }
  function showEvidence(finding, found) {
    state.kind = "all";
    state.outcome = "any";
    state.query = "";
    byId("kind-filter").value = "all";
    byId("outcome-filter").value = "any";
    byId("search").value = "";
    state.evidence = { rows: new Set(found) };
    const banner = byId("evidence");
    const of = finding.event_count > found.length ? " of " + number(finding.event_count) : "";
    banner.querySelector("span").textContent =
      "The evidence of " + finding.rule + " (" + finding.title + "): " + plural(found.length, "event") + of;
    banner.hidden = false;
    apply();
    byId("timeline").scrollIntoView({ block: "start" });
  }

  // Lanes: one per agent, every shown event a tick at its time (red when it failed), a bar
  // behind it for how long it took (it ended at its time).
  const LEFT = 128, RIGHT = 14, AXIS = 24, LANE = 30;
  const laneOf = new Map();
  for (const row of rows) if (!laneOf.has(row[H])) laneOf.set(row[H], laneOf.size);
  function xOf(t, width) {
    const span = Math.max(last - first, 1);
    return LEFT + ((t - first) / span) * (width - LEFT - RIGHT);
  }
  function drawLanes() {
    const canvas = byId("lanes");
    const width = canvas.parentElement.clientWidth;
    const height = AXIS + Math.max(1, laneOf.size) * LANE + 4;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (const [index, lane] of laneOf) {
      const y = AXIS + lane * LANE;
      ctx.fillStyle = lane % 2 ? "#ffffff" : "#f7f8fa";
      ctx.fillRect(0, y, width, LANE);
      ctx.fillStyle = agentColor(report.harnesses[index]);
      ctx.fillRect(6, y + LANE / 2 - 4, 8, 8);
      ctx.fillStyle = state.hidden.has(index) ? "#a0a8b4" : "#17202a";
      ctx.fillText(fit(ctx, report.harnesses[index], LEFT - 28), 20, y + LANE / 2);
    }
    if (!timed) return;
    drawAxis(ctx, width, height);
    for (const i of shown) {
      const row = rows[i];
      if (row[T] === null) continue;
      const y = AXIS + laneOf.get(row[H]) * LANE;
      const x = xOf(row[T], width);
      const color = failed(row) ? FAILED_COLOR : CATEGORY_COLORS[category(actionOf(row)[1])] || "#94a3b8";
      if (row[DUR] !== null && row[DUR] > 0) {
        const start = xOf(row[T] - row[DUR], width);
        ctx.globalAlpha = 0.28;
        ctx.fillStyle = color;
        ctx.fillRect(Math.max(LEFT, start), y + LANE - 11, Math.max(2, x - start), 6);
        ctx.globalAlpha = 1;
      }
      ctx.fillStyle = color;
      ctx.fillRect(x - 1, y + 5, 2, LANE - 16);
    }
    if (focused >= 0 && rows[focused][T] !== null) {
      ctx.fillStyle = "#3b5bdb";
      ctx.fillRect(xOf(rows[focused][T], width) - 1, AXIS - 4, 2, height - AXIS + 4);
    }
  }
  function fit(ctx, label, room) {
    if (ctx.measureText(label).width <= room) return label;
    let cut = label;
    while (cut.length > 1 && ctx.measureText(cut + "…").width > room) cut = cut.slice(0, -1);
    return cut + "…";
  }
  const STEPS = [100, 250, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5];
  function drawAxis(ctx, width, height) {
    const span = Math.max(last - first, 1);
    const room = width - LEFT - RIGHT;
    const step = STEPS.find((s) => (room * s) / span >= 90) || 144e5;
    ctx.fillStyle = "#5f6b7a";
    ctx.textBaseline = "alphabetic";
    ctx.font = "11px system-ui, sans-serif";
    for (let t = 0; t <= span; t += step) {
      const x = xOf(first + t, width);
      ctx.fillStyle = "#e2e6eb";
      ctx.fillRect(x, AXIS - 6, 1, height - AXIS + 6);
      ctx.fillStyle = "#5f6b7a";
      ctx.fillText(offset(t).replace(/\.\d+$/, step < 1000 ? "$&" : ""), x + 3, AXIS - 9);
    }
  }
  function setUpLanes() {
    const canvas = byId("lanes");
    canvas.addEventListener("click", (event) => {
      if (!timed || !shown.length) return;
      const width = canvas.clientWidth;
      const t = first + ((event.offsetX - LEFT) / (width - LEFT - RIGHT)) * Math.max(last - first, 1);
      let low = 0, high = shown.length - 1;
      while (low < high) {  // the first shown event at or after t (shown is in time order)
        const middle = (low + high) >> 1;
        if (when(shown[middle]) < t) low = middle + 1; else high = middle;
      }
      reveal(low);
    });
  }
  function reveal(position) {
    state.page = Math.floor(position / PAGE_ROWS);
    focused = shown[position];
    drawList();
    drawLanes();
    const item = byId("events").querySelector(".focused");
    if (item) item.scrollIntoView({ block: "center" });
  }

  // Tokens and cost over time, per agent: from its model requests, or from its usage metrics
  // when its requests carry none (as the summary counts them), on the lanes' time axis.
  function drawUsage() {
    const box = byId("usage");
    box.replaceChildren();
    const series = new Map();
    const fromRequests = new Set();
    for (const row of rows) if (row[USAGE] !== null && row[USAGE][2] === 0) fromRequests.add(row[H]);
    for (const i of order) {
      const row = rows[i], usage = row[USAGE];
      if (usage === null || row[T] === null || (usage[2] === 1) === fromRequests.has(row[H])) continue;
      if (!series.has(row[H])) series.set(row[H], [[first, 0, 0]]);
      const points = series.get(row[H]);
      const [, tokens, cost] = points[points.length - 1];
      points.push([row[T], tokens + usage[0], cost + usage[1]]);
    }
    if (!series.size || !timed) {
      box.append(el("p", "usage-title", "No agent reported tokens or cost."));
      return;
    }
    const width = byId("lanes").parentElement.clientWidth;
    chart(box, series, width, 1, "Tokens (input and output), cumulative", number);
    chart(box, series, width, 2, "Cost, cumulative", dollars);
  }
  function chart(box, series, width, column, title, format) {
    const height = 86, top = 8, bottom = 18;
    let highest = 0;
    for (const points of series.values()) highest = Math.max(highest, points[points.length - 1][column]);
    if (!highest) {
      box.append(el("p", "usage-title", title + ": none reported."));
      return;
    }
    const head = el("p", "usage-title");
    head.append(el("strong", null, title));
    for (const [index, points] of series) {
      const legend = el("span", "legend");
      legend.style.setProperty("--agent", agentColor(report.harnesses[index]));
      legend.append(el("span", "swatch"), el("span", null, report.harnesses[index] + " " +
        format(points[points.length - 1][column])));
      head.append(legend);
    }
    box.append(head);
    const plot = svg("svg", { viewBox: "0 0 " + width + " " + height, height: height, role: "img" });
    plot.setAttribute("aria-label", title);
    const yOf = (value) => top + (1 - value / highest) * (height - top - bottom);
    plot.append(svg("line", { x1: LEFT, x2: width - RIGHT, y1: yOf(0), y2: yOf(0), stroke: "#e2e6eb" }));
    plot.append(svg("line", { x1: LEFT, x2: width - RIGHT, y1: yOf(highest), y2: yOf(highest),
      stroke: "#eef0f3", "stroke-dasharray": "3 3" }));
    const label = svg("text", { x: LEFT - 8, y: yOf(highest) + 4, "text-anchor": "end" });
    label.textContent = format(highest);
    const zero = svg("text", { x: LEFT - 8, y: yOf(0) + 4, "text-anchor": "end" });
    zero.textContent = "0";
    plot.append(label, zero);
    for (const [index, points] of series) {
      const path = [];
      let lastX = -1;
      const final = points[points.length - 1];
      let lastY = 0;
      for (const point of points.concat([[last, final[1], final[2]]])) {
        const x = Math.round(xOf(point[0], width) * 2) / 2, y = Math.round(yOf(point[column]) * 2) / 2;
        if (x === lastX) {
          path[path.length - 1] = x + "," + y;  // one point a half pixel: the last one there
        } else {
          if (path.length) path.push(x + "," + lastY);  // a step: flat until the next report
          path.push(x + "," + y);
        }
        lastX = x;
        lastY = y;
      }
      plot.append(svg("polyline", { points: path.join(" "), fill: "none", "stroke-width": 2,
        stroke: agentColor(report.harnesses[index]), "stroke-linejoin": "round" }));
    }
    box.append(plot);
  }

  function drawList() {
    const list = byId("events");
    list.replaceChildren();
    const start = state.page * PAGE_ROWS;
    for (const i of shown.slice(start, start + PAGE_ROWS)) list.append(entry(i));
    const end = Math.min(start + PAGE_ROWS, shown.length);
    byId("shown").textContent = shown.length
      ? "Events " + number(start + 1) + "\u2013" + number(end) + " of " + number(shown.length) +
        (shown.length < rows.length ? " shown (" + number(rows.length) + " in all)" : "")
      : "No event matches these filters (" + number(rows.length) + " in all).";
    byId("previous").disabled = state.page === 0;
    byId("next").disabled = end >= shown.length;
    list.dataset.shown = String(shown.length);
  }
  function turn(step) {
    state.page += step;
    drawList();
    byId("timeline").scrollIntoView({ block: "start" });
  }

  function entry(i) {
    const row = rows[i];
    const [action, group] = actionOf(row);
    const item = el("li", "event" + (i === focused ? " focused" : ""));
    const line = el("div", "line");
    line.tabIndex = 0;
    line.setAttribute("role", "button");
    const time = el("span", "time", row[T] === null ? "\u2013" : offset(row[T] - first));
    if (row[T] !== null) time.title = new Date(row[T]).toISOString();
    const agent = el("span", "agent-name");
    agent.style.setProperty("--agent", agentColor(report.harnesses[row[H]]));
    agent.append(el("span", "swatch"), el("span", null, report.harnesses[row[H]]));
    const kind = el("span", "kind cat-" + category(group), ACTION_NAMES[action] || action);
    kind.title = action;
    const label = el("span", "label", row[LABEL] || "—");
    label.title = row[LABEL];
    line.append(time, agent, kind, label, result(row, action), took(row));
    const toggle = () => {
      if (opened.has(i)) opened.delete(i); else opened.add(i);
      line.setAttribute("aria-expanded", String(opened.has(i)));
      if (opened.has(i)) item.append(details(i)); else item.querySelector(".detail").remove();
    };
    line.addEventListener("click", toggle);
    line.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
    });
    line.setAttribute("aria-expanded", String(opened.has(i)));
    item.append(line);
    if (opened.has(i)) item.append(details(i));
    return item;
  }
  function badge(label, tone) {
    return el("span", "badge" + (tone ? " " + tone : ""), label);
  }
  function result(row, action) {
    const cell = el("span", "result");
    if (row[SEV] >= 2) {
      const mark = el("span", "sev-mark sev-" + SEVERITIES[row[SEV]]);
      mark.title = SEVERITIES[row[SEV]] + " severity";
      cell.append(mark);
    }
    if (row[USAGE] !== null && row[USAGE][2] === 0 && row[USAGE][0]) {
      cell.append(badge(number(row[USAGE][0]) + " tokens"));
    }
    if (row[WAIT] !== null) cell.append(badge("waited " + duration(row[WAIT])));
    if (action === "approval.denied") cell.append(badge("denied", "bad"));
    else if (row[EXIT] !== null) cell.append(badge("exit " + row[EXIT], row[EXIT] === 0 ? "good" : "bad"));
    else if (row[O] === 2) cell.append(badge("failed", "bad"));
    else if (row[O] === 1) cell.append(badge("ok", "good"));
    if (row[ERR] === 1 && row[O] !== 2 && action !== "approval.denied") cell.append(badge("error", "bad"));
    return cell;
  }
  function took(row) {
    const cell = el("span", "duration");
    if (row[DUR] === null) return cell;
    const bar = el("span", "bar");
    const fill = el("span");
    fill.style.width = Math.max(4, (Math.log1p(row[DUR]) / Math.log1p(Math.max(longest, 1))) * 100) + "%";
    bar.append(fill);
    cell.append(bar, el("span", null, duration(row[DUR])));
    return cell;
  }

  function details(i) {
    const row = rows[i];
    const box = el("div", "detail");
    const head = el("div", "detail-head");
    head.append(el("span", null, "event " + row[ID]));
    if (row[T] !== null) head.append(el("span", null, new Date(row[T]).toISOString()));
    if (row[TRIM]) {
      head.append(el("span", "note", TRIMMED[row[TRIM]] + " The whole event is in " +
        (text(report.meta.log) || "the log") + ": search it for its id."));
    }
    box.append(head);
    if (row[FIELDS] !== null) box.append(fieldList(flatten(row[FIELDS])));
    if (row[SHARED] === 1) {
      const shared = flatten(report.meta.shared || {});
      const more = el("details", "shared-fields");
      const summary = plural(shared.length, "field") + " every event of this capture shares";
      more.append(el("summary", null, summary));
      more.append(fieldList(shared));
      box.append(more);
    }
    return box;
  }
  function fieldList(pairs) {
    const list = el("dl", "fields");
    for (const [key, value] of pairs) list.append(el("dt", null, key), el("dd", null, value));
    return list;
  }
  // An event's fields as dotted names and their values, in the event's order.
  function flatten(value) {
    const out = [];
    const walk = (node, name) => {
      if (out.length >= 2000) return;
      if (node !== null && typeof node === "object") {
        const keys = Object.keys(node);
        if (!keys.length) out.push([name, Array.isArray(node) ? "[]" : "{}"]);
        for (const key of keys) {
          walk(node[key], Array.isArray(node) ? name + "[" + key + "]" : name ? name + "." + key : key);
        }
      } else {
        out.push([name, typeof node === "string" ? node : JSON.stringify(node)]);
      }
    };
    walk(value, "");
    return out;
  }

  function drawLimits() {
    const limits = report.limits, notes = [];
    if (limits.shown < limits.events) {
      notes.push("The page shows the first " + number(limits.shown) + " of " + number(limits.events) +
        " events.");
    }
    if (limits.trimmed) {
      notes.push(number(limits.trimmed) + (limits.trimmed === 1 ? " entry" : " entries") +
        " lost some or all of their fields to keep the page small (each keeps at most " +
        number(limits.entry_bytes) + " bytes); every event is whole in " +
        (text(report.meta.log) || "the log") + ".");
    }
    if (notes.length) {
      byId("limits").textContent = notes.join(" ");
      byId("limits").hidden = false;
    }
  }
  function drawFooter() {
    const footer = byId("footer"), meta = report.meta;
    footer.append(el("p", null, "Written by beacon " + text(meta.beacon) + " on " + utc(meta.generated) +
      (meta.log ? " from " + text(meta.log) : "") + ". This page loads nothing and runs only its own " +
      "script; everything it shows came from the agents, already redacted, and is shown as text."));
    footer.append(el("p", null, "Rows show the first " + report.limits.label_chars + " characters of a " +
      "command, path or prompt; open an entry for its fields."));
  }

  drawHeader();
  drawVerdict();
  drawFindings();
  drawAgents();
  setUpFilters();
  setUpLanes();
  drawLimits();
  drawFooter();
  apply();
  drawUsage();
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { drawLanes(); drawUsage(); }, 100);
  });
  document.body.dataset.ready = "1";
})();
"""
