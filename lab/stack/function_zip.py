"""Builds a Lambda deployment zip: the function's source plus the packages it
pins in its ``requirements.txt``, bundled (layers are a paid LocalStack feature).

The packages are copied from the distributions installed in the lab's venv,
which the lock file pins to the same versions. That needs no package index, so
it works offline, and the zip is byte-for-byte reproducible: provisioning can
compare its hash with the deployed code and skip an update that changes nothing.

A function's ``shared.txt`` names files of other folders that its zip carries at
its root (the order schema the API and the worker share).
"""

import base64
import hashlib
import importlib.metadata
import io
import sys
import zipfile
from pathlib import Path

from lab.core.errors import LabError

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# events/: sample events to try the handler with, not part of the function.
SKIPPED_PARTS = {"__pycache__", "tests", "events"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
MANIFESTS = {"requirements.txt", "shared.txt"}  # read to build the zip, not part of it


class BuildError(LabError):
    """The zip cannot be built as the function's requirements.txt asks."""


def _lines(manifest: Path) -> list[str]:
    """The lines of a manifest without comments and blanks; none if it is absent."""
    if not manifest.exists():
        return []
    return [line for raw in manifest.read_text().splitlines() if (line := raw.split("#", 1)[0].strip())]


def pinned_requirements(requirements: Path) -> list[tuple[str, str]]:
    pins = []
    for line in _lines(requirements):
        name, sep, version = line.partition("==")
        if not sep:
            raise BuildError(f"{requirements}: {line!r} must pin an exact version (name==version)")
        pins.append((name.strip(), version.strip()))
    return pins


def _wanted(relative: Path) -> bool:
    return not (SKIPPED_PARTS & set(relative.parts)) and relative.suffix not in SKIPPED_SUFFIXES


def collect_files(source_dir: Path) -> dict[str, Path]:
    """Archive name -> file on disk, for the source and each pinned package."""
    files = {}
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if path.is_file() and _wanted(relative) and relative.name not in MANIFESTS:
            files[relative.as_posix()] = path
    for line in _lines(source_dir / "shared.txt"):
        shared = (source_dir / line).resolve()
        if not shared.is_file():
            raise BuildError(f"{source_dir / 'shared.txt'}: {line} is not a file")
        files[shared.name] = shared
    requirements = source_dir / "requirements.txt"
    for name, version in pinned_requirements(requirements):
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(f"{name}=={version} ({requirements}) is not installed: run `make venv`") from None
        if distribution.version != version:
            raise BuildError(
                f"{name} {distribution.version} is installed but {requirements} pins {version}: "
                "make the lock file and the function's requirements agree"
            )
        for entry in distribution.files or []:
            relative = Path(entry)
            if relative.parts[0] == ".." or not _wanted(relative):
                continue  # scripts outside site-packages, bytecode
            files[relative.as_posix()] = Path(entry.locate())
    return files


def build_zip(source_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(collect_files(source_dir).items()):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """The digest Lambda reports as CodeSha256 (base64 of the SHA-256)."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def main(argv: list[str]) -> int:
    """``python -m lab.stack.function_zip SOURCE_DIR OUTPUT.zip``: how the lab's
    LocalStack image builds the worker's zip (its packages on PYTHONPATH)."""
    if len(argv) != 2:
        print("usage: python -m lab.stack.function_zip SOURCE_DIR OUTPUT.zip", file=sys.stderr)
        return 2
    try:
        Path(argv[1]).write_bytes(build_zip(Path(argv[0])))
    except BuildError as error:
        print(f"function_zip: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
