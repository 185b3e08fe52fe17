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
    shutil.copy(DATA / "chain-gen-y-rsa.pem", tmp / "chains" / "svc.example.pem")
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
