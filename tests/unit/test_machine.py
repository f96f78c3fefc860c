"""The test suite's parallelism comes from the machine: workers from its cores
and free memory, labs of their own no more than its cores, and a setting wins."""

from lab.core import machine, settings


def sized(monkeypatch, cores, free_mb, workers=0, labs=0):
    monkeypatch.setattr(machine, "cores", lambda: cores)
    monkeypatch.setattr(machine, "available_memory_mb", lambda: free_mb)
    monkeypatch.setattr(settings, "TEST_WORKERS", workers)
    monkeypatch.setattr(settings, "LABS_AT_ONCE", labs)


def test_two_cores_with_memory_to_spare_run_eight_workers_and_three_labs(monkeypatch):
    sized(monkeypatch, cores=2, free_mb=20_000)
    assert (machine.test_workers(), machine.labs_at_once()) == (8, 3)


def test_a_laptop_short_of_memory_runs_fewer_and_never_none(monkeypatch):
    sized(monkeypatch, cores=8, free_mb=2_000)  # 8 GB, a browser and Docker Desktop beside
    assert (machine.test_workers(), machine.labs_at_once()) == (5, 1)
    sized(monkeypatch, cores=1, free_mb=100)
    assert (machine.test_workers(), machine.labs_at_once()) == (1, 1)


def test_a_setting_overrides_the_machine(monkeypatch):
    sized(monkeypatch, cores=2, free_mb=20_000, workers=3, labs=1)
    assert (machine.test_workers(), machine.labs_at_once()) == (3, 1)
    assert "3 test workers and 1 labs" in machine.describe()


def test_the_real_machine_gives_figures():
    assert machine.cores() >= 1 and machine.available_memory_mb() > 0
