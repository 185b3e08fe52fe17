"""examples/ci: the workflow's esp-cabundle steps pass today and fail on what they
guard (a root about to expire, a target that would be refused), and its pip line
installs the package it pins."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from support.doc_commands import (
    REPO,
    Command,
    child_env,
    command,
    freeze_clock,
    markdown_commands,
    run_all,
    run_command,
    workflow_commands,
)
from support.tools import requires

from esp_cabundle.certs import load_certificates


def test_ci_workflow_passes_today(scratch: Path) -> None:
    d = scratch / "ci"
    cmds = workflow_commands(d / "cabundle.yml")
    assert [c.argv[1] for c in cmds] == ["build", "inspect", "check"]
    run_all(cmds, d)
    assert "timeline-svg" in (d / "forecast.html").read_text()
    run_all(markdown_commands(d / "README.md"), d)
    doc = yaml.safe_load((d / "cabundle.yml").read_text())
    assert doc[True]["schedule"]  # 'on:' is YAML 1.1's True
    # README: a server that changes its chain fails the gate within a week
    (cron,) = [entry["cron"] for entry in doc[True]["schedule"]]
    _minute, _hour, day, month, weekday = cron.split()
    assert (day, month) == ("*", "*") and re.fullmatch(r"[0-6]", weekday), cron


# The workflow's install line: the package from its git repository, pinned to a tag.
_INSTALL = re.compile(
    r'^pip install "esp-cabundle @ (?P<url>git\+https://github\.com/YOUR-ORG/esp-cabundle)'
    r'@(?P<ref>v[\w.]+)"$'
)


@pytest.mark.timeout(300)
@requires("git")
def test_ci_install_line_installs_the_package(tmp_path: Path, scratch: Path) -> None:
    """The workflow's pip line, its placeholder repository swapped for this checkout
    (git+file at HEAD), installs a working esp-cabundle into a fresh venv, offline: a real
    git clone and wheel build, so a file missing from the wheel fails here."""
    import sys
    import sysconfig

    doc = yaml.safe_load((scratch / "ci" / "cabundle.yml").read_text())
    (job,) = doc["jobs"].values()
    (line,) = [s["run"] for s in job["steps"] if s.get("run", "").startswith("pip install")]
    m = _INSTALL.match(line.strip())
    assert m, line
    (version,) = re.findall(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert m.group("ref") == f"v{version}"  # pinned to the release it documents
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to install from")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=30,
        check=True,
    ).stdout.strip()  # fmt: skip
    local = line.strip().replace(
        f"{m.group('url')}@{m.group('ref')}", f"git+file://localhost{REPO.as_posix()}@{head}"
    )
    assert local != line.strip()
    # A fresh venv that borrows this environment's packages (the dependencies and the
    # build backend) through a .pth file, so nothing is fetched; --ignore-installed, as
    # esp-cabundle itself may be among them.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)  # fmt: skip
    vpy = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = subprocess.run(
        [str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "outer.pth").write_text("\n".join(sorted(outer)) + "\n")
    argv = shlex.split(local)
    assert argv[:2] == ["pip", "install"]
    p = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(vpy), "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "--ignore-installed", *argv[2:]],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    where = subprocess.run(
        [str(vpy), "-c", "import esp_cabundle; print(esp_cabundle.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where  # the installed copy, not this checkout
    # The installed command runs the workflow's first gate step, offline.
    exe = venv / "bin" / "esp-cabundle"
    d = scratch / "ci"
    (d / "ca.pem").unlink(missing_ok=True)
    p = subprocess.run(
        [str(exe), "build", "--locked", "--no-check"], cwd=d, env=child_env(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(load_certificates((d / "ca.pem").read_bytes())) == 5


def _first_failure(cmds: list[Command], cwd: Path) -> tuple[int, int] | None:
    for i, c in enumerate(cmds):
        out = run_command(c, cwd)
        if out.code != 0:
            return i, out.code
    return None


def test_ci_workflow_fails_when_a_root_is_about_to_expire(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze_clock(monkeypatch, "2034-09-01")  # ISRG Root X1 expires 2035-06-04
    d = scratch / "ci"
    cmds = workflow_commands(d / "cabundle.yml")
    assert _first_failure(cmds, d) == (1, 1)  # the inspect step, exit 1


def test_ci_workflow_fails_when_a_target_would_be_refused(scratch: Path) -> None:
    from support.pki import issue

    d = scratch / "ci"
    other = issue("Some Other Root")
    leaf = issue("mdash.net", issuer=other, ca=False, san="mdash.net")
    (d / "chains" / "mdash.net.pem").write_bytes(leaf.pem)
    cmds = workflow_commands(d / "cabundle.yml")
    assert _first_failure(cmds, d) == (2, 1)  # the check step, exit 1
    out = run_command(cmds[2], d)
    assert out.code == 1 and "FAIL  mdash.net" in out.stdout
    assert "timeline-svg" in (d / "forecast.html").read_text()
    # Without --no-check, build would have refused to write ca.pem for the same reason.
    out = run_command(command("esp-cabundle build --locked", "t"), d)
    assert out.code == 1 and "would break 1 target" in out.stderr


def _gate_line(path: Path) -> str:
    """The piped gate of a bundle-only project, as ``path`` (a README) gives it."""
    (line,) = [
        c.text
        for c in markdown_commands(path)
        if "build -f pem -o - --no-lock --no-check -q" in c.text
    ]
    return line


def test_the_bundle_only_gate_is_the_readmes_and_passes_under_a_bundle_budget(
    scratch: Path,
) -> None:
    """examples/ci's line lacked the --allow flags of README's tested one: under a
    max_bytes sized for the idf-bundle the PEM was refused, and inspect got nothing."""
    line = _gate_line(scratch / "ci" / "README.md")
    assert line == _gate_line(REPO / "README.md")
    d = scratch / "bundle-only"
    d.mkdir()
    (d / "cabundle.yaml").write_text(
        "preset: letsencrypt\nmax_bytes: 4K\n"
        "outputs:\n  - {format: idf-bundle, path: x509_crt_bundle.bin}\n"
    )
    out = run_command(command(line, "examples/ci/README.md"), d)
    assert out.code == 0, out.stdout + out.stderr
    assert sorted(p.name for p in d.iterdir()) == ["cabundle.yaml"]  # nothing written


def test_the_ci_chain_is_what_mdash_net_sends_and_passes_the_clocked_forecast(
    scratch: Path,
) -> None:
    """The example's saved chain was R11, which Let's Encrypt's servers sent only until
    2026-05-28: a clocked forecast to 2036 failed at ISRG Root X1's expiry with "add the
    roots" though Root YR is in the bundle. It is the Gen Y chain the roadmap says
    mdash.net sends now, and passes (Root YR outlives the horizon)."""
    from esp_cabundle.chains import load_chain_file
    from esp_cabundle.known_chains import sent_after_leaf

    d = scratch / "ci"
    chain = load_chain_file(d / "chains" / "mdash.net.pem")
    known = sent_after_leaf(chain.certificates)
    assert known is not None and (known.name, known.end) == ("gen-y-rsa", None)
    assert chain.captured_at is None  # not saved from the server: the README says why
    readme = " ".join((d / "README.md").read_text().split())
    assert "with no leaf" in readme and "no `# captured:` line" in readme
    run_all([command("esp-cabundle build --locked --no-check", "t")], d)
    line = "esp-cabundle check --bundle ca.pem --until 2036-01-01 --device mbedtls-clock"
    out = run_command(command(line, "t"), d)
    assert out.code == 0 and "PASS  mdash.net" in out.stdout, out.stdout + out.stderr
