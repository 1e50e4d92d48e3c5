// The WikiStream local console. Renders /api/state every second, or, in a snapshot
// written at the end of a run, the state inlined as window.CONSOLE_SNAPSHOT.
"use strict";

const charts = {};
let selected = null; // execution name the user clicked; null follows the latest
const palette = ["#0972d3", "#d91515", "#037f0c", "#8d6605", "#7d2105", "#6f42c1"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function clock(epoch) {
  return epoch ? new Date(epoch * 1000).toISOString().slice(11, 19) + "Z" : "";
}

function renderStatus(state, live) {
  const ok = state.executions.filter((e) => e.status === "SUCCEEDED").length;
  document.getElementById("status").textContent =
    `run #${state.run} · ${state.phase} · ${state.elapsed_s.toFixed(0)} s · ` +
    `${state.executions.length} executions, ${ok} succeeded` +
    (live ? " · live" : " · snapshot of " + new Date(state.now * 1000).toISOString());
  document.getElementById("count-executions").textContent = state.executions.length;
  document.getElementById("count-alerts").textContent = state.alerts.length;
}

function renderExecutions(state) {
  const body = document.getElementById("execution-rows");
  body.replaceChildren();
  const names = state.executions.map((e) => e.name);
  const shown = names.includes(selected) ? selected : names[names.length - 1];
  for (const e of state.executions.slice().reverse()) {
    const row = el("tr", { "data-execution": e.name, "data-status": e.status },
      el("td", {}, e.name), el("td", { class: "status " + e.status }, e.status),
      el("td", {}, clock(e.start)), el("td", {}, e.duration_s.toFixed(1) + " s"),
      el("td", {}, e.current || e.states[e.states.length - 1] || ""));
    if (e.name === shown) row.classList.add("selected");
    row.addEventListener("click", () => { selected = e.name; renderExecutions(state); });
    body.append(row);
  }
  const execution = state.executions.find((e) => e.name === shown);
  renderGraph(state.graph, execution);
  renderFailures(execution);
}

function renderGraph(graph, execution) {
  const root = document.getElementById("graph");
  root.replaceChildren();
  if (!graph) return;
  document.getElementById("graph-title").textContent =
    execution ? `State graph — ${execution.name} (${execution.status})` : "State graph";
  const W = 170, H = 26, DX = 185, DY = 38;
  const at = {};
  for (const n of graph.nodes) at[n.name] = { x: 10 + n.col * DX, y: 8 + n.row * DY };
  const width = Math.max(...graph.nodes.map((n) => at[n.name].x)) + W + 40;
  const height = Math.max(...graph.nodes.map((n) => at[n.name].y)) + H + 10;
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("height", height);
  const visited = new Set(execution ? execution.states : []);
  const failed = new Set(execution ? execution.failed.map((f) => f.state) : []);
  const order = execution ? execution.states : [];
  const taken = new Set(order.slice(1).map((s, i) => order[i] + ">" + s));
  for (const e of graph.edges) {
    const a = at[e.from], b = at[e.to];
    const ay = a.y + H / 2, by = b.y + H / 2;
    let d;
    if (a.x === b.x && b.y - a.y === DY) {
      d = `M${a.x + W / 2},${a.y + H} L${b.x + W / 2},${b.y}`; // next row, same column
    } else if (b.x > a.x) {
      d = `M${a.x + W},${ay} C${b.x - 10},${ay} ${a.x + W + 10},${by} ${b.x},${by}`;
    } else if (b.x < a.x) {
      d = `M${a.x},${ay} C${b.x + W + 10},${ay} ${a.x - 10},${by} ${b.x + W},${by}`;
    } else {
      const bend = a.x + W + 12 + Math.min(40, (b.y - a.y) / 12);
      d = `M${a.x + W},${ay} C${bend},${ay} ${bend},${by} ${b.x + W},${by}`;
    }
    const cls = (e.kind === "catch" ? "catch " : "") + (taken.has(e.from + ">" + e.to) ? "taken" : "");
    root.append(svg("path", { d, class: cls.trim() }));
  }
  for (const n of graph.nodes) {
    const cls = ["state"];
    if (visited.has(n.name)) cls.push("visited");
    if (failed.has(n.name)) cls.push("failed");
    if (execution && execution.current === n.name) cls.push("current");
    const g = svg("g", { class: cls.join(" "), "data-state": n.name, transform: `translate(${at[n.name].x},${at[n.name].y})` });
    g.append(svg("rect", { width: W, height: H }));
    const t = svg("text", { x: W / 2, y: H / 2 });
    t.textContent = n.name;
    g.append(t);
    const title = svg("title", {});
    title.textContent = `${n.name} (${n.type})`;
    g.append(title);
    root.append(g);
  }
}

function renderFailures(execution) {
  const box = document.getElementById("failures");
  box.replaceChildren(el("h3", {}, execution ? `Execution ${execution.name}` : "No execution yet"));
  if (!execution) return;
  box.append(el("p", {}, `Status `, el("span", { class: "status " + execution.status }, execution.status),
    ` · started ${clock(execution.start)} · ${execution.duration_s.toFixed(1)} s` +
    (execution.current ? ` · in ${execution.current}` : "")));
  box.append(el("p", { class: "muted" }, execution.states.join(" → ")));
  for (const f of execution.failed) {
    let cause = f.cause;
    try { cause = JSON.stringify(JSON.parse(f.cause), null, 2); } catch (e) { /* plain text */ }
    box.append(el("div", { class: "failure", "data-failed-state": f.state },
      el("b", {}, `${f.state} failed: ${f.error}`), el("pre", {}, cause)));
  }
}

function renderDashboard(state) {
  const grid = document.getElementById("widgets");
  for (const w of state.dashboard.widgets) {
    let chart = charts[w.title];
    const datasets = w.lines.map((line, i) => ({
      label: `${line.label} (${line.stat})`,
      data: line.points.map(([x, y]) => ({ x, y })),
      borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
      pointRadius: 2, borderWidth: 1.5, tension: 0,
    }));
    const points = w.lines.reduce((n, l) => n + l.points.length, 0);
    if (!chart) {
      const canvas = el("canvas", {});
      const box = el("div", { class: "widget", "data-widget": w.title }, el("h3", {}, w.title), canvas,
        el("div", { class: "empty" }, "no data yet"));
      grid.append(box);
      if (window.Chart) {
        chart = new window.Chart(canvas, {
          type: "line", data: { datasets },
          options: {
            animation: false, maintainAspectRatio: false, parsing: false,
            scales: { x: { type: "linear", title: { display: true, text: `seconds since start (${state.dashboard.bucket_s} s buckets)` } }, y: { beginAtZero: true } },
            plugins: { legend: { labels: { boxWidth: 10, font: { size: 10 } } } },
          },
        });
      } else {
        chart = { data: {}, update() {} }; // no charting library: the numbers still count
      }
      charts[w.title] = chart;
    } else {
      chart.data.datasets = datasets;
    }
    if (chart.options) { // one time axis for every widget, as on the CloudWatch dashboard
      chart.options.scales.x.min = 0;
      chart.options.scales.x.max = Math.ceil(state.elapsed_s / state.dashboard.bucket_s) * state.dashboard.bucket_s;
      chart.update("none");
    }
    const box = grid.querySelector(`[data-widget="${CSS.escape(w.title)}"]`);
    box.setAttribute("data-points", points);
    box.querySelector(".empty").style.display = points ? "none" : "block";
  }
}

function renderAlerts(state) {
  const inbox = document.getElementById("inbox");
  inbox.replaceChildren();
  if (!state.alerts.length) inbox.append(el("p", { class: "muted" }, "No alerts."));
  for (const a of state.alerts.slice().reverse()) {
    let body = a.message;
    try { body = JSON.stringify(JSON.parse(a.message), null, 2); } catch (e) { /* plain text */ }
    inbox.append(el("div", { class: "alert", "data-alert": a.subject },
      el("div", { class: "subject" }, a.subject || "(no subject)"),
      el("div", { class: "time" }, `${a.time || ""} · ${a.topic || ""}`), el("pre", {}, body)));
  }
}

function renderTables(state) {
  const layers = document.getElementById("layers");
  layers.replaceChildren(...Object.entries(state.layers).map(([layer, rows]) =>
    el("div", { "data-layer": layer }, el("b", {}, rows.toLocaleString("en")), `${layer} rows`)));
  const body = document.getElementById("table-rows");
  body.replaceChildren(...state.tables.map((t) => el("tr", { "data-table": t.table },
    el("td", {}, t.table), el("td", {}, t.rows === null ? "—" : t.rows.toLocaleString("en")),
    el("td", {}, t.snapshot ? String(t.snapshot.id) : "—"), el("td", {}, t.snapshot ? t.snapshot.operation : ""),
    el("td", {}, t.snapshot ? clock(t.snapshot.committed_at) : ""), el("td", {}, t.snapshot ? t.snapshot.count : ""))));
}

function render(state, live) {
  renderStatus(state, live);
  renderExecutions(state);
  renderDashboard(state);
  renderAlerts(state);
  renderTables(state);
  document.body.setAttribute("data-updated", String(state.now));
}

async function poll() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    if (response.ok) render(await response.json(), true);
    else document.getElementById("status").textContent = `console: HTTP ${response.status}`;
  } catch (e) {
    document.getElementById("status").textContent = "console server gone (the run ended); see the snapshot in the data directory";
    return;
  }
  setTimeout(poll, 1000);
}

if (window.CONSOLE_SNAPSHOT) render(window.CONSOLE_SNAPSHOT, false);
else poll();
