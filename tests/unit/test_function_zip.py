"""The worker's deployment zip: its code and pinned packages, byte for byte the
same on every build (provisioning skips an update that changes nothing)."""

import io
import zipfile

import pytest

from lab.stack.function_zip import BuildError, build_zip, pinned_requirements
from unit_support import WORKER_DIR


@pytest.fixture(scope="module")
def worker_zip() -> bytes:
    return build_zip(WORKER_DIR)


def test_the_zip_is_reproducible(worker_zip):
    assert build_zip(WORKER_DIR) == worker_zip


def test_the_zip_holds_the_handler_its_packages_and_nothing_else(worker_zip):
    names = zipfile.ZipFile(io.BytesIO(worker_zip)).namelist()
    assert {
        "app.py",
        "effects.py",
        "lab_faults.py",
        "schemas.py",
        "aws_lambda_powertools/__init__.py",
        "fastjsonschema/__init__.py",
    } <= set(names)
    assert not [name for name in names if name.endswith(".pyc") or name.startswith(("events/", "tests/"))]
    assert "requirements.txt" not in names


def test_an_unpinned_requirement_is_refused(tmp_path):
    (tmp_path / "requirements.txt").write_text("aws-lambda-powertools>=3\n")
    with pytest.raises(BuildError, match="must pin an exact version"):
        pinned_requirements(tmp_path / "requirements.txt")


def test_a_pin_that_differs_from_the_installed_version_is_refused(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context): return None\n")
    (tmp_path / "requirements.txt").write_text("fastjsonschema==0.0.1\n")
    with pytest.raises(BuildError, match="make the lock file and the function's requirements agree"):
        build_zip(tmp_path)


def test_a_function_s_zip_carries_the_files_its_shared_txt_names():
    names = zipfile.ZipFile(io.BytesIO(build_zip(WORKER_DIR.parent / "order_api"))).namelist()
    assert {"app.py", "schemas.py", "aws_lambda_powertools/__init__.py"} <= set(names)
    assert "shared.txt" not in names and not [name for name in names if name.startswith("events/")]


def test_a_shared_file_that_is_missing_is_refused(tmp_path):
    (tmp_path / "shared.txt").write_text("../nowhere/schemas.py\n")
    with pytest.raises(BuildError, match="nowhere/schemas.py is not a file"):
        build_zip(tmp_path)
