"""A chain that fails only because the root it ends at, which the CA file already holds,
expires within the horizon is not fixed by adding roots: mbedTLS takes the trusted root
by the issuer's name (an expired one as fallback) and searches no further (DOMAIN.md,
"Parent search"). The hint said "add the roots these servers chain to"; it now says the
servers must move to a chain ending at another root before that date, held by the CA
file, and names the root the expiring one has cross-signed when a roadmap shows it.
A catalog root with the same name and key valid longer still gets "add the roots".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import fix_hints
from esp_cabundle.catalog import Catalog, CatalogEntry, entry_certificate
from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, ItemResult, check_items
from esp_cabundle.cli import cli
from esp_cabundle.fix_hints import ROOTS, fix_hint
from esp_cabundle.verify import TrustSet
from tests.support.profiles import CLOCK
from tests.support.verify_pki import NOW, Minted, fresh_key, mint

DAY = timedelta(days=1)
OLD = mint("Aging Root", not_after=NOW + 1000 * DAY)
ISSUING = mint("Aging I1", OLD, path_length=0, not_after=NOW + 300 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 80 * DAY)
# The CA's next root, valid past the horizon, and its cross-sign by the aging root.
NEW = mint("Minted Next Root", key=fresh_key(), not_after=NOW + 4000 * DAY)
NEW_BY_OLD = mint("Minted Next Root", OLD, key=NEW.key)
# The same root, same name and key, re-issued with later dates.
OLD_AGAIN = mint("Aging Root", key=OLD.key, not_after=NOW + 3000 * DAY)
UNTIL = NOW + 2000 * DAY
EXPIRES = OLD.c.not_after.date().isoformat()


def _entry(m: Minted, alias: str) -> CatalogEntry:
    c = m.c
    return CatalogEntry(c.sha256, c.label, "package", "test", "test", (alias,), c.der)


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[tuple[bytes, bytes], CatalogEntry]]:
    """A catalog of the minted roots the test puts in it, and a roadmap holding the
    cross-sign of the next root by the aging one."""
    roots: dict[tuple[bytes, bytes], CatalogEntry] = {}
    monkeypatch.setattr(fix_hints, "_catalog_roots", lambda: roots)
    monkeypatch.setattr(fix_hints, "_roadmap_cross_signs", lambda: (NEW_BY_OLD.c,))
    yield roots


def _result(roots: list[Minted]) -> ItemResult:
    trust = TrustSet.from_certificates([m.c for m in roots])
    chain = ServerChain((LEAF.c, ISSUING.c), "chains/svc.pem", captured_at=NOW)
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example")
    (r,) = check_items(trust, [item], at=NOW, until=UNTIL).results
    return r


def test_an_expiring_root_already_held_says_the_servers_must_move(
    catalog: dict[tuple[bytes, bytes], CatalogEntry],
) -> None:
    r = _result([OLD])
    assert not r.ok
    hint = fix_hint([r])
    assert ROOTS not in hint, hint
    assert hint.startswith(
        f"svc: its chain ends at Aging Root, which the CA file already holds and which "
        f"expires {EXPIRES}: adding roots does not change that"
    ), hint
    assert f"the servers must send a chain ending at another root before {EXPIRES}" in hint
    assert "cross-signed" not in hint, hint  # the catalog knows no next root
    # The hint is right: with another root added, the same chain still fails.
    assert not _result([OLD, NEW]).ok


def test_the_root_it_has_cross_signed_is_named(
    catalog: dict[tuple[bytes, bytes], CatalogEntry],
) -> None:
    catalog[(NEW.c.subject_der, NEW.c.spki_der)] = _entry(NEW, "minted-next-root")
    hint = fix_hint([_result([OLD])])
    assert hint.endswith(
        "and the CA file must hold that root (minted-next-root, which Aging Root has cross-signed)"
    ), hint


def test_a_next_root_the_ca_file_holds_is_said_to_be_there(
    catalog: dict[tuple[bytes, bytes], CatalogEntry],
) -> None:
    """With the next root in the CA file, the servers' move is all that is missing."""
    catalog[(NEW.c.subject_der, NEW.c.spki_der)] = _entry(NEW, "minted-next-root")
    trust = TrustSet.from_certificates([OLD.c, NEW.c])
    hint = fix_hint([_result([OLD, NEW])], trust)
    assert hint.endswith(
        "and the CA file must hold that root (minted-next-root, which Aging Root has "
        "cross-signed, is in it already)"
    ), hint


def test_a_catalog_reissue_of_the_same_root_keeps_add_the_roots(
    catalog: dict[tuple[bytes, bytes], CatalogEntry],
) -> None:
    """mbedTLS prefers a trusted parent within its dates: the re-issued root passes."""
    catalog[(OLD_AGAIN.c.subject_der, OLD_AGAIN.c.spki_der)] = _entry(OLD_AGAIN, "aging-again")
    assert fix_hint([_result([OLD])]) == ROOTS
    assert _result([OLD, OLD_AGAIN]).ok


def test_isrg_root_x1s_successors_come_from_the_shipped_roadmap() -> None:
    """The real Let's Encrypt cross-signs: Root YR and ISRG Root X2 by ISRG Root X1;
    X2 expires 2040-09-17, so a horizon past it names Root YR alone."""
    x1 = next(e for e in Catalog.load() if "isrg-root-x1" in e.aliases)
    root = entry_certificate(x1)
    at = datetime(2040, 1, 1, tzinfo=timezone.utc)
    assert [e.alias for e in fix_hints._successors(root, at)] == ["isrg-root-yr", "isrg-root-x2"]
    later = datetime(2041, 1, 1, tzinfo=timezone.utc)
    assert [e.alias for e in fix_hints._successors(root, later)] == ["isrg-root-yr"]


def test_check_until_past_the_held_roots_expiry(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "bundle.pem").write_text(OLD.c.pem())
    captured = NOW.date().isoformat()
    (in_tmp / "svc.example.pem").write_text(
        f"# captured: {captured}\n{LEAF.c.pem()}{ISSUING.c.pem()}"
    )
    until = UNTIL.date().isoformat()
    args = ["check", "--bundle", "bundle.pem", "--chain", "svc.example.pem"]
    r = runner.invoke(cli, [*args, "--device", "mbedtls-clock", "--until", until])
    said = " ".join(r.output.split())
    assert r.exit_code == 1, said
    hint = said[said.index("hint:") :]
    assert ROOTS not in hint, hint
    assert "its chain ends at Aging Root, which the CA file already holds" in hint, hint
