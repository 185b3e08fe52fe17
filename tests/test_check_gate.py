"""``check`` as a CI gate: it judges what ``build`` judges, and says it whole.

- The horizon: without --until, the config's ``service_until`` (build's gate forecasts
  to it); bare ``check`` judged only the date checked and passed a CA build refuses.
- The text keeps paths, commands and dates whole in a narrow terminal.
- A target that cannot be captured hides no other verdict; a failure found exits 1, an
  unjudged target beside passes 3. ``-q`` names the failing targets, as ``build -q``.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data" / "letsencrypt"


def _project(tmp: Path, extra: str = "") -> Path:
    """ISRG Root X1 alone, devices in service until 2036, one saved Gen Y chain (its
    cross-sign of Root YR by X1 expires 2032-09-02)."""
    (tmp / "chains").mkdir()
    shutil.copy(DATA.parent / "chains" / "chain-gen-y-rsa.pem", tmp / "chains" / "svc.example.pem")
    (tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [isrg-root-x1]\nservice_until: 2036-01-01\n"
        f"device: mbedtls-clock\ntargets:\n  - svc.example\n{extra}"
    )
    return tmp


def test_bare_check_forecasts_to_the_configs_service_until(in_tmp: Path, runner: CliRunner) -> None:
    _project(in_tmp)
    r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["until"].startswith("2036-01-01"), doc["until"]
    assert doc["results"][0]["ok"] is False
    assert any("the config's service_until, 2036-01-01" in n for n in doc["notes"]), doc["notes"]
    r = runner.invoke(cli, ["check", "--at", "2026-06-01"])
    assert r.exit_code == 1, r.output
    assert "forecast until 2036-01-01" in r.output and "2032-09-02" in r.output
    # --until still chooses the horizon: one before the cross-sign expires passes.
    r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--until", "2030-01-01"])
    assert r.exit_code == 0, r.output
    assert "service_until" not in r.output
    # A service_until already past judges the date checked, as build's gate does.
    config = (in_tmp / "cabundle.yaml").read_text().replace("2036-01-01", "2026-01-01")
    (in_tmp / "cabundle.yaml").write_text(config)
    r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["until"] is None


def test_check_text_at_70_columns_keeps_paths_commands_and_dates_whole(
    in_tmp: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text was wrapped inside words and at hyphens: "esp-"/"cabundle",
    "YYYY-"/"MM-DD", a long path split mid-word, none of which a user can copy."""
    monkeypatch.setenv("COLUMNS", "70")
    deep = in_tmp / "firmware-project" / "certificate-chains-saved-by-hand-for-the-fleet"
    deep.mkdir(parents=True)
    saved = deep / "letsencrypt-r11-intermediate-without-a-capture-date.pem"
    saved.write_bytes((DATA / "2024-r11.pem").read_bytes())
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    args = ["check", "--bundle", "ca.pem", "--chain", str(saved), "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--at", "2027-06-01"])
    assert r.exit_code == 1, r.output
    words = r.stdout.split()
    assert str(saved) in words or f"{saved};" in words, r.stdout
    assert "esp-cabundle" in words and "'#" in r.stdout and "YYYY-MM-DD'" in words, r.stdout
    assert all(len(line) <= 70 or " " not in line.strip() for line in r.stdout.splitlines())


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_target_hides_no_other_verdict(in_tmp: Path, runner: CliRunner) -> None:
    """A target with no saved chain whose server does not answer stopped the run (exit
    3, the capture error alone): the saved chain that fails was never shown."""
    port = _free_port()
    _project(in_tmp, f"  - 127.0.0.1:{port}\n")
    r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1
    assert [x["ok"] for x in doc["results"]] == [False]
    assert doc["error"].endswith(
        "would fail within the horizon; 1 target not judged (no chain captured)"
    )
    (err,) = doc["capture_errors"]
    assert f"target '127.0.0.1:{port}' has no saved chain" in err["error"]
    assert "connection refused" in err["error"] and "chains pull" in err["hint"]
    assert "add isrg-root-yr (svc.example)" in doc["hint"] and "chains pull" in doc["hint"]
    # The text: the verdicts, then the error naming the target not judged.
    r = runner.invoke(cli, ["check", "--at", "2026-06-01"])
    assert r.exit_code == 1, r.output
    assert "FAIL  svc.example" in r.stdout
    assert f"  - target '127.0.0.1:{port}' has no saved chain" in r.stderr, r.stderr
    # Every chain judged passes: the check is not whole, exit 3, the passes said.
    r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--until", "2030-01-01", "--json"])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3 and doc["results"][0]["ok"] is True
    assert "(the 1 chain judged passes)" in doc["error"], doc["error"]
    # Nothing judged at all: the capture error alone, as before.
    (in_tmp / "chains" / "svc.example.pem").unlink()
    config = (in_tmp / "cabundle.yaml").read_text().replace("  - svc.example\n", "")
    (in_tmp / "cabundle.yaml").write_text(config)
    r = runner.invoke(cli, ["check", "--at", "2026-06-01"])
    assert r.exit_code == 3, r.output
    assert f"\nError: target '127.0.0.1:{port}' has no saved chain" in r.stderr, r.stderr
    assert "judged" not in r.stderr


def test_check_quiet_names_the_failing_target(in_tmp: Path, runner: CliRunner) -> None:
    """``check -q`` said "1 of 1 chain would fail" and no more; ``build -q`` names it."""
    _project(in_tmp)
    r = runner.invoke(cli, ["check", "-q", "--at", "2026-06-01"])
    assert r.exit_code == 1 and r.stdout == "", r.output
    assert "Error: 1 of 1 chain would fail within the horizon" in r.stderr
    assert "  - svc.example: 2032-09-02: Root YR cross-signed by ISRG Root X1 expires" in r.stderr
    # Not quiet, the verdicts above say it: the error does not list them again.
    r = runner.invoke(cli, ["check", "--at", "2026-06-01"])
    assert "  - svc.example" not in r.stderr, r.stderr


def test_check_json_has_one_shape_when_no_target_can_be_judged(
    in_tmp: Path, runner: CliRunner
) -> None:
    """Every target unreachable, ``--json`` printed the generic failure document (kind,
    violations; no results, no capture_errors): a CI step read two shapes. Now it is
    the report, as when a chain is judged beside an unreachable target."""
    with socket.socket() as a, socket.socket() as b:  # bound, not listening: refused
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in (a, b)]
        _project(in_tmp, "".join(f"  - 127.0.0.1:{p}\n" for p in ports))
        args = ["check", "--at", "2026-06-01", "--until", "2030-01-01", "--json"]
        r = runner.invoke(cli, args)
        assert r.exit_code == 3, r.output
        partial = json.loads(r.stdout)
        assert len(partial["results"]) == 1 and len(partial["capture_errors"]) == 2
        (in_tmp / "chains" / "svc.example.pem").unlink()
        config = (in_tmp / "cabundle.yaml").read_text().replace("  - svc.example\n", "")
        (in_tmp / "cabundle.yaml").write_text(config)
        r = runner.invoke(cli, args)
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc.keys() == partial.keys(), set(doc) ^ set(partial)
    assert doc["ok"] is False and doc["exit_code"] == 3 and doc["results"] == []
    assert doc["error"] == "2 targets could not be judged: their chains could not be captured"
    assert [e["error"].split(" has ")[0] for e in doc["capture_errors"]] == [
        f"target '127.0.0.1:{p}'" for p in ports
    ]
    assert "chains pull" in doc["hint"] and "kind" not in doc and "violations" not in doc


def test_many_unreachable_targets_get_one_hint_naming_the_folder(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The hint said "'esp-cabundle chains pull' saves it as chains/X.pem" once per
    target not captured: 30 sentences for 30. One now, naming chains/ and the count;
    each capture error keeps its own hint, and one target keeps its own wording."""
    socks = [socket.socket() for _ in range(30)]
    try:
        for s in socks:  # bound, not listening: every connection is refused
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in socks]
        _project(in_tmp, "".join(f"  - 127.0.0.1:{p}\n" for p in ports))
        r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--json"])
        assert r.exit_code == 1, r.output  # svc.example fails beside them
        failing = json.loads(r.stdout)
        r = runner.invoke(cli, ["check", "--at", "2026-06-01", "--until", "2030-01-01"])
        assert r.exit_code == 3, r.output
    finally:
        for s in socks:
            s.close()
    chains = "chains"  # as typed from the project: the same hint in any checkout
    pulled = f"online, 'esp-cabundle chains pull' saves the 30 chains in {chains}/; offline, "
    pulled += "put each server's chain at the path its error names (PEM, leaf first)"
    assert failing["hint"].count("chains pull") == 1, failing["hint"]
    assert failing["hint"].endswith(f"; {pulled}"), failing["hint"]
    assert "add isrg-root-yr (svc.example)" in failing["hint"]
    assert len(failing["capture_errors"]) == 30
    assert all(f"saves it as {chains}/127.0.0.1_" in e["hint"] for e in failing["capture_errors"])
    hints = [line for line in r.stderr.splitlines() if "hint:" in line]
    assert hints == [f"  hint: {pulled}"], r.stderr
    assert r.stderr.count("  - target '127.0.0.1:") == 30
