"""What every Python the package claims (``requires-python``) needs from the code itself:
no API that a supported or the next interpreter deprecates or removed."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import Certificate
from esp_cabundle.cli import cli

# What differs between interpreters: run on every CI Python (tests/support/shards.py).
pytestmark = pytest.mark.every_python

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


# --- no check that cannot run passes silently ------------------------------------------


def test_parse_check_runs_without_python_mbedtls(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an interpreter without python-mbedtls (CPython 3.13 before it was built from
    source) build's 'unparseable' policy and inspect's parse note still run: the parse
    model is the run-time check, so no command silently skips it."""
    from tests.support import parse_corpus as pc
    from tests.support.verify_pki import mint

    for name in [m for m in sys.modules if m == "mbedtls" or m.startswith("mbedtls.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mbedtls", None)  # its import fails
    root = mint("No Lib Root")
    nc = pc.with_extensions(root, root.key, pc.ext("2.5.29.30", pc.NC, True))
    (in_tmp / "nc.pem").write_text(Certificate.from_der(nc).pem())
    r = runner.invoke(cli, ["build", "--no-lock", "--root", "nc.pem"])
    assert r.exit_code == 1 and "not parseable by mbedTLS" in r.stderr, r.output
    assert not (in_tmp / "ca.pem").exists()
    r = runner.invoke(cli, ["inspect", "nc.pem"])
    assert r.exit_code == 0 and "-0x2562" in r.output, r.output


# --- the versions claimed are the versions tested ------------------------------------

REPO = PACKAGE.parent


def test_claimed_versions_start_at_requires_python_and_all_get_mbedtls() -> None:
    """pyproject's 3.X classifiers (what .ci/run tests on every machine that has them)
    start at requires-python's bound with no gap, and the verify extra (real mbedTLS)
    is not excluded on any of them."""
    import re

    text = (REPO / "pyproject.toml").read_text()
    claimed = [int(m) for m in re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', text)]
    (lowest,) = re.findall(r'^requires-python = ">=3\.(\d+)"$', text, re.M)
    assert claimed == list(range(int(lowest), int(lowest) + len(claimed))), claimed
    assert max(claimed) >= 13
    (verify,) = re.findall(r"^verify = \[(.*)\]$", text, re.M)
    assert "python-mbedtls" in verify and "python_version" not in verify, verify
    ci = (REPO / ".ci" / "run").read_text()
    assert '"Programming Language :: Python :: (3\\.\\d+)"' in ci  # .ci/run reads them
    assert "import mbedtls" in ci  # and insists on a real mbedTLS in every run
