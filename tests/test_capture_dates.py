"""A saved chain's capture date, one rule wherever it comes from, and its advice said once.

- ``ServerChain(captured_at=...)`` from Python: a naive datetime is UTC, as a zone-less
  ``# captured:`` line is (it was kept naive and the check raised a TypeError); another
  zone is kept in UTC (``to_pem`` wrote its local time with a ``Z``).
- A ``# captured:`` line that cannot be read is refused, naming the file and its line
  (it was taken as absent, silently: the chain judged as undated).
- The advice for an undated chain is one wording, in the note, the hint, ``--json`` and
  the HTML report alike.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.catalog import Catalog, entry_certificate
from esp_cabundle.chains import ServerChain, load_chain_file
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.cli import cli
from esp_cabundle.errors import ArgumentTypeError, InputError
from esp_cabundle.fix_hints import fix_hint, undated_advice
from esp_cabundle.verify import TrustSet, forecast
from tests.support.profiles import CLOCK
from tests.support.verify_pki import NOW, mint

DAY = timedelta(days=1)
ROOT = mint("Dates Root", not_after=NOW + 3000 * DAY)
ISSUING = mint("Dates R1", ROOT, path_length=0, not_after=NOW + 30 * DAY)
LEAF = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW + 20 * DAY)
LATER = NOW + 60 * DAY
CERTS = (LEAF.c, ISSUING.c)
# The hint points to the undated note, which says the advice once.
POINTER = "(chains/svc.example.pem has no '# captured:' date: refresh or date it, as its note says)"


# ---------------------------------------------------------------------------------------
# 1. captured_at from Python


def test_a_naive_captured_at_is_utc_and_judged_as_an_aware_one() -> None:
    naive = NOW.replace(tzinfo=None)
    chain = ServerChain(CERTS, "x.pem", captured_at=naive)
    assert chain.captured_at == NOW and chain.captured_at.tzinfo is not None
    trust = TrustSet.from_certificates([ROOT.c])
    # Seen sent within their dates: taken as renewed at a later date, as an aware one is.
    (r,) = check_items(trust, [CheckItem("svc", chain, CLOCK)], at=LATER).results
    assert r.ok and [e.label for e in r.timeline.renewed] == ["svc.example", "Dates R1"]
    assert r.to_dict()["captured_at"] == NOW.isoformat()


def test_forecast_takes_a_naive_seen_as_utc() -> None:
    """forecast() says naive datetimes are UTC: ``seen`` too (it was a TypeError)."""
    trust = TrustSet.from_certificates([ROOT.c])
    naive = NOW.replace(tzinfo=None)
    fc = forecast(trust, CERTS, CLOCK, at=LATER, until=LATER, seen=naive)
    assert fc.start.ok and [e.label for e in fc.renewed] == ["svc.example", "Dates R1"]


def test_a_captured_at_in_another_zone_is_kept_and_written_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    chain = ServerChain(CERTS, "x.pem", captured_at=datetime(2026, 1, 31, 1, 30, tzinfo=plus2))
    assert chain.captured_at == datetime(2026, 1, 30, 23, 30, tzinfo=timezone.utc)
    assert chain.captured_at.utcoffset() == timedelta(0)
    assert b"# captured: 2026-01-30T23:30:00Z" in chain.to_pem()
    # One that UTC cannot hold is refused, not an OverflowError.
    with pytest.raises(InputError, match="falls outside the years 1 to 9999 in UTC"):
        ServerChain(CERTS, "x.pem", captured_at=datetime(1, 1, 1, tzinfo=plus2))


def test_a_captured_at_that_is_no_date_is_a_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
        ServerChain(CERTS, "x.pem", captured_at="2026-01-31")  # type: ignore[arg-type]
    assert issubclass(ArgumentTypeError, TypeError)


# ---------------------------------------------------------------------------------------
# 2. An unreadable '# captured:' line


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("yesterday", "expected YYYY-MM-DD (or an ISO date-time)"),
        ("2024-13-45", "there is no month 13"),
        ("2026-02-30", "February 2026 has 28 days"),
        ("now", "expected YYYY-MM-DD"),  # a file's date is written down, never relative
        ("", "expected YYYY-MM-DD"),  # empty: not the next line's first word
    ],
)
def test_an_unreadable_captured_line_is_refused_naming_its_line(
    tmp_path: Path, value: str, why: str
) -> None:
    p = tmp_path / "c.pem"
    data = f"# esp-cabundle server chain: svc\n# note: x\n# captured: {value}\n".encode()
    data += LEAF.pem + ISSUING.pem
    p.write_bytes(data)
    with pytest.raises(InputError) as e:
        load_chain_file(p)
    assert e.value.exit_code == 2 and e.value.path == str(p) and e.value.line == 3
    assert str(e.value).startswith(f"{p}:3: bad '# captured:' date '{value}': {why}")
    assert e.value.hint is not None and "'# captured: YYYY-MM-DD'" in e.value.hint
    assert "or 'now'" not in str(e.value)
    assert p.read_bytes() == data  # nothing changed


def test_a_utf16_files_captured_line_is_read(tmp_path: Path) -> None:
    p = tmp_path / "c.pem"
    text = "# captured: 2026-01-31\n" + (LEAF.pem + ISSUING.pem).decode()
    p.write_bytes(text.encode("utf-16"))
    assert load_chain_file(p).captured_at == datetime(2026, 1, 31, tzinfo=timezone.utc)
    p.write_bytes(text.replace("2026-01-31", "2026-01-32").encode("utf-16"))
    with pytest.raises(InputError, match=r"c\.pem:1: bad '# captured:' date '2026-01-32'"):
        load_chain_file(p)


def _project(tmp: Path, header: str = "") -> Path:
    (tmp / "root.pem").write_bytes(ROOT.pem)
    (tmp / "cabundle.yaml").write_text(
        "preset: []\nroots: [root.pem]\ndevice: mbedtls-clock\ntargets:\n  - svc.example\n"
    )
    (tmp / "chains").mkdir()
    saved = tmp / "chains" / "svc.example.pem"
    saved.write_bytes(header.encode() + LEAF.pem + ISSUING.pem)
    return saved


def test_the_cli_refuses_an_unreadable_captured_line_and_writes_nothing(
    in_tmp: Path, runner: CliRunner
) -> None:
    saved = _project(in_tmp, "# captured: yesterday\n")
    before = sorted(p.name for p in in_tmp.iterdir())
    r = runner.invoke(cli, ["check", "--report", "out.html"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.split())
    assert "chains/svc.example.pem:1: bad '# captured:' date 'yesterday'" in said, said
    r = runner.invoke(cli, ["check", "--json"])
    assert r.exit_code == 2, r.output
    doc = json.loads(r.stdout)
    assert doc["kind"] == "InputError" and doc["exit_code"] == 2
    assert "svc.example.pem:1: bad '# captured:' date 'yesterday'" in doc["error"]
    assert "'# captured: YYYY-MM-DD'" in doc["hint"]
    r = runner.invoke(cli, ["check", "--chain", "chains/svc.example.pem"])
    assert r.exit_code == 2 and "chains/svc.example.pem:1: bad" in r.stderr, r.output
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and "svc.example.pem:1: bad '# captured:'" in r.stderr, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == before  # no ca.pem, no report
    assert saved.read_bytes().startswith(b"# captured: yesterday\n")


# ---------------------------------------------------------------------------------------
# 3. The advice for an undated chain, said once


def test_the_undated_advice_is_one_wording_in_the_note_and_the_hint() -> None:
    trust = TrustSet.from_certificates([ROOT.c])
    chain = ServerChain(CERTS, "chains/svc.example.pem")
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example", refresh="refresh it (X)")
    (r,) = check_items(trust, [item], at=LATER).results
    advice = undated_advice(r)
    assert advice is not None and not r.ok
    assert "chains/svc.example.pem has no '# captured:' date" in advice
    assert "refresh it (X), or if the chain was saved while they were valid" in advice
    assert r.undated_note is not None and r.undated_note.endswith(f": {advice}.")
    # Said once, in the note: the hint points to it.
    hint = fix_hint([r])
    assert advice not in hint and POINTER in hint, hint
    # Dated, nothing to advise.
    (r,) = check_items(trust, [item], at=LATER, now=NOW).results
    assert undated_advice(r) is None and r.undated_note is None


def test_check_json_and_report_say_what_the_text_says(in_tmp: Path, runner: CliRunner) -> None:
    """The failing check's ``Error:`` and ``hint:`` lines are in its --json document
    (it had neither), and the HTML report carries the undated note the text prints."""
    _project(in_tmp)
    at = LATER.date().isoformat()
    text = runner.invoke(cli, ["check", "--at", at, "--report", "out.html"])
    assert text.exit_code == 1, text.output
    error, hint = text.stderr.split("\n  hint: ", 1)
    r = runner.invoke(cli, ["check", "--at", at, "--json"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1
    assert error == f"Error: {doc['error']}" and " ".join(hint.split()) == doc["hint"]
    note = doc["results"][0]["undated_note"]
    advice = note.split("before the date checked: ", 1)[1].removesuffix(".")
    assert advice.startswith("chains/svc.example.pem has no '# captured:' date")
    assert advice not in doc["hint"] and POINTER in doc["hint"]
    assert note in " ".join(text.stdout.split())
    html = " ".join((in_tmp / "out.html").read_text().split())
    assert escape(note) in html
    # Nor are they drawn, or listed over a horizon, as renewed by the server.
    assert "2026-12-24 (renewed by the server)" not in html
    assert 'class="bar chain renewed"' not in html
    until = (LATER + 400 * DAY).date().isoformat()
    r = runner.invoke(cli, ["check", "--at", at, "--until", until])
    assert r.exit_code == 1 and note in " ".join(r.stdout.split()), r.output
    assert "renewed by the server, not forecast" not in r.stdout, r.output


# ---------------------------------------------------------------------------------------
# 4. Over a horizon, as at a later date: a chain with no capture date has nothing renewed


def test_a_forecast_of_an_undated_chain_fails_when_its_leaf_expires() -> None:
    """``--until`` took an undated chain's leaf as renewed (a pass) while ``--at`` past
    its expiry failed it: nothing dates the chain, so neither takes it as renewed."""
    trust = TrustSet.from_certificates([ROOT.c])
    chain = ServerChain(CERTS, "chains/svc.example.pem")
    item = CheckItem("svc", chain, CLOCK, hostname="svc.example", refresh="refresh it (X)")
    (r,) = check_items(trust, [item], at=NOW, until=LATER).results
    assert r.timeline.start.ok and not r.ok
    first = r.timeline.first_failure
    assert first is not None and first.date == LEAF.c.not_after
    assert first.causes == ("svc.example expires",)
    assert not r.timeline.rotating and not r.timeline.renewed
    assert [e.label for e in r.timeline.undated] == ["svc.example", "Dates R1"]
    note = r.undated_note
    until = LATER.date().isoformat()
    assert note is not None and f"expire within the horizon (by {until}): " in note
    assert "so its expiring certificates are not taken as renewed by the server" in note
    assert POINTER in fix_hint([r])
    doc = r.to_dict()
    assert doc["undated_note"] == note and doc["rotating"] == [] and doc["renewed"] == []
    assert doc["first_failure"]["date"] == LEAF.c.not_after.date().isoformat()
    # Dated (captured, or seen now): renewed by the server, as before.
    dated = ServerChain(CERTS, "chains/svc.example.pem", captured_at=NOW)
    (r,) = check_items(trust, [CheckItem("svc", dated, CLOCK)], at=NOW, until=LATER).results
    assert r.ok and [e.label for e in r.timeline.rotating] == ["svc.example", "Dates R1"]
    assert r.undated_note is None
    (r,) = check_items(trust, [item], at=NOW, until=LATER, now=NOW).results
    assert r.ok and r.undated_note is None
    # Expiring after the horizon: nothing to say.
    (r,) = check_items(trust, [item], at=NOW, until=NOW + 10 * DAY).results
    assert r.ok and r.undated_note is None and not r.timeline.rotating


def test_check_until_and_build_fail_an_undated_chain_as_check_at_does(
    in_tmp: Path, runner: CliRunner
) -> None:
    """The text, --json and build's gate over the horizon say what ``--at`` says."""
    _project(in_tmp)
    until = LATER.date().isoformat()
    expires = LEAF.c.not_after.date().isoformat()
    r = runner.invoke(cli, ["check", "--until", until])
    assert r.exit_code == 1, r.output
    said = " ".join(r.stdout.split())
    assert "FAIL svc.example" in said, said
    assert f"{expires}: svc.example expires — the device fails from then on" in said, said
    assert "renewed by the server, not forecast" not in said, said
    assert "chains/svc.example.pem has no '# captured:' date" in said, said
    hint = " ".join(r.stderr.split())
    assert "add the roots" not in hint and "'# captured: YYYY-MM-DD'" in said, hint
    assert "svc.example.pem has no '# captured:' date: refresh or date it" in hint, hint
    r = runner.invoke(cli, ["check", "--until", until, "--json"])
    assert r.exit_code == 1, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["ok"] is False and res["first_failure"]["date"] == expires
    assert res["rotating"] == [] and res["undated_note"] is not None
    assert res["undated_note"] in said
    # build judges the config's horizon the same way.
    config = in_tmp / "cabundle.yaml"
    config.write_text(config.read_text() + f"service_until: {until}\n")
    r = runner.invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 1, r.output
    assert "chains/svc.example.pem has no '# captured:' date" in " ".join(r.output.split())
    # Dated, the leaf is the server's to renew: both pass.
    saved = in_tmp / "chains" / "svc.example.pem"
    saved.write_text(f"# captured: {NOW.date().isoformat()}\n" + saved.read_text())
    r = runner.invoke(cli, ["check", "--until", until])
    assert r.exit_code == 0 and "renewed by the server, not forecast" in r.stdout, r.output
    assert runner.invoke(cli, ["build", "--dry-run"]).exit_code == 0


def test_a_published_chain_servers_still_send_is_dated_by_its_roadmap() -> None:
    """A CA's chain without a leaf (examples/chains/) that the roadmap says servers still
    send counts as seen sent: its intermediates are renewed as a captured chain's are. One
    servers stopped sending (R11, until 2026-05-28) is not: it fails on its dates."""
    examples = Path(__file__).resolve().parents[1] / "examples" / "chains"
    x1_yr = _catalog_roots("isrg-root-x1", "isrg-root-yr")
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    until = datetime(2031, 1, 1, tzinfo=timezone.utc)
    gen_y = load_chain_file(examples / "letsencrypt-gen-y-rsa.pem")
    (r,) = check_items(x1_yr, [CheckItem("y", gen_y, CLOCK)], at=at, until=until).results
    assert r.ok and [e.label for e in r.timeline.rotating] == ["YR1"], r.timeline
    assert r.undated_note is None
    r11 = load_chain_file(examples / "letsencrypt-2024-short.pem")
    (r,) = check_items(x1_yr, [CheckItem("r11", r11, CLOCK)], at=at, until=until).results
    assert not r.ok and [e.label for e in r.timeline.undated] == ["R11"]
    first = r.timeline.first_failure
    assert first is not None and first.date.date().isoformat() == "2027-03-12"


def _catalog_roots(*aliases: str) -> TrustSet:
    entries = {e.alias: e for e in Catalog.load()}
    return TrustSet.from_certificates([entry_certificate(entries[a]) for a in aliases])


def test_a_captured_chain_fails_since_its_root_expires_not_its_renewed_leaf() -> None:
    """Checked long after a chain's capture, a failure in effect dates from the root's
    expiry: the leaf and issuing intermediate valid when the chain was captured are
    renewed by the server (the verdict says so). It said "already failing since" the
    leaf's expiry, 20 days after the capture, for a root good for 3,000 days."""
    trust = TrustSet.from_certificates([ROOT.c])
    chain = ServerChain(CERTS, "x.pem", captured_at=NOW)
    much_later = NOW + 4000 * DAY
    (r,) = check_items(trust, [CheckItem("svc", chain, CLOCK)], at=much_later).results
    since = r.timeline.failing_since
    assert not r.ok and since is not None
    # from the first second after its last one, as mbedTLS's clock judges
    assert abs(since.date - ROOT.c.not_after) <= timedelta(seconds=1)
    assert "Dates Root expires" in since.why
    # A leaf already expired when the chain was captured was never renewed: its date stands.
    old = mint("svc.example", ISSUING, ca=False, san="svc.example", not_after=NOW - 10 * DAY)
    stale = ServerChain((old.c, ISSUING.c), "x.pem", captured_at=NOW)
    (r,) = check_items(trust, [CheckItem("svc", stale, CLOCK)], at=much_later).results
    since = r.timeline.failing_since
    assert since is not None and abs(since.date - old.c.not_after) <= timedelta(seconds=1)
