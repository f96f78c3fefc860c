"""The bench's picture: bench/results.html, three charts drawn by the chart library
the dashboard already ships (uPlot, dashboard/static/vendor), so that measuring
needs no plotting stack installed. The page carries the library and the data
inline: it opens from the file, with no server and no network."""

import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "dashboard" / "static" / "vendor"
# Log-spaced bins: the warm bulk and the rare cold start both show.
LATENCY_BINS = 40

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>make bench: %(title)s</title>
<style>%(css)s
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
</style>
</head>
<body>
<h1>make bench: %(title)s</h1>
<div class="charts" id="charts"></div>
<script>%(js)s</script>
<script>
const DATA = %(data)s;
const COLOURS = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828"];
function chart(title, xLabel, yLabel, x, series, extra = {}) {
  const el = document.createElement("div");
  document.getElementById("charts").appendChild(el);
  new uPlot({
    title, width: 560, height: 340,
    scales: { x: { time: false, ...(extra.xScale || {}) } },
    series: [{ label: xLabel }, ...series.map(([label, _], n) => ({
      label, stroke: COLOURS[n %% COLOURS.length], width: 2, spanGaps: true,
      ...(extra.bars ? { fill: COLOURS[n %% COLOURS.length] + "99", paths: uPlot.paths.bars({ size: [0.9] }) } : {}),
    }))],
    axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
  }, [x, ...series.map(([_, values]) => values)], el);
}
const h = DATA.latency;
chart(`Idle end-to-end latency, real worker (${h.orders} orders)`, "ms (log scale)", "orders",
      h.ms, [["orders", h.counts]], { bars: true, xScale: { distr: 3 } });
const t = DATA.throughput;
chart(`Throughput: ${t.messages} messages processed over time`, "s since the first send", "processed",
      t.seconds, t.series);
const m = DATA.memory;
chart("Memory during the run (proportional: shared pages counted once)", "s", "MB", m.seconds, m.series);
</script>
</body>
</html>
"""


def latency_histogram(latencies: list[float]) -> dict:
    low, high = min(latencies), max(latencies)
    ratio = high / low if high > low else 1.0001
    edges = [low * ratio ** (n / LATENCY_BINS) for n in range(LATENCY_BINS + 1)]
    counts = [0] * LATENCY_BINS
    for value in latencies:
        index = next((n for n in range(LATENCY_BINS) if value < edges[n + 1]), LATENCY_BINS - 1)
        counts[index] += 1
    centres = [round((edges[n] * edges[n + 1]) ** 0.5, 2) for n in range(LATENCY_BINS)]
    return {"orders": len(latencies), "ms": centres, "counts": counts}


def on_one_axis(progress: dict[str, list[tuple[float, int]]]) -> tuple[list[float], list]:
    """uPlot draws series over one x: each run's counts at every run's times (null between its own)."""
    times = sorted({round(t, 2) for points in progress.values() for t, _ in points})
    series = []
    for label, points in progress.items():
        at = {round(t, 2): n for t, n in points}
        series.append([label, [at.get(t) for t in times]])
    return times, series


def write(path: Path, title: str, latencies: list[float], progress: dict, memory_rows: list, messages: int) -> None:
    """memory_rows: (time, emulator MB, functions MB, environments), as lab.core.processes.MemorySampler keeps them."""
    seconds, series = on_one_axis(progress)
    start = memory_rows[0][0] if memory_rows else 0
    data = {
        "latency": latency_histogram(latencies),
        "throughput": {"messages": messages, "seconds": seconds, "series": series},
        "memory": {
            "seconds": [round(row[0] - start, 1) for row in memory_rows],
            "series": [
                ["LocalStack", [round(row[1]) for row in memory_rows]],
                ["function processes (all stacks of the run)", [round(row[2]) for row in memory_rows]],
            ],
        },
    }
    path.write_text(
        PAGE
        % {
            "title": title,
            "css": (VENDOR / "uPlot.min.css").read_text(),
            "js": (VENDOR / "uPlot.iife.min.js").read_text(),
            "data": json.dumps(data),
        }
    )
