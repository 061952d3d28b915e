// The charts and tables of a run's report, drawn by Chart.js from the report's JSON (the same
// function draws the offline report.html and the live page's "report so far").
// drawReport(R, root) fills root; each chart marks its canvas data-rendered="yes" with its
// axes' titles, a chart without data says so instead (data-rendered="empty"); when done, root
// carries data-charts and data-empty (the counts of each).
// Its words are in the page's language: rt(message, values) looks them up in window.MESSAGES (given
// with the page; tools/catalogue.py extracts them), numbers and money as <html lang> writes them.
"use strict";
Chart.defaults.animation = false;
Chart.defaults.responsive = false;
Chart.defaults.devicePixelRatio = 1;
Chart.defaults.font.size = 12;
function row(table, cells, head) {
  const tr = table.insertRow();
  for (const c of cells) { const td = document.createElement(head ? "th" : "td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); }
}
// a word of the page in its language, its {placeholders} filled from values
function rt(m, values) {
  const text = (window.MESSAGES && window.MESSAGES[m]) || m;
  return values ? text.replace(/\{(\w+)\}/g, (all, k) => (k in values ? String(values[k]) : all)) : text;
}
const FRENCH = document.documentElement.lang === "fr";
const VERDICTS = {pass: rt("pass"), fail: rt("fail"), incomplete: rt("incomplete"), skipped: rt("skipped"),
  conform: rt("conform"), "not conform": rt("not conform"), firing: rt("firing")};
function verdict(v, cls) { const s = document.createElement("span"); s.className = cls || v; s.textContent = VERDICTS[v] || v; return s; }
// a number as the page's language writes it ("1 234,5" in French, as it always was in English)
function num(v) { return v === null || v === undefined ? "-" : FRENCH ? Number(v).toLocaleString("fr-FR") : String(v); }
function euros(c) {
  return FRENCH ? (c / 100).toLocaleString("fr-FR", {style: "currency", currency: "EUR"}) : (c / 100).toFixed(2) + " €";
}
// "MM-DD HH:MM" of a simulated time in milliseconds (the run's times are UTC)
function when(ms) { return new Date(ms).toISOString().slice(5, 16).replace("T", " "); }
// a chart, marked for the tests and for anyone reading the page's DOM: its axes' titles
function chart(canvas, config) {
  const c = new Chart(canvas, config);
  const scales = c.options.scales || {};
  canvas.dataset.rendered = "yes";
  canvas.dataset.xTitle = scales.x && scales.x.title ? scales.x.title.text : "";
  canvas.dataset.yTitle = scales.y && scales.y.title ? scales.y.title.text : "";
  canvas.dataset.points = c.data.datasets.reduce(
    (n, d) => n + d.data.filter(p => p !== null && (typeof p !== "object" || p.y !== null)).length, 0);
  return c;
}
function noData(parent, name, text) {
  const p = document.createElement("p"); p.className = "nodata"; p.dataset.chart = name;
  p.dataset.rendered = "empty"; p.textContent = text; parent.appendChild(p); return p;
}
function axis(title, extra) { return Object.assign({title: {display: true, text: title}}, extra || {}); }
const REPORT_SKELETON = () => `
<p id="verdict" data-verdict=""></p>
<p id="summary"></p>
<h2>${rt("Checks")}</h2><p class="note">${rt("Every check of the verdict: the run's completeness, each SLA, each expectation, each check of each external party.")}</p>
<table id="checks"></table>
<h2>${rt("External parties")}</h2><table id="externals"></table>
<h2>${rt("Exchanges between actors (timeline)")}</h2>
<p class="note">${rt("Each line is a file, from its sender's lane to its receiver's, at its simulated time; red triangles are negative outcomes (negative ARL, refused file, rejected invoice or décompte), on the lane of who said so.")}</p>
<canvas data-chart="timeline" width="1080" height="300"></canvas>
<h2>${rt("Delays against their SLAs")}</h2><table id="sla"></table>
<p class="note">${rt("One histogram per flow, in the hours of the table, with its limit as a red line (a limit in jours ouvrés is drawn at 24 h a day: a weekend or a holiday in between lengthens it).")}</p>
<div id="histograms"></div>
<h2>${rt("Volume per hour")}</h2><canvas data-chart="hourly" width="1080" height="240"></canvas>
<h2>${rt("Automation rate and payments")}</h2><canvas data-chart="automation" width="1080" height="110"></canvas>
<table id="money"></table>
<h2>${rt("Money by kind of care")}</h2><p class="note">${rt("Each kind of care's invoices, reconciled per invoice: what was billed (the dépassements among it), and who paid it.")}</p>
<table id="money-by-care"></table>
<h2>${rt("Rejects by code")}</h2><div id="rejects"></div>
<h2>${rt("Alerts")}</h2><p class="note">${rt("The scenario's alerting rules that fired, in simulated time: when, on what value, and when they resolved.")}</p>
<table id="alerts"></table>
<h2>${rt("Expectations")}</h2><table id="expect"></table>
`;
function drawReport(R, root) {
  for (const canvas of root.querySelectorAll("canvas")) { const c = Chart.getChart(canvas); if (c) c.destroy(); }
  root.innerHTML = REPORT_SKELETON();
  // the verdict and every check behind it (computed by the harness: verdict.py)
  (function () {
    const v = root.querySelector("#verdict");
    v.dataset.verdict = R.verdict;
    v.append(rt("Verdict:") + " "); v.appendChild(verdict(R.verdict));
    v.append(" (" + rt("exit {code}", {code: R.exit_code}) +
      (R.failed.length ? "; " + rt("failed: {checks}", {checks: R.failed.join(", ")}) + ")" : ")"));
    const t = root.querySelector("#checks");
    row(t, [rt("check"), rt("verdict"), rt("what"), rt("measured or why")], true);
    for (const c of R.checks) {
      const shown = c.skipped ? "skipped" : c.passed ? "pass" : (c.group === "run" ? "incomplete" : "fail");
      row(t, [c.name, verdict(shown, c.skipped ? "note" : shown), c.description, c.message]);
      t.rows[t.rows.length - 1].cells[3].className = "why";
    }
    const x = root.querySelector("#externals");
    if (!R.externals.length) { x.insertRow().insertCell().textContent = rt("none: every party was simulated"); return; }
    row(x, [rt("party"), rt("role"), rt("verdict"), rt("reasons")], true);
    for (const e of R.externals) {
      row(x, [e.party, e.role, verdict(e.verdict, e.verdict === "conform" ? "pass" : "fail"), e.reasons.join("\n") || "-"]);
      x.rows[x.rows.length - 1].cells[3].className = "why";
    }
  })();
  root.querySelector("#summary").textContent = rt("Seed {seed}, {start} → {end}: {files} files, {lots} lots, {invoices} invoices, {decomptes} décomptes, {ij} IJ. Verdict: {verdict}. Journal digest {digest}.",
    {seed: R.seed, start: R.start, end: R.end, files: num(R.counts.files), lots: num(R.counts.lots),
     invoices: num(R.counts.invoices), decomptes: num(R.counts.decomptes), ij: num(R.counts.ij),
     verdict: VERDICTS[R.verdict] || R.verdict, digest: R.digest});
  // timeline: a lane per role, a segment per file, red triangles for negative outcomes
  (function () {
    const canvas = root.querySelector('[data-chart="timeline"]');
    const lanes = {employer: 0, oc: 1, cpam: 2, ps: 3}, names = [rt("Employers"), rt("Mutuelles"), rt("CPAM"), rt("PS")];
    const colors = {FSE: "#1f77b4", ARL: "#2ca02c", NOE: "#9467bd", DEC: "#ff7f0e", OCR: "#8c564b", IJ: "#17becf"};
    const lane = id => lanes[R.roles[id] || "ps"];
    // a tick a day (every few days for a long run), at the run's start time of day
    const t0 = Date.parse(R.start), t1 = Date.parse(R.end), day = 86400000;
    const step = day * Math.max(1, Math.ceil((t1 - t0) / day / 12));
    const byKind = {};
    for (const [at, from, to, kind] of R.timeline) {
      const t = Date.parse(at), k = colors[kind] ? kind : "other";
      // {y: null} ends the segment: the next file starts a new one
      (byKind[k] = byKind[k] || []).push({x: t, y: lane(from)}, {x: t, y: lane(to)}, {x: t, y: null});
    }
    const datasets = Object.entries(byKind).map(([k, data]) => ({
      label: k, data, showLine: true, spanGaps: false, pointRadius: 0, borderWidth: 1,
      borderColor: colors[k] || "#555", backgroundColor: colors[k] || "#555"}));
    datasets.push({label: rt("negative outcome"), data: R.negatives.map(([at, actor]) => ({x: Date.parse(at), y: lane(actor)})),
      pointStyle: "triangle", pointRadius: 6, borderColor: "#b3261e", backgroundColor: "#d64c4c", showLine: false});
    chart(canvas, {type: "scatter", data: {datasets}, options: {
      plugins: {legend: {position: "bottom"}, tooltip: {callbacks: {label: c => `${c.dataset.label} ${when(c.parsed.x)}`}}},
      scales: {
        x: axis(rt("simulated time (UTC, month-day hour)"), {type: "linear", min: t0, max: t1,
          ticks: {stepSize: step, callback: v => when(v), maxTicksLimit: 14}}),
        y: axis(rt("actors"), {min: -0.5, max: 3.5,
          afterBuildTicks: scale => { scale.ticks = [0, 1, 2, 3].map(value => ({value})); },
          ticks: {callback: v => names[v] || ""}})}}});
  })();
  // SLA table and one histogram per SLA, with its limit
  (function () {
    const t = root.querySelector("#sla");
    row(t, [rt("flow"), rt("what it measures"), rt("limit"), rt("done"), rt("p50 (h)"), rt("p95 (h)"), rt("max (h)"), rt("breaches"), rt("pending"), rt("verdict")], true);
    const box = root.querySelector("#histograms");
    for (const s of R.sla) {
      row(t, [s.name, s.what || "", s.limit, num(s.done) + "/" + num(s.count), num(s.p50_hours), num(s.p95_hours), num(s.max_hours), num(s.breaches), num(s.pending), verdict(s.verdict)]);
      const title = document.createElement("div");
      title.textContent = rt("{flow}: delays of {done} of {count}, limit {limit}", {flow: s.name, done: num(s.done), count: num(s.count), limit: s.limit});
      box.appendChild(title);
      if (!s.histogram.length) { noData(box, "sla-" + s.name, rt("no data: nothing of this flow completed in the run")); continue; }
      const width = s.histogram.length > 1 ? s.histogram[1][0] - s.histogram[0][0] : 1;
      const canvas = document.createElement("canvas");
      canvas.width = 530; canvas.height = 200; canvas.dataset.chart = "sla-" + s.name;
      canvas.dataset.limitHours = s.limit_hours; canvas.dataset.binHours = width;
      box.appendChild(canvas);
      const limitText = s.limit_business ? rt("limit {limit} ({hours} h without weekend)", {limit: s.limit, hours: num(s.limit_hours)})
        : rt("limit {limit}", {limit: s.limit});
      // bin i is the category centred on i and covers [i x width, (i + 1) x width) hours: a
      // delay of v hours sits at v / width - 0.5
      const at = s.limit_hours / width - 0.5;
      chart(canvas, {type: "bar", data: {labels: s.histogram.map(([start]) => `${start}–${start + width}`),
          datasets: [{label: rt("items"), data: s.histogram.map(([, n]) => n),
            backgroundColor: s.verdict === "pass" ? "#4c8bd6" : "#d64c4c", barPercentage: 1, categoryPercentage: 0.95}]},
        options: {plugins: {legend: {display: false},
            annotation: {annotations: {limit: {type: "line", xMin: at, xMax: at, borderColor: "#b3261e", borderWidth: 2,
              label: {display: true, content: limitText, position: "end", backgroundColor: "rgba(179,38,30,0.8)", font: {size: 11}}}}}},
          scales: {x: axis(rt("delay (hours, bins of {width} h)", {width: num(width)})), y: axis(rt("items"), {beginAtZero: true, ticks: {precision: 0}})}}});
    }
  })();
  // every hour of the run, the empty ones too
  (function () {
    const canvas = root.querySelector('[data-chart="hourly"]');
    if (!R.hourly.length) { noData(canvas.parentNode, "hourly", rt("no data: no file was sent")); canvas.remove(); return; }
    chart(canvas, {type: "bar", data: {labels: R.hourly.map(([h]) => when(Date.parse(h)).slice(0, 8) + "h"),
        datasets: [{label: rt("files sent"), data: R.hourly.map(([, n]) => n), backgroundColor: "#6a9f58"}]},
      options: {plugins: {legend: {display: false}},
        scales: {x: axis(rt("simulated hour (UTC, month-day hour)"), {ticks: {maxTicksLimit: 24}}), y: axis(rt("files sent"), {beginAtZero: true, ticks: {precision: 0}})}}});
  })();
  (function () {
    const canvas = root.querySelector('[data-chart="automation"]');
    const rate = R.automation_rate;
    if (rate === null || rate === undefined) { noData(canvas.parentNode, "automation", rt("no data: no invoice was billed")); canvas.remove(); }
    else chart(canvas, {type: "bar", data: {labels: [rt("invoices")], datasets: [{label: rt("paid without a reject (%)"), data: [+(rate * 100).toFixed(1)], backgroundColor: "#187a30"}]},
      options: {indexAxis: "y", plugins: {legend: {display: false}},
        scales: {x: axis(rt("% of invoices paid without a reject"), {min: 0, max: 100}), y: axis("")}}});
    const m = root.querySelector("#money");
    row(m, [rt("billed"), rt("AMO"), rt("C2S (caisse)"), rt("mutuelles"), rt("patients"), rt("late penalties")], true);
    row(m, [euros(R.money.billed), euros(R.money.amo), euros(R.money.c2s || 0), euros(R.money.oc), euros(R.money.patient), euros(R.money.penalties)]);
    // a report of an earlier version has no money by care
    const cares = Object.entries(R.money_by_care || {});
    const t = root.querySelector("#money-by-care");
    if (!cares.length) { const p = document.createElement("p"); p.className = "note"; p.id = "money-by-care"; p.textContent = rt("no data: no invoice was billed"); t.replaceWith(p); return; }
    row(t, [rt("care"), rt("invoices"), rt("lines"), rt("billed"), rt("dépassements"), rt("AMO"), rt("C2S (caisse)"), rt("mutuelles"), rt("patients")], true);
    for (const [care, c] of cares)
      row(t, [care, num(c.invoices), num(c.lines), euros(c.billed), euros(c.depassements), euros(c.amo), euros(c.c2s), euros(c.oc), euros(c.patient)]);
  })();
  // rejects by code, with their labels
  (function () {
    const box = root.querySelector("#rejects");
    const flows = {amo: rt("caisse → PS"), arl: rt("ARL"), oc: rt("mutuelle"), refused_files: rt("refused file")};
    const items = [];
    for (const [flow, label] of Object.entries(flows))
      for (const [code, n] of Object.entries(R.rejects[flow] || {}))
        items.push([`${label} ${code}` + ((R.reject_labels[flow] || {})[code] ? ` — ${R.reject_labels[flow][code]}` : ""), n]);
    if (!items.length) { noData(box, "rejects", rt("no reject and no refusal in the run")); return; }
    const canvas = document.createElement("canvas");
    canvas.width = 1080; canvas.height = 60 + 26 * items.length; canvas.dataset.chart = "rejects"; box.appendChild(canvas);
    chart(canvas, {type: "bar", data: {labels: items.map(i => i[0]), datasets: [{label: rt("count"), data: items.map(i => i[1]), backgroundColor: "#b3261e"}]},
      options: {indexAxis: "y", plugins: {legend: {display: false}},
        scales: {x: axis(rt("count"), {beginAtZero: true, ticks: {precision: 0}}), y: axis(rt("code"))}}});
  })();
  (function () {
    const t = root.querySelector("#alerts");
    const alerts = R.alerts || [];
    if (!alerts.length) { const p = document.createElement("p"); p.className = "note"; p.id = "alerts"; p.textContent = rt("no alert fired"); t.replaceWith(p); return; }
    row(t, [rt("alert"), rt("severity"), rt("labels"), rt("condition"), rt("value"), rt("fired"), rt("resolved")], true);
    for (const a of alerts)
      row(t, [a.name, a.severity, Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(" "),
              a.condition, String(a.value), a.fired_at.slice(0, 16).replace("T", " "),
              a.resolved_at ? a.resolved_at.slice(0, 16).replace("T", " ") : verdict("firing", "fail")]);
  })();
  (function () {
    const t = root.querySelector("#expect");
    row(t, [rt("expectation"), rt("expected"), rt("measured"), rt("verdict")], true);
    for (const e of R.expectations) row(t, [e.name, String(e.expected), String(e.actual), verdict(e.verdict)]);
    root.dataset.charts = root.querySelectorAll('[data-rendered="yes"]').length;
    root.dataset.empty = root.querySelectorAll('[data-rendered="empty"]').length;
  })();
}
