// The live page of a running noemie-sim network: everything it shows comes from the HTTP API
// of the same server (docs/api.md); the journal arrives as server-sent events.
// For the tests and anyone reading the DOM, <body> carries data-parties (parties drawn),
// data-events (journal events received), data-moved (files animated on the graph) and
// data-explained (records shown by the last explain).
"use strict";
const $ = s => document.querySelector(s);
// the page's words in the run's language (window.MESSAGES, given by the server with the page)
const tr = m => (window.MESSAGES && window.MESSAGES[m]) || m;
const WORDS = {starting: tr("starting"), running: tr("running"), paused: tr("paused"), ended: tr("ended"),
  virtual: tr("virtual"), scaled: tr("scaled"), pass: tr("pass"), fail: tr("fail"), incomplete: tr("incomplete"),
  lots: tr("lots"), files: tr("files"), invoices: tr("invoices"), "décomptes": tr("décomptes"), IJ: tr("IJ"),
  "positive ARL": tr("positive ARL"), "negative ARL": tr("negative ARL"), "duplicate ARL": tr("duplicate ARL"),
  "refused files": tr("refused files"), "décomptes rejected": tr("décomptes rejected")};
const word = w => WORDS[w] || w;
const KIND_COLOURS = {FSE: "#1f77b4", ARL: "#2ca02c", NOE: "#9467bd", DEC: "#ff7f0e", OCR: "#8c564b", IJ: "#17becf"};
const ROLE_COLOURS = {ps: "#cfe3f7", cpam: "#f7e3b5", oc: "#dff2d8", employer: "#eadcf5"};
const state = {parties: {}, names: {}, events: 0, moved: 0, flying: 0, counters: {}, clock: null, lastSeq: 0};
document.body.dataset.events = "0";
document.body.dataset.moved = "0";

async function api(path, options) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status} ${path}`;
    $("#control-error").textContent = message;
    throw new Error(message);
  }
  $("#control-error").textContent = "";
  return body;
}
const post = (path, body) => api(path, {method: "POST", headers: {"content-type": "application/json"},
                                        body: JSON.stringify(body || {})});
function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
const svg = (tag, attrs) => { const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v); return n; };
const hhmm = iso => iso.slice(5, 16).replace("T", " ");
const fileKind = name => String(name || "").split("-")[0];

// -- the graph: practitioners left, caisses in the middle, mutuelles and employers right --
function drawGraph(parties) {
  const columns = {ps: [], cpam: [], right: []};
  for (const p of parties) (p.role === "ps" ? columns.ps : p.role === "cpam" ? columns.cpam : columns.right).push(p);
  const rows = Math.max(columns.ps.length, columns.cpam.length, columns.right.length, 1);
  const width = 980, gap = 44, height = rows * gap + 30;
  const g = $("#graph");
  g.setAttribute("viewBox", `0 0 ${width} ${height}`);
  g.style.height = Math.min(height, 700) + "px";
  g.innerHTML = "";
  const edges = svg("g", {id: "edges"}); g.appendChild(edges);
  const xs = {ps: 140, cpam: 470, right: 760};
  for (const [column, members] of Object.entries(columns)) {
    const top = (height - members.length * gap) / 2 + gap / 2;
    members.forEach((p, i) => { state.parties[p.id] = {x: xs[column], y: top + i * gap, role: p.role}; });
  }
  // the links that carry files: each partner to its caisse, each mutuelle to every caisse
  for (const p of parties) {
    const targets = p.role === "oc" ? parties.filter(c => c.role === "cpam").map(c => c.id)
      : p.caisse ? [p.caisse] : [];
    for (const c of targets) if (state.parties[c]) {
      const a = state.parties[p.id], b = state.parties[c];
      edges.appendChild(svg("line", {class: "edge", x1: a.x, y1: a.y, x2: b.x, y2: b.y}));
    }
  }
  for (const p of parties) {
    const at = state.parties[p.id];
    const node = svg("g", {class: "party" + (p.external ? " external" : ""), "data-id": p.id, "data-role": p.role,
                           transform: `translate(${at.x},${at.y})`});
    node.appendChild(svg("circle", {r: 13, fill: ROLE_COLOURS[p.role] || "#eee"}));
    const label = svg("text", {x: p.role === "ps" ? -18 : 18, y: 4, "text-anchor": p.role === "ps" ? "end" : "start"});
    label.textContent = (p.external ? tr("[external]") + " " : "") + p.name;
    node.appendChild(label);
    const title = svg("title"); title.textContent = `${p.role} ${p.id}`; node.appendChild(title);
    g.appendChild(node);
    at.node = node;
  }
  document.body.dataset.parties = String(parties.length);
  fitLabels();
  const legend = $("#legend"); legend.innerHTML = "";
  for (const [k, c] of Object.entries(KIND_COLOURS)) {
    const s = el("span"); const dot = el("i"); dot.style.background = c; s.append(dot, k); legend.appendChild(s);
  }
}

// the parties' names stay readable (at least 14 px on the screen) whatever the graph's size
function fitLabels() {
  const width = $("#graph").getBoundingClientRect().width;
  if (!width) return;
  const size = Math.max(11, 14.5 * 980 / width);
  for (const t of document.querySelectorAll("#graph .party text")) t.style.fontSize = size + "px";
}
window.addEventListener("resize", fitLabels);

// a file's flight lasts long enough for a room to follow it with its eyes
const FLIGHT_MS = 2200;
window.FLIGHT_MS = FLIGHT_MS;

function fly(from, to, kind) {
  const a = state.parties[from], b = state.parties[to];
  state.moved += 1;
  document.body.dataset.moved = String(state.moved);
  if (!a || !b || state.flying > 60 || document.hidden) return;  // a burst: counted, not drawn
  const dot = svg("circle", {r: 6, class: "file", fill: KIND_COLOURS[kind] || "#555", cx: a.x, cy: a.y});
  $("#graph").appendChild(dot);
  state.flying += 1;
  const started = performance.now(), length = FLIGHT_MS;
  function step(now) {
    const t = Math.min(1, (now - started) / length);
    dot.setAttribute("cx", a.x + (b.x - a.x) * t); dot.setAttribute("cy", a.y + (b.y - a.y) * t);
    if (t < 1) requestAnimationFrame(step); else { dot.remove(); state.flying -= 1; }
  }
  requestAnimationFrame(step);
}

function alert(party) {
  const at = state.parties[party];
  if (!at || !at.node) return;
  at.node.classList.add("alert");
  setTimeout(() => at.node.classList.remove("alert"), 2500);
}

// -- the journal, as it comes ---------------------------------------------------------------
// the counters are the report's own numbers (/api/verdict), never counted here from events
function showCounters(counters) {
  state.counters = counters;
  for (const [name, value] of Object.entries(counters)) {
    let box = document.querySelector(`#counters [data-counter="${name}"]`);
    if (!box) { box = el("div", {"data-counter": name}); box.append(el("b", {}, "0"), word(name)); $("#counters").appendChild(box); }
    box.querySelector("b").textContent = value;
  }
}

function negative(e) {
  const d = e.details;
  if (e.kind === "arl-sent" && d.status !== "P") return String(e.file || "").split("/")[0];
  if (e.kind === "file-refused" || e.kind === "login-refused" || e.kind === "decompte-rejected") return e.actor;
  if (e.kind === "invoice-liquidated" && d.status === "rejected") return e.actor;
  return null;
}

let verdictSoon = null;  // one refresh of the report's numbers for a burst of events
function refreshSoon() {
  if (verdictSoon === null) verdictSoon = setTimeout(() => { verdictSoon = null; refreshVerdict(); }, 300);
}

function handle(e) {
  state.events += 1; state.lastSeq = e.seq;
  refreshSoon();
  document.body.dataset.events = String(state.events);
  if (e.kind === "file-sent") {
    fly(e.actor, e.details.to, fileKind(e.details.name));
    addExchange(e);
  }
  if (e.kind === "alert-firing" || e.kind === "alert-resolved") showAlert(e);

  const bad = negative(e);
  if (bad) alert(bad);
  if (e.chapter) showChapter(e.chapter);
  if (e.text) {
    const li = el("li", {class: e.kind === "fault" ? "fault" : bad ? "negative" : ""});
    li.append(el("time", {}, hhmm(e.at)), e.text);
    const list = $("#narration");
    list.prepend(li);
    while (list.children.length > 400) list.lastChild.remove();
  }
  $("#now").textContent = e.at.replace("T", " ").slice(0, 16) + " UTC";
}

// the guided tour: the chapter of what just happened, what it means, the file that carries it
const chaptersSeen = new Set();
function showChapter(c) {
  if (!chaptersSeen.has(c.number)) {  // its heading in the story, the first time, as the terminal's
    chaptersSeen.add(c.number);
    $("#narration").prepend(el("li", {class: "chapter"}, `${c.number}. ${c.title}`));
  }
  $("#chapter-title").textContent = `${c.number}. ${c.title}`;
  $("#chapter-text").textContent = c.explanation;
  $("#chapter-file").textContent = "⇢ " + c.carried_by;
  document.body.dataset.chapter = String(c.number);
}

function fillChapters(chapters) {
  const select = $("#chapter-jump");
  for (const c of chapters) select.appendChild(el("option", {value: c.kind}, `${c.number}. ${c.title}`));
}

// the alerts firing now, one badge each, gone when they resolve
function showAlert(e) {
  const d = e.details, key = d.alert + " " + Object.values(d.labels).join(" ");
  const box = $("#alerts-firing");
  const old = [...box.children].find(b => b.dataset.alert === key);
  if (old) old.remove();
  if (e.kind === "alert-firing") {
    const where = Object.values(d.labels).map(v => state.names[v] || v).join(" ");
    const badge = el("span", {class: `badge alert-${d.severity}`, "data-alert": key, title: d.summary || d.condition},
      `${d.alert}${where ? " (" + where + ")" : ""}`);
    box.appendChild(badge);
  }
}

function addExchange(e) {
  const tr = el("tr", {"data-file": e.archive_id || "", class: "exchange"});
  const name = state.names[e.actor] || e.actor, to = state.names[e.details.to] || e.details.to;
  for (const text of [hhmm(e.at), name, to, e.details.name, fileKind(e.details.name)]) tr.appendChild(el("td", {}, text));
  if (e.archive_id) tr.addEventListener("click", () => inspect(e.archive_id, e.details.name));
  const body = $("#exchanges tbody");
  body.prepend(tr);
  while (body.children.length > 300) body.lastChild.remove();
}

function listen() {
  const source = new EventSource(`/api/events/stream?after=${state.lastSeq}`);
  source.addEventListener("journal", m => handle(JSON.parse(m.data)));
  source.addEventListener("end", () => { source.close(); refreshClock(); refreshReport(); });
}

// -- the file inspector --------------------------------------------------------------------
async function inspect(id, name) {
  $("#inspector").hidden = false;
  $("#inspected").textContent = `${id} ${name || ""}`;
  const explain = $("#tab-explain"), validation = $("#tab-validation"), seal = $("#tab-seal");
  for (const t of [explain, validation, seal]) t.textContent = tr("loading…");
  try {
    const tree = await api(`/api/files/${id}/explain`);
    explain.innerHTML = "";
    explain.appendChild(el("p", {}, `${tree.kind}: ${tree.title} — ${tree.count} ${tr("records")}, ${tree.bytes} ${tr("bytes")}`));
    for (const r of tree.records) {
      const box = el("div", {class: "record"}); box.style.marginLeft = (r.depth * 18) + "px";
      box.appendChild(el("div", {class: "head"}, `#${r.index} ${r.name} — ${r.label}${r.level}`));
      const table = el("table");
      for (const f of r.fields) { const tr = table.insertRow(); for (const t of [f.name, f.value, f.label]) tr.appendChild(el("td", {}, t)); }
      box.appendChild(table); explain.appendChild(box);
    }
    explain.appendChild(el("p", {class: tree.anomaly_count ? "invalid" : "valid"},
      tree.anomaly_count ? `${tree.anomaly_count} ${tr("anomalies")}` : tr("Checked: counts and totals agree, keys valid.")));
    document.body.dataset.explained = String(tree.records.length);
  } catch (err) { explain.textContent = String(err.message); document.body.dataset.explained = "0"; }
  try {
    const v = await api(`/api/files/${id}/validation`);
    validation.innerHTML = "";
    validation.appendChild(el("p", {class: v.valid ? "valid" : "invalid"}, v.valid ? `${tr("valid")} ${v.kind} (${v.title})` : `${v.anomaly_count} ${tr("anomalies")}`));
    const list = el("ul"); for (const a of v.anomalies) list.appendChild(el("li", {}, a)); validation.appendChild(list);
  } catch (err) { validation.textContent = String(err.message); }
  try {
    const s = await api(`/api/files/${id}/seal`);
    seal.innerHTML = "";
    if (!s.readable) { seal.textContent = `${tr("cannot be opened by")} ${s.recipient}: ${s.reason}`; return; }
    const table = el("table");
    const rows = [["recipient", `${s.envelope.recipient} (${s.envelope.recipient_subject})`],
      ["envelope", `${s.envelope.type}, ${s.envelope.content_encryption}, key transport ${s.envelope.key_transport}`],
      ["signer", `${s.signature.signer} (${s.signature.signer_subject}), serial ${s.signature.signer_serial}`],
      ["issuer", s.signature.signer_issuer], ["signature", `${s.signature.algorithm}, digest ${s.signature.digest}`],
      ["sealed", `${s.bytes} bytes, SHA-256 ${s.sha256}`],
      ["opened at " + hhmm(s.at), s.opened.valid ? `valid, sent by ${s.opened.sender}` : `refused: ${s.opened.reason}`]];
    for (const [k, v] of rows) { const tr = table.insertRow(); tr.appendChild(el("th", {}, k)); tr.appendChild(el("td", {}, v)); }
    seal.appendChild(table);
  } catch (err) { seal.textContent = String(err.message); }
}
for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => {
  for (const o of document.querySelectorAll(".tabs button")) o.classList.toggle("on", o === b);
  for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== "tab-" + b.dataset.tab;
});

// -- clock, faults, verdict -----------------------------------------------------------------
async function refreshClock() {
  const c = await api("/api/clock");
  state.clock = c;
  const badge = $("#state"); badge.textContent = word(c.state); badge.className = "badge " + c.state;
  badge.dataset.state = c.state;
  if (c.now) $("#now").textContent = c.now.replace("T", " ").slice(0, 16) + " UTC";
  $("#clock-mode").textContent = c.mode ? `(${word(c.mode)}${c.speed ? ", " + c.speed + "x" : ""})` : "";
  for (const n of document.querySelectorAll(".virtual-only")) n.hidden = c.mode !== "virtual";
  for (const n of document.querySelectorAll(".scaled-only")) n.hidden = c.mode !== "scaled";
  if (c.speed && document.activeElement !== $("#speed")) $("#speed").value = c.speed;
  const live = c.state === "running" || c.state === "paused";
  for (const b of document.querySelectorAll("#controls button")) b.disabled = !live;
}

async function refreshVerdict() {
  if (!state.clock || state.clock.state === "starting") return;
  const v = await api("/api/verdict?lang=" + document.documentElement.lang);
  showCounters(v.counters);
  const badge = $("#verdict-badge");
  badge.textContent = `${v.final ? tr("verdict") : tr("verdict so far")} ${word(v.verdict)}`;
  badge.className = "badge " + v.verdict;
  const gauges = $("#gauges"); gauges.innerHTML = "";
  for (const c of v.checks.filter(c => c.group === "sla")) {
    const row = el("div", {class: "gauge" + (c.passed ? "" : " fail")});
    const bar = el("span", {class: "bar"}); const fill = el("i");
    // the gauge fills with the check's own figures (its message's values), never parsed text
    const figures = c.said.message[0].values;
    fill.style.width = ("done" in figures && figures.count ? 100 * figures.done / figures.count : c.passed ? 0 : 100) + "%";
    bar.appendChild(fill);
    row.append(el("span", {class: "name"}, c.name.replace("sla.", "")), bar, el("span", {}, c.message));
    gauges.appendChild(row);
  }
}

async function refreshReport() {
  if (!state.clock || state.clock.state === "starting") return;
  drawReport(await api("/api/report?lang=" + document.documentElement.lang), $("#report"));
}

$("#pause").addEventListener("click", () => post("/api/clock/pause").then(refreshClock));
$("#resume").addEventListener("click", () => post("/api/clock/resume").then(refreshClock));
$("#set-speed").addEventListener("click", () => post("/api/clock/speed", {speed: +$("#speed").value}).then(refreshClock));
// +1 h, +1 day and the next event on either clock: a virtual one advances (and pauses there),
// a scaled one jumps (the steps due meanwhile run at once, then it goes on at its speed)
const virtualClock = () => state.clock && state.clock.mode === "virtual";
function moveBy(duration) {
  return post(virtualClock() ? "/api/clock/advance" : "/api/clock/jump", {by: duration}).then(refreshClock);
}
function nextEvent() {
  const next = state.clock && state.clock.next_step;
  if (virtualClock()) return next ? post("/api/clock/advance", {to: next.at}).then(refreshClock) : null;
  return post("/api/clock/jump", {to: "next"}).then(refreshClock);
}
for (const b of document.querySelectorAll("[data-advance-by]"))
  b.addEventListener("click", () => moveBy(b.dataset.advanceBy));
$("#next-event").addEventListener("click", nextEvent);
// the presenter's keys: space pauses or resumes, → goes to the next event
document.addEventListener("keydown", e => {
  if (e.target.closest && e.target.closest("input, select, textarea, button")) return;
  if (e.key === " ") {
    e.preventDefault();
    post(state.clock && state.clock.paused ? "/api/clock/resume" : "/api/clock/pause").then(refreshClock);
  } else if (e.key === "ArrowRight") {
    e.preventDefault();
    nextEvent();
  }
});
$("#go-chapter").addEventListener("click", () =>
  post("/api/clock/advance", {until_event: $("#chapter-jump").value}).then(refreshClock));
$("#advance-until").addEventListener("click", () =>
  post("/api/clock/advance", {until_event: $("#until-kind").value}).then(refreshClock));
$("#inject").addEventListener("click", async () => {
  const kind = $("#fault-kind").value, option = $("#fault-kind").selectedOptions[0];
  const body = {kind, target: $("#fault-target").value};
  if (option.dataset.lasts === "true") body.duration = $("#fault-duration").value;
  if (kind === "clock-skew") body.offset = $("#fault-duration").value;
  const r = await post("/api/faults", body);
  $("#fault-result").textContent = `${r.kind} ${tr("on")} ${state.names[r.target] || r.target} ${tr("at")} ${hhmm(r.at)}`;
});
$("#trace").addEventListener("click", async () => {
  const [ps, number] = $("#invoice").value.trim().split("/");
  const t = await api(`/api/invoices/${encodeURIComponent(ps || "-")}/${encodeURIComponent(number || "-")}/trace`);
  const table = $("#hops"); table.innerHTML = "";
  const head = table.insertRow(); for (const h of [tr("simulated time"), tr("after"), tr("who"), tr("what"), tr("file")]) head.appendChild(el("th", {}, h));
  for (const h of t.hops) {
    const tr = table.insertRow();
    const after = h.since_previous_hours === null ? "" : h.since_previous_hours.toFixed(1) + " h";
    for (const text of [hhmm(h.at), after, state.names[h.actor] || h.actor, h.what, h.file || ""]) tr.appendChild(el("td", {}, text));
  }
});
$("#refresh-report").addEventListener("click", refreshReport);

function fillFaults(kinds, parties) {
  const kind = $("#fault-kind"), target = $("#fault-target");
  for (const k of kinds) {
    const o = el("option", {value: k.kind, "data-targets": k.targets, "data-lasts": String(k.lasts), title: k.description}, k.kind);
    kind.appendChild(o);
  }
  function targets() {
    const role = kind.selectedOptions[0].dataset.targets;
    target.innerHTML = "";
    for (const p of parties) if (role === "any" || p.role === role) target.appendChild(el("option", {value: p.id}, `${p.name} (${p.id})`));
  }
  kind.addEventListener("change", targets);
  kind.value = "corrupt-lot"; targets();  // a PS's broken record: a negative ARL to explain
}

(async function start() {
  let network = await api("/api/network");
  $("#scenario").textContent = network.scenario;
  if (!network.norms.builtin) {  // a vendor's layout tables: say which, next to the scenario
    $("#norms").textContent = `${tr("norms")}: ${network.norms.name}`;
    $("#norms").title = `norms pack digest ${network.norms.digest}`;
  }
  document.title = `noemie-sim — ${network.scenario}`;
  await refreshClock();
  while (!network.parties.length && network.state === "starting") {  // the PKI is being made
    await new Promise(r => setTimeout(r, 500));
    network = await api("/api/network");
  }
  for (const p of network.parties) state.names[p.id] = p.name;
  drawGraph(network.parties);
  fillFaults((await api("/api/faults")).kinds, network.parties);
  fillChapters((await api("/api/chapters")).chapters);
  listen();
  await refreshClock();
  setInterval(refreshClock, 1000);
  setInterval(() => { if (!document.hidden) refreshVerdict(); }, 4000);
  refreshVerdict();
  $("#loading").hidden = true;
  document.body.dataset.ready = "yes";
})();
