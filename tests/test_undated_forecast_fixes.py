"""The forecast of a chain with no ``# captured:`` line says what the dated one says.

- A leaf sent ahead (valid only after the horizon) of a chain the bundle does not trust
  fails throughout, not "until then": the note said the early certificate was the only
  reason, as a dated chain's never did.
- A device that does not check dates gets no "judged by its dates" note.
- The advice for an undated chain is said once (the note), the hint points to it.
- A roadmap step whose end is after the roadmap's review dates the chain (it was sent
  when reviewed), and of two roadmaps holding one chain the one reviewed last tells.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import known_chains
from esp_cabundle.catalog import Catalog, entry_certificate
from esp_cabundle.chains import load_chain_file
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.cli import cli
from esp_cabundle.roadmaps import Roadmap, RoadmapStep, load_roadmap
from esp_cabundle.verify import TrustSet
from tests.support.profiles import CLOCK
from tests.support.verify_pki import mint

UTC = timezone.utc
ROOT = mint("Ahead Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
OTHER = mint("Unrelated Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
AHEAD = mint(
    "ahead.example",
    ROOT,
    ca=False,
    san="ahead.example",
    not_before=datetime(2030, 1, 1, tzinfo=UTC),
    not_after=datetime(2031, 1, 1, tzinfo=UTC),
)
UNTIL_THEN = "A certificate the server sends is not valid before 2030-01-01"
THROUGHOUT = "The chain fails throughout; no date makes it pass."


def _check(runner: CliRunner, bundle: str, *extra: str) -> tuple[str, str]:
    args = ["check", "--bundle", bundle, "--chain", "ahead.pem", "--until", "2028-01-01"]
    args += ["--device", "mbedtls-clock", *extra]
    text = runner.invoke(cli, args)
    assert text.exit_code == 1, text.output
    doc = runner.invoke(cli, [*args, "--json"])
    assert doc.exit_code == 1, doc.output
    (res,) = json.loads(doc.stdout)["results"]
    return " ".join(text.stdout.split()), res["note"]


def test_an_undated_chain_sent_ahead_and_untrusted_fails_throughout(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "ca.pem").write_bytes(ROOT.pem)
    (in_tmp / "other.pem").write_bytes(OTHER.pem)
    (in_tmp / "ahead.pem").write_bytes(AHEAD.pem)
    # Trusted: only the early leaf is at fault, it fails until then.
    said, note = _check(runner, "ca.pem")
    assert note.startswith(UNTIL_THEN) and UNTIL_THEN in said, said
    # Not trusted: no date makes it pass, as the same file with a capture date says.
    said, note = _check(runner, "other.pem")
    assert note == THROUGHOUT and THROUGHOUT in said and UNTIL_THEN not in said, said
    (in_tmp / "ahead.pem").write_bytes(b"# captured: 2026-01-01\n" + AHEAD.pem)
    assert _check(runner, "other.pem")[1] == THROUGHOUT


def test_the_undated_advice_is_said_once_in_check_and_in_builds_refusal(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The hint repeated the note's whole paragraph: it now points to the note, which
    build's refusal lists too (its text shows no results)."""
    root = mint("Once Root", not_after=datetime(2040, 1, 1, tzinfo=UTC))
    leaf = mint(
        "once.example",
        root,
        ca=False,
        san="once.example",
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime(2025, 6, 1, tzinfo=UTC),
    )
    (in_tmp / "root.pem").write_bytes(root.pem)
    (in_tmp / "chains").mkdir()
    (in_tmp / "chains" / "once.example.pem").write_bytes(leaf.pem)
    (in_tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [root.pem]\ndevice: mbedtls-clock\ntargets:\n  - once.example\n"
    )
    advice = "add that date as its first line: '# captured: YYYY-MM-DD' (UTC)"
    pointer = "chains/once.example.pem has no '# captured:' date: refresh or date it"
    for cmd in (["check"], ["build", "--dry-run", "--no-lock"]):
        r = runner.invoke(cli, cmd)
        assert r.exit_code == 1, r.output
        said = " ".join(r.output.split())
        assert said.count(advice) == 1 and pointer in said, said


def test_no_undated_note_for_a_device_that_does_not_check_dates(
    in_tmp: Path, runner: CliRunner
) -> None:
    """mbedtls-noclock passes R11 past its expiry: no "judged by its dates; refresh it"
    note (it said so beside PASS), while mbedtls-clock keeps it."""
    examples = Path(__file__).resolve().parents[1] / "examples" / "chains"
    (in_tmp / "short.pem").write_bytes((examples / "letsencrypt-2024-short.pem").read_bytes())
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    args = ["check", "--bundle", "ca.pem", "--chain", "short.pem", "--until", "2034-12-31"]
    r = runner.invoke(cli, [*args, "--device", "mbedtls-noclock"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "PASS" in said and "judged by" not in said and "within the horizon" not in said
    r = runner.invoke(cli, [*args, "--device", "mbedtls-noclock", "--json"])
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 0 and res["undated_note"] is None, res
    r = runner.invoke(cli, [*args, "--device", "mbedtls-clock", "--json"])
    (res,) = json.loads(r.stdout)["results"]
    assert r.exit_code == 1 and "judged by its dates" in res["undated_note"], res


# ---------------------------------------------------------------------------------------
# Which roadmap chains date a chain file with no capture line (known_chains)

LE = load_roadmap("letsencrypt")
R11 = Path(__file__).resolve().parents[1] / "examples" / "chains" / "letsencrypt-2024-short.pem"


def _variant(name: str, reviewed: datetime, *, open_r11: bool = False) -> Roadmap:
    """The Let's Encrypt roadmap under another name and review date (R11's step with no
    end when ``open_r11``: as a roadmap reviewed while it was sent would say)."""

    def step(s: RoadmapStep) -> RoadmapStep:
        return replace(s, end=None) if open_r11 and s.name == "r10-r14" else s

    servers = tuple(replace(v, steps=tuple(step(s) for s in v.steps)) for v in LE.servers)
    return replace(LE, name=name, reviewed=reviewed, servers=servers)


@pytest.fixture
def roadmaps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    def use(*maps: Roadmap) -> None:
        by_name = {m.name: m for m in maps}
        monkeypatch.setattr(known_chains, "roadmap_names", lambda: tuple(by_name))
        monkeypatch.setattr(known_chains, "load_roadmap", by_name.__getitem__)
        known_chains._index.cache_clear()

    yield use
    known_chains._index.cache_clear()


def test_a_step_ending_after_the_review_was_still_sent_then_and_dates_the_chain(
    roadmaps: Callable[..., None],
) -> None:
    """Only a step with no end dated a chain: one whose announced end is after the
    roadmap's review was sent when reviewed too (one rule with the stale hint's)."""
    reviewed = datetime(2026, 1, 1, tzinfo=UTC)
    roadmaps(_variant("letsencrypt", reviewed))
    chain = load_chain_file(R11)
    known = known_chains.known_chain(chain.certificates)
    assert known is not None and known.end == datetime(2026, 5, 28, tzinfo=UTC)
    assert known.seen == reviewed and not known.ended_by(reviewed)
    trust = TrustSet.from_certificates(
        [entry_certificate(e) for e in Catalog.load() if e.alias == "isrg-root-x1"]
    )
    at, until = datetime(2026, 12, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
    (r,) = check_items(trust, [CheckItem("r11", chain, CLOCK)], at=at, until=until).results
    assert r.ok and not r.timeline.undated and [e.label for e in r.timeline.rotating] == ["R11"]
    # As shipped (reviewed 2026-08-21, after R11's end): not dated, judged by its dates.
    roadmaps(LE)
    assert known_chains.known_chain(chain.certificates).seen is None  # type: ignore[union-attr]


@pytest.mark.parametrize("older", ["aa-older", "zz-older"])
def test_of_two_roadmaps_holding_a_chain_the_one_reviewed_last_tells(
    roadmaps: Callable[..., None], older: str
) -> None:
    """The roadmap read last won, its span merged with the other's: an older review that
    still saw R11 sent made it "still sent" whatever the newer one said."""
    roadmaps(_variant(older, datetime(2025, 1, 1, tzinfo=UTC), open_r11=True), LE)
    known = known_chains.known_chain(load_chain_file(R11).certificates)
    assert known is not None and known.roadmap == "letsencrypt", known
    assert known.reviewed == LE.reviewed and known.end == datetime(2026, 5, 28, tzinfo=UTC)
    assert known.seen is None
