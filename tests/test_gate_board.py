"""The gate judges the board's own connections (issue 11 §1): a write that replaces the
file a firmware verifies its server with must keep that server reachable. mDash 1.2.13
reads /spiffs/ca.pem for mdash.net, which sends Let's Encrypt's chains (the alternate
chain to DST Root CA X3 until 2024-06-06): an expired DST-only ca.pem is refused even
with --allow expired. mDash 1.2.16 never reads the file: a note says so."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.bundle import Policy
from esp_cabundle.check import CheckFailed
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.gate import CaSource, GatedCA, board_links, gate_ca
from tests.support.gate_cases import DST_PEM, X1_PEM

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
DATA = Path(__file__).parent / "data"
SPIFFS = DATA / "spiffs" / "idf-64k.bin"  # an mDash unit's partition: /ca.pem, /mdash.cfg

NO_DATES = " (the device does not check dates)"


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def gate(
    pem: bytes,
    board: str = "mdash-arduino@1.2.13",
    *,
    at: datetime = AT,
    allow: tuple[str, ...] = ("expired",),
    until: datetime | None = None,
    **kw: object,
) -> GatedCA:
    policy = Policy(allow=frozenset(allow), service_until=until)
    src = CaSource.finished("ca.pem", pem, policy=policy)
    return gate_ca(src, board=load_board(board), at=at, **kw)  # type: ignore[arg-type]


def test_a_dst_only_ca_pem_would_cut_mdash_arduino_units_off_mdash_net() -> None:
    with pytest.raises(CheckFailed) as e:
        gate(DST_PEM)
    assert e.value.exit_code == 1
    assert e.value.message == (
        "the CA would cut mdash-arduino@1.2.13 units off mdash.net (mDash 1.2.13 verifies it "
        "with /spiffs/ca.pem, the file being written); nothing written"
    )
    (why,) = e.value.violations
    assert why.startswith("mdash.net: -0x2700 (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED")
    assert "Already failing since 2024-06-06" in why and "ISRG Root X1" in why
    # the code said once, up front, and no parentheses inside parentheses
    assert why.count("-0x2700") == 1 and why.count("0xffffd900") == 1, why
    assert max(_depths(why)) == 1, why
    assert "keep the root the chain ends at" in str(e.value)
    assert "or pass check_targets=False to write anyway" in str(e.value)
    # a library caller gets the whole verdict, not only the lines the CLI prints
    report = e.value.report
    assert report is not None and report.failure_lines() == e.value.violations
    (failed,) = report.failures
    assert failed.item.name == "mdash.net" and not failed.ok
    # --no-check skips the board's connections as it skips targets; policies still apply
    skipped = gate(DST_PEM, check_targets=False)
    assert skipped.summary == "1 root; targets not checked (check_targets=False)"
    assert skipped.report is None


def test_a_good_bundle_names_mdash_net_in_the_summary() -> None:
    ca = gate(DST_PEM + X1_PEM)
    assert ca.summary == "2 roots, accepted by mdash.net under mdash-arduino rules" + NO_DATES
    assert ca.report is not None
    (result,) = ca.report.results
    assert result.item.name == "mdash.net" and result.item.device.sets_hostname is False
    assert "alternate chain to DST Root CA X3" in (result.item.what_if or "")
    assert ca.notes == (  # what mdash.net was judged on, as every write path says it
        "mdash.net: judged on the chains the tool ships for it (roadmap letsencrypt: "
        "rsa-dst-preferred), no saved chains/mdash.net.pem",
    )


def _depths(text: str) -> list[int]:
    """How deep in parentheses each character of ``text`` is."""
    depth, out = 0, []
    for c in text:
        depth += (c == "(") - (c == ")")
        out.append(depth)
    return out


def test_judged_at_the_date_and_until_service_end() -> None:
    """Before 2024-06-06 mdash.net still sent the long chain to DST Root CA X3: the file
    served then, and the gate says it stops on 2024-06-06 when service runs past it."""
    at = utc("2024-01-01")
    assert gate(DST_PEM, at=at).summary.startswith("1 root, accepted by mdash.net")
    with pytest.raises(CheckFailed) as e:
        gate(
            DST_PEM, at=at, until=utc("2030-01-01"), allow=("expired", "expires-before-service-end")
        )
    (why,) = e.value.violations
    assert why.startswith("mdash.net: 2024-06-06") and "-0x2700" in why


def test_which_connections_read_the_file_written() -> None:
    old = board_links(load_board("mdash-arduino@1.2.13"))
    assert [c.name for c, _ in old.judged] == ["mdash.net"] and old.notes == ()
    elsewhere = board_links(load_board("mdash-arduino@1.2.13"), "/certs/other.pem")
    assert elsewhere.judged == ()
    assert elsewhere.notes == (
        "mDash 1.2.13 reads /spiffs/ca.pem for mdash.net, not /certs/other.pem",
    )
    new = board_links(load_board("mdash@1.2.16"), "/ca.pem")
    assert new.judged == ()
    assert new.notes == (
        "mDash 1.2.16 does not read /spiffs/ca.pem for mdash.net; it trusts its built-in "
        "ISRG Root X1 (the file written does not change that)",
    )
    # Mongoose OS reads /ca.pem for connections the firmware does not name: targets do
    mos = board_links(load_board("mongoose-os-esp32"))
    assert mos.judged == () and mos.notes == ()
    ((_, ca),) = load_board("mongoose-os-esp32").connection_cas()
    assert ca.reads("/ca.pem") and ca.reads("ca.pem") and not ca.reads("/x/ca.pem")
    ((_, mdash_ca),) = load_board("mdash-arduino").connection_cas()
    assert mdash_ca.reads("/ca.pem") and mdash_ca.reads("ca.pem")
    assert not mdash_ca.reads("/a.pem") and not mdash_ca.reads("/xca.pem")


def test_fs_put_on_an_mdash_unit_s_partition(runner: CliRunner, tmp_path: Path) -> None:
    image, old = tmp_path / "fs.bin", tmp_path / "old-ca.pem"
    shutil.copy(SPIFFS, image)
    old.write_bytes(DST_PEM)
    before = image.read_bytes()
    args = ["fs", "put", str(image), str(old), "/ca.pem", "--allow", "expired"]
    r = runner.invoke(cli, [*args, "--board", "mdash-arduino@1.2.13"])
    assert r.exit_code == 1 and "would cut mdash-arduino@1.2.13 units off mdash.net" in r.output
    assert image.read_bytes() == before
    # a 1.2.16 unit never reads the file: written, and the note says why it is harmless
    r = runner.invoke(cli, [*args, "--board", "mdash@1.2.16"])
    assert r.exit_code == 0, r.output
    assert "note: mDash 1.2.16 does not read /spiffs/ca.pem for mdash.net" in r.output
    assert b"DST Root CA X3" in open_image(image.read_bytes()).read("/ca.pem")


def test_pack_for_mdash_arduino(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "old-ca.pem").write_bytes(DST_PEM)
    pack = ["pack", "--board", "mdash-arduino", "--at", "2026-12-01", "-o", "fs.bin"]
    r = runner.invoke(cli, [*pack, "--bundle", "old-ca.pem", "--allow", "expired"])
    assert r.exit_code == 1 and "units off mdash.net" in r.output, r.output
    assert not (in_tmp / "fs.bin").exists()
    r = runner.invoke(cli, [*pack, "--preset", "letsencrypt"])  # as README shows it
    assert r.exit_code == 0, r.output
    assert "CA: 4 roots, accepted by mdash.net under mdash-arduino rules" + NO_DATES in r.output
    # a CA file elsewhere in the image is not what the firmware reads for mdash.net
    r = runner.invoke(
        cli,
        [*pack, "--bundle", "old-ca.pem", "--allow", "expired", "--ca-path", "/certs/x.pem"],
    )
    assert r.exit_code == 0, r.output
    assert "note: mDash 1.2.13 reads /spiffs/ca.pem for mdash.net, not /certs/x.pem" in r.output
