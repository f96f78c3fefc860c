"""An image that copies only some of lab/ copies everything those modules
import from lab/ and every file they read beside them, each to the folder it
comes from: a module added to the import chain of the producer once broke its
container (ModuleNotFoundError)."""

import ast
import re

from unit_support import PROJECT_ROOT

DOCKERFILES = [PROJECT_ROOT / "producer" / "Dockerfile", *sorted((PROJECT_ROOT / "docker").glob("*.Dockerfile"))]


def copied_lab_files(dockerfile) -> set[str]:
    """The files of the image's `COPY lab/... <folder>/` lines (a line copying lab/
    whole is left out); each must land in the folder it comes from."""
    copied = set()
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] != ["COPY"] or not all(w.startswith("lab/") and not w.endswith("/") for w in words[1:-1]):
            continue
        if words[1:-1] == [] or words[-1] == "lab/" and words[1:-1] == ["lab/"]:
            continue
        for source in words[1:-1]:
            folder = source.rsplit("/", 1)[0] + "/"
            assert words[-1] == folder, f"{dockerfile.name}: {source} is copied to {words[-1]}, not {folder}"
            copied.add(source)
    return copied


def needs(path: str) -> set[str]:
    """The lab/ files a module imports (with their packages' __init__.py), and
    the files it reads beside itself."""
    source = (PROJECT_ROOT / path).read_text()
    folder = path.rsplit("/", 1)[0]
    found = {f"{folder}/{name}" for name in re.findall(r'with_name\("([^"]+)"\)', source)}
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lab"):
            modules |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names if alias.name.startswith("lab.")}
    for module in modules:
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            package = "/".join(parts[:depth])
            if (PROJECT_ROOT / package / "__init__.py").exists():
                found.add(f"{package}/__init__.py")
            elif (PROJECT_ROOT / f"{package}.py").exists():
                found.add(f"{package}.py")
    return found


def test_every_partial_copy_of_lab_carries_what_its_modules_import_and_read():
    checked = 0
    for dockerfile in DOCKERFILES:
        copied = copied_lab_files(dockerfile)
        for module in sorted(name for name in copied if name.endswith(".py")):
            missing = needs(module) - copied
            assert not missing, f"{dockerfile.relative_to(PROJECT_ROOT)}: {module} needs {sorted(missing)}"
            checked += 1
    assert checked >= 7  # the producer's core modules and the function-zip stage's


def test_the_lab_imports_and_exports_localstack_s_settings_with_only_what_the_localstack_image_copies(tmp_path):
    """LocalStack's image carries lab/, init/ and functions/, not exercises/: its
    entrypoint's settings, and the whole command line, import there (ci21 saw the
    container exit when the quiz read its questions at import)."""
    import shutil
    import subprocess
    import sys

    for folder in ("lab", "init", "functions"):
        shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)}

    def python(*arguments: str) -> str:
        result = subprocess.run([sys.executable, *arguments], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    assert "export LAMBDA_RUNTIME_EXECUTOR=" in python("-m", "lab.core.settings", "--localstack-exports")
    assert python("-c", "import lab.__main__; print(lab.__file__)").strip() == str(tmp_path / "lab" / "__init__.py")
