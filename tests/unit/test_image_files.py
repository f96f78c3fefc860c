"""An image that copies only some of lab/ copies everything those modules
import from lab/ and every file they read beside them: a module added to the
import chain of the producer once broke its container (ModuleNotFoundError)."""

import ast
import re

from unit_support import PROJECT_ROOT

LAB = PROJECT_ROOT / "lab"
DOCKERFILES = [PROJECT_ROOT / "producer" / "Dockerfile", *sorted((PROJECT_ROOT / "docker").glob("*.Dockerfile"))]


def copied_lab_files(dockerfile) -> list[set[str]]:
    """Each `COPY lab/<file> ... lab/` line's file names (a line copying lab/ whole is left out)."""
    copies = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if (
            words[:1] == ["COPY"]
            and words[-1] == "lab/"
            and all(w.startswith("lab/") and w != "lab/" for w in words[1:-1])
        ):
            copies.append({word.removeprefix("lab/") for word in words[1:-1]})
    return copies


def needs(module: str) -> set[str]:
    """The lab/ files a module imports, and the files it reads beside itself."""
    source = (LAB / module).read_text()
    found = set(re.findall(r'with_name\("([^"]+)"\)', source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "lab":
            found |= {f"{alias.name}.py" for alias in node.names if (LAB / f"{alias.name}.py").exists()}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lab."):
            found.add(f"{node.module.split('.')[1]}.py")
        elif isinstance(node, ast.Import):
            found |= {f"{alias.name.split('.')[1]}.py" for alias in node.names if alias.name.startswith("lab.")}
    return found


def test_every_partial_copy_of_lab_carries_what_its_modules_import_and_read():
    checked = 0
    for dockerfile in DOCKERFILES:
        for copied in copied_lab_files(dockerfile):
            for module in (name for name in copied if name.endswith(".py")):
                missing = needs(module) - copied
                assert not missing, f"{dockerfile.relative_to(PROJECT_ROOT)}: lab/{module} needs {sorted(missing)}"
                checked += 1
    assert checked >= 5  # the producer's four modules and the function-zip stage's
