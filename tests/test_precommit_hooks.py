""".pre-commit-hooks.yaml: each hook is a valid pre-commit manifest entry, README's
snippet names them and pins the release, and each hook run as pre-commit runs it (its
``entry`` split by shlex, the staged files its ``files`` pattern matches appended unless
``pass_filenames: false``) passes on examples/make and fails on what it guards."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from support.doc_commands import REPO, child_env

HOOKS = REPO / ".pre-commit-hooks.yaml"
DST = REPO / "tests" / "data" / "letsencrypt" / "dst-root-ca-x3.pem"  # expired 2021
# pre-commit's manifest schema (pre_commit/clientlib.py, MANIFEST_HOOK_DICT): the
# required keys and the optional ones a hook may carry.
REQUIRED = {"id", "name", "entry", "language"}
OPTIONAL = {
    "alias", "files", "exclude", "types", "types_or", "exclude_types",
    "additional_dependencies", "args", "always_run", "fail_fast", "pass_filenames",
    "description", "language_version", "log_file", "require_serial", "stages",
    "verbose", "minimum_pre_commit_version",
}  # fmt: skip


def hooks() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load(HOOKS.read_text())
    assert isinstance(doc, list)
    return {h["id"]: h for h in doc}


def run_hook(
    hook: dict[str, object], staged: list[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The hook as pre-commit runs it on ``staged`` (paths relative to ``cwd``)."""
    files = str(hook.get("files", ""))
    matched = [f for f in staged if re.search(files, f)]
    assert matched, f"{hook['id']}: no staged file matches {files!r}: pre-commit skips it"
    argv = shlex.split(str(hook["entry"]))
    if hook.get("pass_filenames", True):
        argv += matched
    return subprocess.run(
        argv, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_manifest_entries_are_valid() -> None:
    found = hooks()
    assert set(found) == {"cabundle-locked", "cabundle-expiry"}
    for hook_id, hook in found.items():
        assert set(hook) >= REQUIRED, hook_id
        assert set(hook) <= REQUIRED | OPTIONAL, hook_id
        assert hook["language"] == "python"  # pre-commit installs this repository
        assert shlex.split(str(hook["entry"]))[0] == "esp-cabundle"  # the console script
        re.compile(str(hook["files"]))


def test_files_patterns_match_what_they_guard() -> None:
    found = hooks()
    locked = str(found["cabundle-locked"]["files"])
    expiry = str(found["cabundle-expiry"]["files"])
    for path in ["cabundle.yaml", "fw/cabundle.yml", "cabundle.lock", "chains/mdash.net.pem"]:
        assert re.search(locked, path), path
    for path in ["README.md", "src/main.c", "mycabundle.yaml", "build/ca.pem"]:
        assert not re.search(locked, path), path
    assert re.search(expiry, "data/ca.pem") and re.search(expiry, "ca.pem")
    assert not re.search(expiry, "data/myca.pem.bak")


def test_readme_snippet_names_the_hooks_and_pins_the_release() -> None:
    text = (REPO / "README.md").read_text()
    (block,) = re.findall(r"```yaml \.pre-commit-config\.yaml\n(.*?)```", text, re.S)
    (repo,) = yaml.safe_load(block)["repos"]
    (version,) = re.findall(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert repo["rev"] == f"v{version}"
    assert [h["id"] for h in repo["hooks"]] == list(hooks())


@pytest.mark.timeout(300)
def test_hooks_pass_on_the_make_example_and_fail_on_what_they_guard(scratch: Path) -> None:
    d = scratch / "make"
    found = hooks()
    staged = ["cabundle.yaml", "cabundle.lock", "README.md"]
    first = run_hook(found["cabundle-locked"], staged, d)
    assert first.returncode == 0, first.stderr
    outputs = {p: p.read_bytes() for p in (d / "build").iterdir()}
    again = run_hook(found["cabundle-locked"], staged, d)
    assert again.returncode == 0, again.stderr
    # pre-commit fails a commit whose hook changed a file: a rerun changes none.
    assert {p: p.read_bytes() for p in (d / "build").iterdir()} == outputs

    ok = run_hook(found["cabundle-expiry"], ["build/ca.pem", "Makefile"], d)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (d / "old").mkdir()
    (d / "old" / "ca.pem").write_bytes(DST.read_bytes())
    bad = run_hook(found["cabundle-expiry"], ["build/ca.pem", "old/ca.pem"], d)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "DST Root CA X3" in bad.stdout + bad.stderr

    lock = d / "cabundle.lock"
    lock.write_text(re.sub(r'"[0-9a-f]{64}"', '"' + "0" * 64 + '"', lock.read_text(), count=1))
    drift = run_hook(found["cabundle-locked"], staged, d)
    assert drift.returncode == 1, drift.stdout + drift.stderr
