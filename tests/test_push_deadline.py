"""The deadline a campaign forecasts for a unit's current CA file: the day it stops
reaching the servers, judged under the board's own device (its clock, its roadmap)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from support.fleet import mdash_unit

REPO = Path(__file__).resolve().parent.parent


def test_deadline_is_the_forecast_of_the_units_current_file(in_tmp: Path) -> None:
    from dataclasses import replace

    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import VerifyProfile, load_board
    from esp_cabundle.check import Target
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        (in_tmp / "chains").mkdir()
        # Saved while servers sent R11: undated, R11 would not count as renewed.
        (in_tmp / "chains/mdash.net.pem").write_bytes(
            b"# captured: 2026-01-01\n"
            + (REPO / "examples/chains/letsencrypt-2024-short.pem").read_bytes()
        )
        old = mdash_unit("x").files()["/ca.pem"]  # ISRG Root X1, X2, DST Root CA X3
        board = load_board("mdash-arduino")
        servers = [Target("mdash.net", "mdash.net", 443)]
        assert deadline_for(board, servers, in_tmp)(old) is None  # no clock: never expires
        # A board without firmware data: the saved chain alone (R11 <- ISRG Root X1).
        plain = replace(
            load_board("arduino-esp32-spiffs"), verify=VerifyProfile("mbedtls", "synced")
        )
        when = deadline_for(plain, servers, in_tmp)(old)
        assert when is not None and when.date().isoformat() == "2035-06-04"  # X1 expires
        assert deadline_for(plain, [], in_tmp)(old) is None
        # mDash 1.2.13 reads the file for mdash.net, whose roadmap moves to Gen Y (Root YR
        # cross-signed by ISRG Root X1): with a clock, the cross-sign's expiry comes first.
        clocked = replace(board, verify=VerifyProfile("mbedtls", "synced"))
        for servers_given in (servers, []):
            when = deadline_for(clocked, servers_given, in_tmp)(old)
            assert when is not None and when.date().isoformat() == "2032-09-02"
    finally:
        mp.undo()


def test_deadline_of_a_dst_only_file_on_mdash_1_2_13_is_already_past(in_tmp: Path) -> None:
    """Units without a clock and a DST-only file lost mdash.net when its chain changed:
    the forecast runs on the board's roadmap even with no saved chain, and says the date
    already passed (it was None before: no clock, no saved chain, no deadline)."""
    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import load_board
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        dst = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
        when = deadline_for(load_board("mdash-arduino@1.2.13"), [], in_tmp)(dst)
        assert when is not None and when.date().isoformat() == "2024-06-06"
        # mDash 1.2.16 never reads the file: nothing pushed to it decides its connection.
        assert deadline_for(load_board("mdash@1.2.16"), [], in_tmp)(dst) is None
    finally:
        mp.undo()


def test_deadline_judges_with_the_boards_own_device(in_tmp: Path) -> None:
    """The forecast runs under the device ``check --board`` uses: mDash 1.2.13 sets no
    server name, so a server certificate for another name works until the root expires
    (2040; the server renews its own), where a name check would call the unit's file
    failing already (no date at all)."""
    from dataclasses import replace

    from support.doc_commands import freeze_clock
    from support.verify_pki import mint

    from esp_cabundle.boards import VerifyProfile, load_board
    from esp_cabundle.check import Target
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        root = mint("Cloud Root", not_before=utc(2020), not_after=utc(2040))
        leaf = mint("cloud", root, ca=False, san="cloud.example",
                    not_before=utc(2025), not_after=utc(2030))  # fmt: skip
        (in_tmp / "chains").mkdir()
        # Captured while the leaf was valid: undated, its expiry (2030) would be judged.
        (in_tmp / "chains/mdash.net.pem").write_bytes(b"# captured: 2026-01-01\n" + leaf.pem)
        clocked = replace(
            load_board("mdash-arduino@1.2.13"), verify=VerifyProfile("mbedtls", "synced")
        )
        # The unit's file also holds Root YR, which mdash.net's roadmap (Gen Y, from
        # 2026-05-28) reaches until 2045: the saved chain's root decides.
        old = root.pem + ca_bytes_of("isrg-root-yr")
        when = deadline_for(clocked, [Target("mdash.net", "mdash.net", 443)], in_tmp)(old)
        assert when is not None and when.date().isoformat() == "2040-01-01"
    finally:
        mp.undo()


def ca_bytes_of(*roots: str) -> bytes:
    from esp_cabundle.bundle import BundleSpec
    from esp_cabundle.dates import now
    from esp_cabundle.gate import CaSource, gate_ca

    return gate_ca(CaSource.build(BundleSpec(roots=roots)), at=now()).pem


def utc(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=timezone.utc)


def test_a_server_the_config_lists_is_judged_as_the_gate_judges_it(in_tmp: Path) -> None:
    """mDash 1.2.16 verifies mdash.net with its built-in root, so the forecast leaves the
    server out, as the gate does; but a host the config's ``targets:`` lists is judged,
    in the gate and (it was not) in the forecast, on its saved chain."""
    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import load_board
    from esp_cabundle.check import Target
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        (in_tmp / "chains").mkdir()
        # Saved while servers sent R11: undated, R11 would not count as renewed.
        (in_tmp / "chains/mdash.net.pem").write_bytes(
            b"# captured: 2026-01-01\n"
            + (REPO / "examples/chains/letsencrypt-2024-short.pem").read_bytes()
        )
        dst = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
        board, servers = load_board("mdash@1.2.16"), [Target("mdash.net", "mdash.net", 443)]
        assert deadline_for(board, servers, in_tmp)(dst) is None  # not the file's to decide
        when = deadline_for(board, servers, in_tmp, {"mdash.net"})(dst)
        assert when is not None and when.date() <= datetime(2026, 12, 1).date()  # fails now
    finally:
        mp.undo()
