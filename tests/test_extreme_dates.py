"""Dates at the calendar's edges: a certificate that never expires (RFC 5280's
``99991231235959Z``), a service life or forecast to 9999-12-31, a check as of year 1.
Every command and the HTML report give an answer there, never an OverflowError or a
"year 10000 is out of range" traceback."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_cabundle.certs import load_certificates
from esp_cabundle.chains import ServerChain
from esp_cabundle.check import CheckItem, check_items, roadmap_items
from esp_cabundle.cli import cli
from esp_cabundle.dates import FIRST, LAST, add_years, clamped, parse_when, shifted
from esp_cabundle.errors import InputError
from esp_cabundle.report import render_html_report
from esp_cabundle.verify import TrustSet, parse_device_profile
from tests.support.verify_pki import mint

DATA = Path(__file__).resolve().parent / "data"
LE = DATA / "letsencrypt"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"
UTC = timezone.utc
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # RFC 5280: no well-defined expiry
DAWN = datetime(1, 1, 1, tzinfo=UTC)


def _le_bundle(path: Path) -> Path:
    path.write_bytes((LE / "isrgrootx1.pem").read_bytes() + (LE / "isrg-root-x2.pem").read_bytes())
    return path


def _svg_span(html: str) -> tuple[str, str, int]:
    """The timeline's first and last day and how many grid lines it draws."""
    m = re.search(r'<svg id="timeline-svg"[^>]*data-from="([^"]+)" data-to="([^"]+)"', html)
    assert m is not None
    return m.group(1), m.group(2), html.count('class="tick"')


@pytest.mark.parametrize(
    "dates",
    [
        ["--until", "9999-12-31"],
        ["--at", "9999-12-31", "--until", "9999-12-31T23:59:59.999999"],
        ["--at", "0001-01-01"],
        ["--at", "0001-01-01", "--until", "9999-12-31"],
    ],
)
def test_check_report_to_the_calendars_ends(
    runner: CliRunner, in_tmp: Path, dates: list[str]
) -> None:
    _le_bundle(in_tmp / "ca.pem")
    args = ["check", "--bundle", "ca.pem", "--roadmap", "letsencrypt", *dates]
    r = runner.invoke(cli, [*args, "--report", "far.html"])
    assert r.exit_code in (0, 1) and isinstance(r.exception, (SystemExit, type(None))), r.output
    assert "out of range" not in r.output
    first, last, ticks = _svg_span((in_tmp / "far.html").read_text())
    assert "0001-01-01" <= first < last <= "9999-12-31"
    assert ticks <= 101  # a grid line a year only over a century; else one per label


def test_a_service_life_to_9999_from_init_is_reported(runner: CliRunner, in_tmp: Path) -> None:
    r = runner.invoke(cli, ["init", "--yes", "--service-until", "9999-12-31"])
    assert r.exit_code == 0, r.output
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", "mdash.net.pem")
    r = runner.invoke(cli, ["check", "--chain", "mdash.net.pem", "--report", "r.html"])
    assert r.exit_code in (0, 1) and isinstance(r.exception, (SystemExit, type(None))), r.output
    html = (in_tmp / "r.html").read_text()
    window = re.search(r'<rect class="service-life"[^>]*data-to="([^"]+)"', html)
    assert window is not None and window.group(1) == "9999-12-31"
    _, last, _ = _svg_span(html)
    assert last < "9999-12-31"  # the axis stops after the last change; the window runs on


def test_a_certificate_that_never_expires(runner: CliRunner, in_tmp: Path) -> None:
    root = mint("Forever Root", not_after=NEVER)
    leaf = mint("forever.example", root, ca=False, san="forever.example", not_after=NEVER)
    (in_tmp / "root.pem").write_bytes(root.pem)
    (in_tmp / "forever.example.pem").write_bytes(leaf.pem)
    base = ["check", "--bundle", "root.pem", "--chain", "forever.example.pem"]
    for extra in ([], ["--until", "9999-12-31T23:59:59.999999"], ["--at", "9999-12-31T23:59:59"]):
        r = runner.invoke(cli, [*base, *extra, "--report", "r.html"])
        assert r.exit_code == 0, r.output
        assert "1 pass, 0 fail" in r.output
        bar = re.search(
            r'<rect class="bar root[^"]*"[^>]*data-not-after="9999-12-31"[^>]*>'
            r"<title>([^<]*)</title>",
            (in_tmp / "r.html").read_text(),
        )
        assert bar is not None
        # Checked today, the axis stops 50 years on: the bar says it runs past it.
        past = "runs past the axis, to 9999-12-31" in bar.group(1)
        assert past == (extra != ["--at", "9999-12-31T23:59:59"]), bar.group(1)


def test_a_date_beyond_the_calendar_in_utc_is_a_usage_error(
    runner: CliRunner, in_tmp: Path
) -> None:
    _le_bundle(in_tmp / "ca.pem")
    r = runner.invoke(
        cli, ["check", "--bundle", "ca.pem", "--roadmap", "letsencrypt",
              "--until", "9999-12-31T23:00:00-05:00", "--report", "r.html"]
    )  # fmt: skip
    assert r.exit_code == 2 and "outside the years 1 to 9999" in r.output
    assert not (in_tmp / "r.html").exists()
    with pytest.raises(InputError):
        parse_when("0001-01-01T00:00:00+01:00")
    assert parse_when("2032-09-02T12:00:00+02:00") == datetime(2032, 9, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("2034-02-30", "February 2034 has 28 days, no day 30; e.g. '2034-02-28'"),
        ("2032-02-30", "February 2032 has 29 days, no day 30; e.g. '2032-02-29'"),
        ("2033-04-31", "April 2033 has 30 days, no day 31; e.g. '2033-04-30'"),
        ("2034-06-00", "June 2034 has 30 days, no day 00; e.g. '2034-06-01'"),
        ("2034-13-01", "there is no month 13 (01 to 12); e.g. '2034-01-13'"),  # swapped
        ("2034-00-31", "there is no month 00 (01 to 12); e.g. '2034-01-31'"),
        ("2034-02-30T12:00:00", "no day 30; e.g. '2034-02-28T12:00:00'"),
        ("2034-2-3", "expected YYYY-MM-DD (or an ISO date-time, or 'now')"),
    ],
)
def test_a_day_not_in_the_calendar_is_named_not_called_the_wrong_form(
    runner: CliRunner, typed: str, why: str
) -> None:
    """2034-02-30 is the YYYY-MM-DD asked for: the error says which part is not in the
    calendar and the nearest date that is, in the form typed."""
    with pytest.raises(InputError, match=re.escape(f"bad date '{typed}': ")) as e:
        parse_when(typed)
    assert str(e.value).endswith(why)
    r = runner.invoke(cli, ["check", "--bundle", str(LE / "isrgrootx1.pem"), "--until", typed])
    assert r.exit_code == 2 and f"bad --until date '{typed}': " in r.output, r.output
    assert why in " ".join(r.output.split()), r.output


def test_date_steps_hold_at_the_calendars_ends() -> None:
    second = timedelta(seconds=1)
    assert shifted(NEVER, second) is None and shifted(DAWN, -second) is None
    assert clamped(NEVER, timedelta(days=90)) == LAST and clamped(DAWN, -second) == FIRST
    assert clamped(datetime(2030, 1, 1, tzinfo=UTC), second).second == 1
    assert add_years(datetime(9990, 5, 1, tzinfo=UTC), 50) == LAST
    assert add_years(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(2029, 2, 28, tzinfo=UTC)


def test_push_watches_through_the_calendars_last_day() -> None:
    from esp_cabundle.commands._push_until import Until

    assert Until().convert("9999-12-31", None, None) == LAST
    assert Until().convert("2030-01-01", None, None) == datetime(2030, 1, 2, tzinfo=UTC)


# ---------------------------------------------------------------------------------------
# Any dates at all


@cache
def _pool() -> tuple[TrustSet, list[CheckItem]]:
    """Roots and leaves from the earliest date X.509 builders write (1950) to "never
    expires", with device clocks on and off, and two Let's Encrypt roadmap servers."""
    y1950, y1970, y2030 = (datetime(y, 1, 1, tzinfo=UTC) for y in (1950, 1970, 2030))
    spans = [(y1950, y1970), (y1950, NEVER), (y2030, NEVER), (y1970, y2030)]
    roots = [mint(f"Root {n}", not_before=a, not_after=b) for n, (a, b) in enumerate(spans)]
    certs = [r.certificate for r in roots]
    certs += load_certificates((LE / "isrgrootx1.pem").read_bytes())
    items = []
    for n, (root, (born, _)) in enumerate(zip(roots, spans, strict=True)):
        ends = NEVER if n % 2 else None
        leaf = mint("edge.example", root, ca=False, san="edge.example", not_before=born,
                    not_after=ends)  # fmt: skip
        chain = ServerChain((leaf.certificate,), f"edge-{n}")
        for device in ("mbedtls-clock", "mbedtls-noclock"):
            profile = parse_device_profile(device)
            items.append(CheckItem(f"edge-{n}-{device}", chain, profile, hostname="edge.example"))
    items += roadmap_items("letsencrypt", parse_device_profile("mbedtls-clock"))[:2]
    return TrustSet.from_certificates(certs, source="edges.pem"), items


instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
).map(lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=instants,
    until=st.none() | instants,
    service=st.none() | instants,
    pick=st.sets(st.integers(0, 9), min_size=1, max_size=3),
)
def test_any_dates_give_a_forecast_and_a_report(
    at: datetime, until: datetime | None, service: datetime | None, pick: set[int]
) -> None:
    trust, items = _pool()
    if until is not None and until < at:
        at, until = until, at
    report = check_items(trust, [items[i] for i in sorted(pick)], at=at, until=until)
    html = render_html_report(report, service_until=service)
    first, last, ticks = _svg_span(html)
    assert "0001-01-01" <= first < last <= "9999-12-31" and ticks <= 101
    for r in report.results:
        for f in r.timeline.flips:
            assert at <= f.when and (until is None or f.when <= until)


def test_digits_of_other_scripts_get_no_calendar_advice() -> None:
    """``\\d`` matched Arabic-Indic digits: '٢٠٣٤-02-30' was told "e.g. '٢٠٣٤-02-28'",
    a date the parser then refuses too."""
    with pytest.raises(InputError) as e:
        parse_when("\u0662\u0660\u0663\u0664-02-30")
    assert "has 28 days" not in str(e.value) and "e.g." not in str(e.value)
