"""A CA file holding an intermediate is not "1 root": mbedTLS anchors at it (DOMAIN.md:
the parent search looks in the trusted list first), but units trusting only it go dark
when it expires or its CA re-issues it, sooner than with its root. The gate's summary,
its notes and ``inspect`` say so, naming the catalog's root it chains to; the JSON keeps
"roots" and adds "intermediates"."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.gate import CaSource, GatedCA, gate_ca
from tests.support.gate_cases import X1_PEM
from tests.support.pki import NOW, issue

R10_PEM = (Path(__file__).parent / "data" / "letsencrypt" / "2024-r10.pem").read_bytes()
ROOT = issue("Test Root")
INTERMEDIATE = issue("Test Intermediate", issuer=ROOT)


def gate(pem: bytes) -> GatedCA:
    return gate_ca(CaSource.finished("ca.pem", pem), at=NOW)


def test_an_intermediate_alone_is_counted_and_warned_about() -> None:
    ca = gate(INTERMEDIATE.pem)
    assert ca.summary == "1 CA (an intermediate, not a root); no targets to judge"
    (note,) = ca.notes
    assert note.startswith("Test Intermediate is an intermediate, not a root: units anchor")
    assert "go dark when it expires" in note and "issued by" in note and "Test Root" in note
    doc = ca.to_dict()
    assert doc["roots"] == 1 and doc["intermediates"] == 1  # "roots" kept as it was


def test_a_bundle_boards_warning_says_how_the_bundle_checks() -> None:
    """An ESP-IDF bundle is no mbedTLS CA list: its callback looks up only the issuer of
    the top certificate a server sends, so the warning says that, as inspect of a
    bundle does, not "mbedTLS takes any CA in its list"."""
    from esp_cabundle.boards import load_board

    ca = gate_ca(
        CaSource.finished("ca.pem", INTERMEDIATE.pem),
        at=NOW,
        board=load_board("esp-idf-bundle"),
        check_targets=False,
    )
    (note,) = [n for n in ca.notes if "Test Intermediate" in n]
    assert "the bundle's check looks up only the issuer of the topmost" in note, note
    assert "mbedTLS takes any CA in its list" not in note


def test_the_catalogs_root_it_chains_to_is_named() -> None:
    from datetime import datetime, timezone

    ca = gate_ca(CaSource.finished("ca.pem", R10_PEM), at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    (note,) = ca.notes
    assert "sooner than with its root ISRG Root X1 (until 2035-06-04)" in note, note
    assert note.endswith("add that root (--root isrg-root-x1)")


def test_a_root_beside_its_intermediate_and_roots_alone() -> None:
    both = gate(ROOT.pem + INTERMEDIATE.pem)
    assert both.summary.startswith("2 CAs (1 root, 1 intermediate);")
    assert any("its root Test Root is in the file too" in n for n in both.notes), both.notes
    assert both.to_dict()["intermediates"] == 1
    alone = gate(ROOT.pem)
    assert alone.summary.startswith("1 root;") and not alone.notes
    assert alone.to_dict()["intermediates"] == 0


def test_inspect_warns_about_an_intermediate(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "ca.pem").write_bytes(R10_PEM + X1_PEM)
    r = runner.invoke(cli, ["inspect", "ca.pem"])
    assert r.exit_code == 0, r.output
    assert "R10 is an intermediate, not a root" in r.output
    assert "its root ISRG Root X1 is in the file too" in r.output
