"""make bench's picture: the data the page draws is the run's, binned and aligned."""

import json
import re

from bench import picture


def test_every_latency_lands_in_one_bin_of_the_histogram():
    latencies = [1.0, 2.0, 2.5, 9.9, 10.0, 640.0]
    histogram = picture.latency_histogram(latencies)
    assert sum(histogram["counts"]) == len(latencies)
    assert histogram["counts"][0] == 1 and histogram["counts"][-1] == 1  # the fastest, the slowest
    assert histogram["ms"] == sorted(histogram["ms"])


def test_runs_of_different_times_share_one_axis_with_gaps_where_a_run_has_no_sample():
    seconds, series = picture.on_one_axis({"a": [(0.0, 0), (1.0, 10)], "b": [(0.5, 5)]})
    assert seconds == [0.0, 0.5, 1.0]
    assert series == [["a", [0, None, 10]], ["b", [None, 5, None]]]


def test_the_page_carries_the_chart_library_and_the_data_inline(tmp_path):
    page = tmp_path / "results.html"
    rows = [(100.0, 500.0, 80.0, 2), (100.5, 510.0, 90.0, 2)]
    picture.write(page, "the lab", [3.0, 4.0], {"run": [(0.0, 0), (2.0, 100)]}, rows, 100)
    html = page.read_text()
    assert "src=" not in html and "href=" not in html  # nothing to fetch: it opens from the file
    assert "uPlot" in html
    data = json.loads(re.search(r"const DATA = (.*);\n", html).group(1))
    assert data["memory"]["seconds"] == [0.0, 0.5]
    assert data["memory"]["series"][0] == ["LocalStack", [500, 510]]
    assert data["throughput"]["messages"] == 100
