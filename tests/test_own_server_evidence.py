"""Every path that writes a CA judges the board's own server (mdash.net for mDash
1.2.13) on the same evidence (esp_cabundle.own_servers): the chains the tool ships for
it, and the saved chains/mdash.net.pem when there is one. Before, pack judged only the
shipped chains and push demanded the saved file (or a live capture), so one CA got two
verdicts and an offline push was refused for a server the tool knows."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

import esp_cabundle.check
from esp_cabundle.boards import load_board
from esp_cabundle.bundle import Policy
from esp_cabundle.check import CheckFailed, Target
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError
from esp_cabundle.gate import CaSource, GatedCA, gate_ca
from tests.support.gate_cases import X1_PEM
from tests.support.pki import issue

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)  # within 90 days of the roadmap's review
LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)
PUSHED_TO = Target("mdash.net", "mdash.net", 443)  # what push --mdash https://mdash.net adds


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> object:
        raise DeviceError("no network in this test")

    monkeypatch.setattr(esp_cabundle.check, "capture_chain", refuse)


def gate(*, at: datetime = AT, targets: tuple[Target, ...] = ()) -> GatedCA:
    src = CaSource.finished("ca.pem", X1_PEM, policy=Policy(allow=frozenset({"expired"})))
    return gate_ca(src, board=load_board("mdash-arduino@1.2.13"), at=at, targets=targets)


def _save_foreign_chain(folder: Path) -> None:
    """A chain for mdash.net that ends at a root ca.pem does not hold."""
    root = issue("Other Root")
    leaf = issue("mdash.net", issuer=root, ca=False, san="mdash.net")
    (folder / "chains").mkdir()
    (folder / "chains" / "mdash.net.pem").write_bytes(leaf.pem + root.pem)


def test_push_without_a_saved_chain_is_judged_as_pack_is(in_tmp: Path, offline: None) -> None:
    packed, pushed = gate(), gate(targets=(PUSHED_TO,))  # push raised "no saved chain"
    assert pushed.summary == packed.summary
    assert pushed.report is not None and packed.report is not None
    assert [r.item.name for r in pushed.report.results] == [
        r.item.name for r in packed.report.results
    ]
    said = [n for n in pushed.notes if n.startswith("mdash.net: judged on")]
    assert said == [n for n in packed.notes if n.startswith("mdash.net: judged on")]
    assert len(said) == 1 and "ships for it (roadmap letsencrypt" in said[0]
    assert "no saved chains/mdash.net.pem" in said[0] and "last checked" not in said[0]


def test_a_saved_chain_is_judged_by_pack_as_by_push(in_tmp: Path, offline: None) -> None:
    _save_foreign_chain(in_tmp)
    for targets in ((), (PUSHED_TO,)):  # pack never read it; push did
        with pytest.raises(CheckFailed) as e:
            gate(targets=targets)
        assert "cut mdash-arduino" in e.value.message, e.value.message
        assert "Other Root" in "\n".join(e.value.violations), e.value.violations


def test_stale_shipped_chains_are_said_with_the_command_that_saves_one(
    in_tmp: Path, offline: None
) -> None:
    (note,) = [n for n in gate(at=LATER).notes if n.startswith("mdash.net: judged on")]
    assert "last checked on 2026-08-21" in note, note
    assert note.endswith(
        "save what it sends today with: esp-cabundle chains show --host mdash.net "
        "-o chains/mdash.net.pem"
    )


def test_check_board_reads_the_saved_chain_too(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ca.pem").write_bytes(X1_PEM)
    args = ["check", "--board", "mdash-arduino@1.2.13", "--bundle", "ca.pem", "--at", "2026-06-01"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "no saved chains/mdash.net.pem" in r.output
    _save_foreign_chain(in_tmp)
    r = runner.invoke(cli, args)
    assert r.exit_code == 1, r.output
    assert "judged on the saved chains/mdash.net.pem" in r.output, r.output


def test_the_push_forecast_reads_the_saved_chain_without_a_server(in_tmp: Path) -> None:
    from esp_cabundle.commands._push_links import deadline_for

    board = load_board("mdash-arduino")
    assert deadline_for(board, [], in_tmp)(X1_PEM) is None  # the roadmap alone: never
    _save_foreign_chain(in_tmp)
    assert deadline_for(board, [], in_tmp)(X1_PEM) is not None  # fails from now on
