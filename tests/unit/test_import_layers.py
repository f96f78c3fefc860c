"""The project's folders import one another in layers: no folder imports one
that imports it back (scripts/import-graph, which anyone can run)."""

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
    assert "lab -> (nothing of the project)" in result.stdout  # the bottom layer


def test_a_cycle_is_found_and_named():
    graph = load_script()
    assert graph.find_cycle({"lab": {"producer"}, "producer": {"lab"}, "bench": {"lab"}}) == ["lab", "producer", "lab"]
    assert graph.find_cycle({"bench": {"lab", "producer"}, "producer": {"lab"}, "lab": set()}) is None
