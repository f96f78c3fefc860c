"""The project's folders, and lab/'s subpackages, import one another in layers:
nothing imports what imports it back, and no layer of lab/ imports one above it
(scripts/import-graph, which anyone can run)."""

import importlib.machinery
import importlib.util
import subprocess
import sys

from unit_support import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "import-graph"


def load_script():
    loader = importlib.machinery.SourceFileLoader("import_graph", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("import_graph", loader))
    loader.exec_module(module)
    return module


def test_the_folders_import_each_other_without_a_cycle():
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "lab/core -> (nothing of the project)" in result.stdout  # the bottom layer
    assert "producer -> lab/core\n" in result.stdout  # the producer's image carries lab/core only


def test_a_cycle_is_found_and_named():
    graph = load_script()
    assert graph.find_cycle({"lab": {"producer"}, "producer": {"lab"}, "bench": {"lab"}}) == ["lab", "producer", "lab"]
    assert graph.find_cycle({"bench": {"lab", "producer"}, "producer": {"lab"}, "lab": set()}) is None


def test_an_arrow_up_lab_s_layers_is_found_and_named():
    graph = load_script()
    layers = {unit: set() for unit in graph.LAB_LAYERS}
    assert graph.arrows_up({**layers, "lab/stack": {"lab/core", "lab/watch"}}) == []
    assert graph.arrows_up({**layers, "lab/core": {"lab/teach"}}) == [("lab/core", "lab/teach")]
