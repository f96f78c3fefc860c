"""Both tiers: `-n auto` (pyproject.toml) asks this hook how many xdist workers to
start, and the machine answers (lab/core/machine.py), instead of a constant."""

import pytest

from lab.core import machine


@pytest.hookimpl(optionalhook=True)  # a run without xdist (-p no:xdist) has no such hook
def pytest_xdist_auto_num_workers(config):
    return machine.test_workers()
