"""Both tiers: `-n auto` (pyproject.toml) asks this hook how many xdist workers to
start, and the machine answers (lab/machine.py), instead of a constant."""

from lab import machine


def pytest_xdist_auto_num_workers(config):
    return machine.test_workers()
