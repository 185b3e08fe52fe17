"""What every Python the package claims (``requires-python``) needs from the code itself:
no API that a supported or the next interpreter deprecates or removed."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "esp_cabundle"

# Names removed in Python 3.14 (deprecated in 3.12): importlib.abc.Traversable and
# importlib.abc.TraversableResources (use importlib.resources.abc).
REMOVED_314 = {("importlib.abc", "Traversable"), ("importlib.abc", "TraversableResources")}


def test_no_name_removed_in_the_next_python() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if (node.module, alias.name) in REMOVED_314:
                        # Allowed only as the fallback for interpreters before 3.11.
                        found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in {"Traversable"}:
                base = ast.unparse(node.value)
                if base in ("importlib.abc", "abc"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    allowed = _pre_311_fallbacks()
    assert set(found) <= allowed, sorted(set(found) - allowed)


def _pre_311_fallbacks() -> set[str]:
    """``from importlib.abc import Traversable`` in the else branch of a
    ``sys.version_info >= (3, 11)`` test: never run on 3.11 and later."""
    out = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.If) and "sys.version_info >= (3, 11)" in ast.unparse(node.test):
                for inner in node.orelse:
                    if isinstance(inner, ast.ImportFrom):
                        out.add(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    return out


def test_importing_every_module_warns_nothing_of_ours() -> None:
    """A fresh interpreter imports every module; no DeprecationWarning (or other
    warning) may come from the package's own code, on whichever Python runs the suite."""
    code = r"""
import importlib, json, pkgutil, warnings, sys
import esp_cabundle
seen = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for m in pkgutil.walk_packages(esp_cabundle.__path__, "esp_cabundle."):
        if not m.name.endswith("__main__"):
            importlib.import_module(m.name)
    import esp_cabundle.roadmaps as r
    r.roadmap_names()
for w in caught:
    if "esp_cabundle" in (w.filename or ""):
        seen.append(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}")
print(json.dumps(seen))
"""
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1]) == []
