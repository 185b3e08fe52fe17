"""An expired cross-sign of a root the catalog ships is the CA file's to fix, not the
server's: mbedTLS looks for the issuer of the certificate below it among the trusted roots
first, by name (DOMAIN.md, "Parent search"), so adding the root ends the path there and
the expired cross-sign is never used. The hint named the server ("have the server send
certificates within their dates (renewed)") although adding ``isrg-root-yr`` passes.
A genuinely expired intermediate, or a cross-sign of a root the catalog does not know,
keeps the renewal hint.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import fix_hints
from esp_cabundle.catalog import CatalogEntry
from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, ItemResult, check_items
from esp_cabundle.cli import cli
from esp_cabundle.fix_hints import fix_hint
from esp_cabundle.verify import TrustSet
from tests.support.profiles import CLOCK, IDF_CLOCK
from tests.support.verify_pki import NOW, cross_signed, mint

DATA = Path(__file__).parent / "data" / "letsencrypt"
DAY = timedelta(days=1)


def _said(text: str) -> str:
    return " ".join(text.split())


def _check(runner: CliRunner, bundle: str) -> tuple[int, str]:
    args = ["check", "--bundle", bundle, "--chain", "chain.pem", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--at", "2026-06-01", "--until", "2036-01-01"])
    return r.exit_code, _said(r.output)


def test_the_gen_y_chain_to_x1_alone_is_fixed_by_adding_root_yr(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The real Gen Y RSA chain (YR1, Root YR cross-signed by X1) against X1 alone fails
    when the cross-sign expires (2032-09-02); the hint names isrg-root-yr, and with it
    the check passes."""
    shutil.copy(DATA.parent / "chains" / "chain-gen-y-rsa.pem", in_tmp / "chain.pem")
    for name, roots in (
        ("x1.pem", ["isrg-root-x1"]),
        ("x1yr.pem", ["isrg-root-x1", "isrg-root-yr"]),
    ):
        args = ["build", "--no-lock", "-o", name]
        for root in roots:
            args += ["--root", root]
        assert runner.invoke(cli, args).exit_code == 0
    code, said = _check(runner, "x1.pem")
    assert code == 1, said
    hint = said[said.index("hint:") :]
    assert "at fault" not in hint and "within their dates" not in hint, hint
    assert "add isrg-root-yr (chain.pem): 'YR1' names 'Root YR' as its issuer" in hint, hint
    assert "('Root YR cross-signed by ISRG Root X1', expires 2032-09-02)" in hint, hint
    code, said = _check(runner, "x1yr.pem")
    assert code == 0, said


OLD = mint("Old Root", not_after=NOW + 3000 * DAY)
NEW, _NEW_BY_OLD = cross_signed(OLD, "Minted New Root")
# The cross-sign the server sends expires long before the new root does.
NEW_BY_OLD = mint("Minted New Root", OLD, key=NEW.key, not_after=NOW + 100 * DAY)
ISSUING = mint("Minted I1", NEW, path_length=0, not_after=NOW + 2000 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 2000 * DAY)
LATER = NOW + 200 * DAY


@pytest.fixture
def catalog_with_new_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A catalog that ships the minted new root under the alias ``minted-new-root``."""
    c = NEW.c
    entry = CatalogEntry(c.sha256, c.label, "package", "test", "test", ("minted-new-root",), c.der)
    monkeypatch.setattr(fix_hints, "_catalog_roots", lambda: {(c.subject_der, c.spki_der): entry})
    yield


def _result(roots: list[object], device: object = CLOCK) -> ItemResult:
    trust = TrustSet.from_certificates([m.c for m in roots])  # type: ignore[attr-defined]
    chain = ServerChain((LEAF.c, ISSUING.c, NEW_BY_OLD.c), "chains/svc.pem", captured_at=NOW)
    item = CheckItem("svc", chain, device, hostname="svc.example")  # type: ignore[arg-type]
    (r,) = check_items(trust, [item], at=NOW, until=LATER).results
    return r


def test_a_minted_expired_cross_sign_of_a_catalog_root_names_the_root(
    catalog_with_new_root: None,
) -> None:
    r = _result([OLD])
    assert not r.ok
    hint = fix_hint([r])
    assert hint.startswith("add minted-new-root (svc): 'Minted I1' names 'Minted New Root'"), hint
    assert "the path stops at the trusted Minted New Root" in hint, hint
    assert "at fault" not in hint and "add the roots" not in hint, hint
    # The hint is right: with the root added, the chain passes over the whole horizon.
    assert _result([OLD, NEW]).ok


def test_an_expired_cross_sign_of_a_root_the_catalog_does_not_ship_is_the_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fix_hints, "_catalog_roots", dict)
    hint = fix_hint([_result([OLD])])
    assert "svc: the server's certificate is at fault" in hint, hint
    assert "within their dates (renewed)" in hint and "add minted" not in hint, hint


def test_an_esp_idf_bundle_without_a_ca_list_keeps_the_servers_hint(
    catalog_with_new_root: None,
) -> None:
    """ESP-IDF's bundle callback sees only the top certificate, and only when its flags
    are exactly NOT_TRUSTED: the root added does not end the path below the cross-sign."""
    r = _result([OLD], IDF_CLOCK)
    assert not r.ok
    assert "add minted-new-root" not in fix_hint([r])
    assert not _result([OLD, NEW], IDF_CLOCK).ok  # the root added would not pass it


def test_an_expired_intermediate_still_points_at_the_server(catalog_with_new_root: None) -> None:
    stale = mint("Minted I1", NEW, key=ISSUING.key, path_length=0, not_after=NOW - DAY)
    trust = TrustSet.from_certificates([NEW.c])
    chain = ServerChain((LEAF.c, stale.c), "chains/svc.pem", captured_at=NOW)
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example")
    (r,) = check_items(trust, [item], at=NOW).results
    hint = fix_hint([r])
    assert "svc: the server's certificate is at fault" in hint and "add minted" not in hint
