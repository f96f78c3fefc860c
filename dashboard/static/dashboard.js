// Polls /api/state every second and draws it. Each chart keeps the latest values
// it drew in data-latest, so a test can check that the drawing shows the API's counts.
const REFRESH_MS = 1000;
const HEIGHT = 240;
const width = (el) => Math.max(280, el.parentElement.clientWidth - 8);
// One line per time label (uPlot's default adds the date under the first), and
// room for each, so that they never overlap however narrow the chart.
const clockTime = (seconds) => new Date(seconds * 1000).toTimeString().slice(0, 8);
const TIME_AXIS = { space: 90, values: (plot, ticks) => ticks.map(clockTime) };

function chart(id, series) {
  const el = document.getElementById(id);
  const opts = {
    width: width(el), height: HEIGHT,
    scales: { x: { time: true } },
    series: [{ value: (plot, t) => (t == null ? "–" : clockTime(t)) },
      ...series.map(([label, stroke]) => ({ label, stroke, width: 3 }))],
    axes: [TIME_AXIS, { size: 60 }],
  };
  return { el, plot: new uPlot(opts, [[], ...series.map(() => [])], el) };
}

const charts = {
  depth: chart("chart-depth", [["waiting", "#1565c0"], ["in flight", "#ef6c00"], ["DLQ", "#c62828"]]),
  rate: chart("chart-rate", [["processed/s", "#2e7d32"]]),
  invocations: chart("chart-invocations", [["invocations/s", "#1565c0"], ["errors/s", "#c62828"], ["in flight at once", "#6a1b9a"]]),
};
function resizeCharts() {
  for (const { el, plot } of Object.values(charts)) plot.setSize({ width: width(el), height: HEIGHT });
}
window.addEventListener("resize", resizeCharts);
document.addEventListener("lab-layout", () => { resizeCharts(); fitFlowTexts(); });

// Each text of a box in the flow picture fits inside its box: a long stack name
// or a count of many digits gets a smaller type, never runs out of its box.
const BOX_PADDING = 14;
function fitFlowTexts() {
  for (const box of document.querySelectorAll("#flow g.box")) {
    const room = box.querySelector("rect").width.baseVal.value - 2 * BOX_PADDING;
    for (const text of box.querySelectorAll("text")) {
      text.style.fontSize = "";
      let size = parseFloat(getComputedStyle(text).fontSize);
      while (text.getComputedTextLength() > room && size > 8) {
        size -= 1;
        text.style.fontSize = `${size}px`;
      }
    }
  }
}

// Per-second rates from cumulative counts of consecutive samples.
function perSecond(samples, key) {
  return samples.map((s, i) => (i === 0 ? 0 : Math.max(0, (s[key] - samples[i - 1][key]) / (s.t - samples[i - 1].t))));
}

function draw(name, xs, columns) {
  charts[name].plot.setData([xs, ...columns]);
  charts[name].el.dataset.latest = JSON.stringify(columns.map((c) => (c.length ? c[c.length - 1] : null)));
}

// The rate of a cumulative count over the last RATE_WINDOW_S seconds of samples.
const RATE_WINDOW_S = 5;
function recentRate(samples, key) {
  const last = samples[samples.length - 1];
  const first = samples.find((s) => last.t - s.t <= RATE_WINDOW_S) || last;
  return last.t > first.t ? Math.max(0, (last[key] - first[key]) / (last.t - first.t)) : 0;
}

// Everything the lab counts that a sent order becomes: its growth is the rate
// orders arrive (an estimate: an order retried or filtered away is not counted).
function accounted(s) { return s.visible + s.in_flight + s.dlq + s.stored; }

function setText(id, text) { document.getElementById(id).textContent = text; }

// The flow picture; each box keeps the count it shows in data-count, each
// arrow's label its rate in data-rate, for the browser test.
function drawFlow(state, samples) {
  const last = samples[samples.length - 1];
  const perS = (value) => `${value.toFixed(1)}/s`;
  const withArrivals = samples.map((s) => ({ ...s, accounted: accounted(s) }));
  const counts = {
    "flow-queue-count": last.visible + last.in_flight, "flow-dlq-count": last.dlq,
    "flow-function-count": last.invocations, "flow-store-count": last.stored, "flow-email-count": last.emails,
  };
  for (const [id, count] of Object.entries(counts)) {
    setText(id, count);
    document.getElementById(id).dataset.count = count;
  }
  const short = (name) => (name.length > 22 ? `${name.slice(0, 21)}…` : name);  // a test stack's long names
  setText("flow-queue-name", short(state.stack.queue));
  setText("flow-dlq-name", short(state.stack.dlq));
  setText("flow-function-name", short(state.stack.function));
  setText("flow-queue-detail", `${last.visible} waiting · ${last.in_flight} in flight`);
  setText("flow-mapping-state", `${state.mapping.state} · batch ${state.mapping.batch_size ?? "–"}`);
  setText("flow-mapping-detail", `up to ${state.mapping.maximum_concurrency ?? "–"} at once`);
  setText("flow-function-detail", `invocations · ${last.errors} with errors`);
  setText("flow-function-running", `${last.concurrency} running now`);
  const rates = {
    "flow-rate-in": [recentRate(withArrivals, "accounted"), (r) => `${perS(r)} in`],
    "flow-rate-batches": [recentRate(samples, "invocations"), (r) => `${perS(r)} batches`],  // one invocation each
    "flow-rate-stored": [recentRate(samples, "stored"), perS],
    "flow-rate-emails": [recentRate(samples, "emails"), perS],
    "flow-rate-failed": [recentRate(samples, "failed_records"), (r) => `${perS(r)} failed: back after the visibility timeout`],
    "flow-rate-dlq": [recentRate(samples, "dlq"), (r) => `${perS(r)} to the DLQ`],
  };
  for (const [id, [rate, label]] of Object.entries(rates)) {
    setText(id, label(rate));
    document.getElementById(id).dataset.rate = rate.toFixed(3);
  }
  fitFlowTexts();
}

function render(state) {
  const samples = state.samples || [];
  if (!samples.length) return;
  const last = samples[samples.length - 1];
  document.getElementById("stack").textContent =
    `${state.stack.queue} → ${state.stack.function} (mapping ${state.mapping.state}, batch size ${state.mapping.batch_size}); DLQ ${state.stack.dlq}`;
  for (const key of ["visible", "in_flight", "dlq", "stored", "emails", "denied"]) {
    document.getElementById(`tile-${key}`).textContent = last[key];
  }
  document.getElementById("tile-invocations").textContent = `${last.invocations} / ${last.errors}`;
  document.getElementById("tile-concurrency").textContent = `${last.concurrency} / ${state.mapping.maximum_concurrency ?? "–"}`;
  drawFlow(state, samples);
  const xs = samples.map((s) => s.t);
  draw("depth", xs, [samples.map((s) => s.visible), samples.map((s) => s.in_flight), samples.map((s) => s.dlq)]);
  draw("rate", xs, [perSecond(samples, "stored")]);
  draw("invocations", xs, [perSecond(samples, "invocations"), perSecond(samples, "errors"), samples.map((s) => s.concurrency)]);
  const body = document.querySelector("#poison tbody");
  body.replaceChildren(...state.poison.map((m) => {
    const row = document.createElement("tr");
    for (const value of [m.id, m.receives, `${m.age_s} s`, m.body]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    return row;
  }));
  document.body.dataset.sampleTime = last.t;
  document.dispatchEvent(new CustomEvent("lab-state", { detail: state }));  // the guide's checks (guide.js)
}

async function refresh() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    render(await response.json());
  } catch (error) {
    document.getElementById("stack").textContent = `cannot reach the dashboard server: ${error}`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
