"""The HTML forecast report: structure (bars, marks, table rows with the right dates),
self-containment, determinism, and ``check --report`` on the command line."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.certs import load_certificates
from esp_cabundle.chains import ServerChain, load_chain_file
from esp_cabundle.check import CheckItem, check_items, load_trust_set
from esp_cabundle.cli import cli
from esp_cabundle.report import render_html_report
from esp_cabundle.verify import TrustSet, parse_device_profile

DATA = Path(__file__).resolve().parent / "data"
LE = DATA / "letsencrypt"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Collector(HTMLParser):
    """Every element with its attributes and direct text, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(el)
        if tag not in ("meta", "line", "rect", "br", "img", "link", "input"):
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.stack[-1].text += data

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]


def parse(html: str) -> Collector:
    c = Collector()
    c.feed(html)
    return c


def dated(name: str, captured: str) -> ServerChain:
    """An example chain as saved on ``captured`` while servers sent it: a chain with no
    capture date has nothing renewed by the server (its intermediates fail on their
    dates), which these tests of the drawing are not about."""
    return replace(load_chain_file(CHAINS / name), captured_at=utc(captured))


def _copy_dated(name: str, to: Path) -> None:
    to.write_bytes(b"# captured: 2026-01-01\n" + (CHAINS / name).read_bytes())


def dst_report(until: str = "2024-01-01"):  # type: ignore[no-untyped-def]
    """DST Root CA X3 only, the 2021 long chain, a clock device: fails from 2021-09-30."""
    trust = TrustSet.from_certificates(
        load_certificates((LE / "dst-root-ca-x3.pem").read_bytes()), source="dst.pem"
    )
    items = [
        CheckItem("long", dated("letsencrypt-2021-long.pem", "2021-06-01"),
                  parse_device_profile("mbedtls-clock")),
        CheckItem("short", dated("letsencrypt-2024-short.pem", "2024-06-06"),
                  parse_device_profile("mbedtls-noclock")),
    ]  # fmt: skip
    return check_items(trust, items, at=utc("2021-06-01"), until=utc(until))


def test_bars_marks_and_rows_carry_the_right_dates() -> None:
    report = dst_report()
    html = render_html_report(report, service_until=utc("2023-06-30"))
    doc = parse(html)

    roots = doc.find("rect", "root")
    (dst,) = load_certificates((LE / "dst-root-ca-x3.pem").read_bytes())
    assert [(r.attrs["data-label"], r.attrs["data-not-before"], r.attrs["data-not-after"])
            for r in roots] == [("DST Root CA X3", "2000-09-30", "2021-09-30")]  # fmt: skip
    assert roots[0].attrs["data-sha256"] == dst.sha256

    chain_bars = doc.find("rect", "chain")
    expected = [
        c for name in ("letsencrypt-2021-long.pem", "letsencrypt-2024-short.pem")
        for c in load_chain_file(CHAINS / name).certificates
    ]  # fmt: skip
    assert [b.attrs["data-sha256"] for b in chain_bars] == [c.sha256 for c in expected]
    for b, c in zip(chain_bars, expected, strict=True):
        assert b.attrs["data-not-before"] == c.not_before.date().isoformat()
        assert b.attrs["data-not-after"] == c.not_after.date().isoformat()
    # R3 and R11 are issuing intermediates: drawn as renewed by the server.
    renewed = {b.attrs["data-label"] for b in chain_bars if "renewed" in b.classes}
    assert renewed == {"R3", "R11"}

    (today,) = doc.find("line", "today")
    assert today.attrs["data-date"] == "2021-06-01"
    (window,) = doc.find("rect", "service-life")
    assert (window.attrs["data-from"], window.attrs["data-to"]) == ("2021-06-01", "2023-06-30")

    (flip,) = doc.find("line", "flip")
    assert flip.attrs["data-target"] == "long" and flip.attrs["data-date"] == "2021-09-30"
    assert flip.attrs["data-ok"] == "false" and "fail" in flip.classes

    rows = [r for r in doc.find("tr") if "data-target" in r.attrs]
    # The short chain already fails on the date checked: no "first failure" on that date.
    assert [(r.attrs["data-target"], r.attrs["data-ok"], r.attrs.get("data-first-failure"))
            for r in rows] == [("long", "false", "2021-09-30"),
                               ("short", "false", None)]  # fmt: skip
    assert rows[1].attrs["data-failing-since"] == "2021-06-01"
    cells = [td.text for td in doc.find("td")]
    assert "mbedtls-clock" in cells and "FAIL" in cells and "-0x2700" in html
    assert doc.find("title")[0].text == "esp-cabundle forecast: 0 pass, 2 fail"


def test_geometry_today_crosses_exactly_the_valid_bars() -> None:
    """The date mapping is monotonic and shared: the 'today' line lies inside the bars
    valid at that date and outside the others; the flip mark sits at DST's end."""
    report = dst_report()
    doc = parse(render_html_report(report))
    x_today = float(doc.find("line", "today")[0].attrs["x1"])
    at = report.at.date().isoformat()
    for bar in doc.find("rect", "bar"):
        x, w = float(bar.attrs["x"]), float(bar.attrs["width"])
        valid = bar.attrs["data-not-before"] <= at <= bar.attrs["data-not-after"]
        assert (x <= x_today <= x + w) == valid, bar.attrs["data-label"]
    dst = doc.find("rect", "root")[0]
    x_flip = float(doc.find("line", "flip")[0].attrs["x1"])
    assert abs(float(dst.attrs["x"]) + float(dst.attrs["width"]) - x_flip) < 1.0
    # Without a service life the forecast horizon is shaded, and says so.
    (window,) = doc.find("rect", "service-life")
    assert window.attrs["data-to"] == "2024-01-01"
    assert "forecast horizon" in render_html_report(report)


def test_self_contained_and_deterministic() -> None:
    a = render_html_report(dst_report())
    assert a == render_html_report(dst_report())
    lowered = a.lower()
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src="):
        assert needle not in lowered, needle
    # The only URL is the SVG namespace, which is a name, not a fetch.
    assert re.findall(r"https?://[^\"' ]+", a) == ["http://www.w3.org/2000/svg"]
    assert a.startswith("<!DOCTYPE html>") and a.rstrip().endswith("</html>")


def test_idf_bundle_roots_have_no_dates_and_full_bars(tmp_path: Path) -> None:
    from esp_cabundle.bundle import BundleSpec, resolve_bundle
    from esp_cabundle.catalog import Catalog
    from esp_cabundle.formats import render

    bundle = resolve_bundle(BundleSpec(presets=("letsencrypt",)), Catalog.load()).bundle
    path = tmp_path / "x509_crt_bundle.bin"
    path.write_bytes(render("idf-bundle", bundle, {"idf_version": "5.4"}))
    trust = load_trust_set(path)
    item = CheckItem("le", load_chain_file(CHAINS / "letsencrypt-2024-short.pem"),
                     parse_device_profile("idf-bundle"))  # fmt: skip
    report = check_items(trust, [item], at=utc("2026-01-01"), until=utc("2030-01-01"))
    doc = parse(render_html_report(report))
    roots = doc.find("rect", "root")
    assert len(roots) == 4 and all("undated" in r.classes for r in roots)
    assert all("data-not-after" not in r.attrs for r in roots)
    svg = doc.find("svg")[0]
    assert float(roots[0].attrs["width"]) > 0.9 * (float(svg.attrs["width"]) - 330 - 24)
    assert not doc.find("line", "flip")


def test_cli_writes_the_report_even_when_the_check_fails(runner: CliRunner, in_tmp: Path) -> None:
    shutil.copy(LE / "dst-root-ca-x3.pem", "dst.pem")
    args = ["check", "--bundle", "dst.pem", "--chain", str(CHAINS / "letsencrypt-2021-long.pem"),
            "--device", "mbedtls-clock", "--at", "2021-06-01", "--until", "2024-01-01"]  # fmt: skip
    r = runner.invoke(cli, [*args, "--report", "out/report.html"])
    assert r.exit_code == 1
    first = (in_tmp / "out" / "report.html").read_bytes()
    r = runner.invoke(cli, [*args, "--report", "again.html", "--json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["report"] == "again.html"
    assert (in_tmp / "again.html").read_bytes() == first
    doc = parse(first.decode())
    assert doc.find("line", "flip")[0].attrs["data-date"] == "2021-09-30"


def test_cli_service_life_comes_from_the_config(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "chains").mkdir()
    _copy_dated("letsencrypt-2024-short.pem", in_tmp / "chains" / "mdash.net.pem")
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\nservice_until: 2033-03-31\ndevice: mbedtls-clock\n"
        "targets:\n  - mdash.net\n"
    )
    r = runner.invoke(
        cli, ["check", "--at", "2026-11-27", "--until", "2036-01-01", "--report", "f.html"]
    )
    assert r.exit_code == 1, r.output  # ISRG Root X1 expires 2035-06-04
    doc = parse((in_tmp / "f.html").read_text())
    (window,) = doc.find("rect", "service-life")
    assert (window.attrs["data-from"], window.attrs["data-to"]) == ("2026-11-27", "2033-03-31")
    (flip,) = doc.find("line", "flip")
    assert (flip.attrs["data-target"], flip.attrs["data-date"]) == ("mdash.net", "2035-06-04")
    assert len(doc.find("rect", "root")) == 4


@pytest.mark.parametrize("target", ["dir", "missing-parent-file"])
def test_cli_bad_report_path(runner: CliRunner, in_tmp: Path, target: str) -> None:
    shutil.copy(LE / "isrgrootx1.pem", "x1.pem")
    base = ["check", "--bundle", "x1.pem", "--chain", str(CHAINS / "letsencrypt-2024-short.pem"),
            "--at", "2026-01-01"]  # fmt: skip
    if target == "dir":
        (in_tmp / "r").mkdir()
        r = runner.invoke(cli, [*base, "--report", "r"])
        assert r.exit_code == 2 and "r: names a directory, not a file" in r.output
    else:
        (in_tmp / "plain").write_text("not a dir")
        r = runner.invoke(cli, [*base, "--report", "plain/r.html"])
        # the user's slip, said before the check runs (exit 2), not an I/O failure after it
        assert r.exit_code == 2, r.output
        assert "plain is a regular file, not a directory; nothing was read or written" in r.output
        assert (in_tmp / "plain").read_text() == "not a dir"


# ---------------------------------------------------------------------------------------
# Servers that change chains, failures already in effect, the picture's edges


def title_of(doc: Collector, el: Element) -> str:
    """The <title> child of an SVG shape (the collector keeps shapes off its stack)."""
    nxt = doc.elements[doc.elements.index(el) + 1]
    assert nxt.tag == "title"
    return nxt.text


def roadmap_report(
    device: str, *, bundle: str = "dst-root-ca-x3.pem", servers=("rsa-dst-preferred",)
):  # type: ignore[no-untyped-def]
    from esp_cabundle.check import roadmap_items

    trust = TrustSet.from_certificates(load_certificates((LE / bundle).read_bytes()), source=bundle)
    items = roadmap_items("letsencrypt", parse_device_profile(device), servers=servers)
    return check_items(trust, items, at=utc("2023-06-01"), until=utc("2025-01-01"))


def test_roadmap_chains_are_marked_where_servers_start_and_stop_sending_them() -> None:
    doc = parse(render_html_report(roadmap_report("mbedtls-noclock")))
    sent = doc.find("rect", "sent")
    assert [(r.attrs["data-step"], r.attrs["data-from"], r.attrs.get("data-to")) for r in sent] == [
        ("long", "2021-05-04", "2024-06-06"),
        ("r10-r14", "2024-06-06", "2026-05-28"),
    ]
    assert [ln.attrs["data-date"] for ln in doc.find("line", "sent-start")] == [
        "2021-05-04", "2024-06-06",
    ]  # fmt: skip
    assert [ln.attrs["data-date"] for ln in doc.find("line", "sent-stop")] == [
        "2024-06-06", "2026-05-28",
    ]  # fmt: skip
    (flip,) = doc.find("line", "flip")
    assert (flip.attrs["data-date"], flip.attrs["data-chain-change"]) == ("2024-06-06", "true")
    assert "servers switch to r10-r14" in title_of(doc, flip)
    (row,) = [r for r in doc.find("tr") if "data-target" in r.attrs]
    assert row.attrs["data-first-failure"] == "2024-06-06" and "data-failing-since" not in row.attrs
    # The stop mark of "long" and the start mark of "r10-r14" sit on the flip.
    x_flip = float(flip.attrs["x1"])
    assert float(doc.find("line", "sent-stop")[0].attrs["x1"]) == x_flip


def test_a_chain_already_failing_shows_since_when_not_a_first_failure() -> None:
    html = render_html_report(roadmap_report("mbedtls-clock"))
    doc = parse(html)
    (row,) = [r for r in doc.find("tr") if "data-target" in r.attrs]
    assert row.attrs["data-failing-since"] == "2021-09-30"
    assert "data-first-failure" not in row.attrs
    cells = [td.text for td in doc.find("td")]
    assert "already failing since 2021-09-30" in cells and "2023-06-01" not in cells
    assert not doc.find("line", "flip")  # nothing flips on the date checked
    (since,) = doc.find("line", "failing-since")
    assert since.attrs["data-date"] == "2021-09-30"
    assert "DST Root CA X3 expires" in title_of(doc, since)


def test_a_server_first_sending_later_fails_from_that_day() -> None:
    doc = parse(
        render_html_report(roadmap_report("mbedtls-noclock", servers=("ecdsa-x2-preferred",)))
    )
    (row,) = [r for r in doc.find("tr") if "data-target" in r.attrs]
    assert row.attrs["data-first-failure"] == "2024-06-06" and "data-failing-since" not in row.attrs
    (flip,) = doc.find("line", "flip")
    assert flip.attrs["data-date"] == "2024-06-06"


def test_bars_that_start_before_the_axis_say_so() -> None:
    doc = parse(render_html_report(roadmap_report("mbedtls-noclock")))
    svg = doc.find("svg")[0]
    assert svg.attrs["data-from"] == "2011-01-01"  # twelve years back from 2023
    (dst,) = doc.find("rect", "root")
    assert "clipped-start" in dst.classes and dst.attrs["data-clipped"] == "start"
    assert dst.attrs["data-not-before"] == "2000-09-30"
    assert "(starts 2000-09-30, before the axis)" in title_of(doc, dst)
    assert len(doc.find("path", "clipped-mark")) == 1
    # Bars inside the axis carry no such mark.
    assert all("data-clipped" not in b.attrs for b in doc.find("rect", "chain"))


def test_labels_near_the_edges_turn_inward() -> None:
    """ISRG Root X1 expires in 2035, in the last year of the axis: its flip label is
    anchored at its end, left of the mark, instead of running off the right edge."""
    trust = TrustSet.from_certificates(load_certificates((LE / "isrgrootx1.pem").read_bytes()))
    item = CheckItem("short", dated("letsencrypt-2024-short.pem", "2026-01-01"),
                     parse_device_profile("mbedtls-clock"))  # fmt: skip
    report = check_items(trust, [item], at=utc("2026-01-01"), until=utc("2035-12-31"))
    doc = parse(render_html_report(report))
    width = float(doc.find("svg")[0].attrs["width"])
    (flip,) = doc.find("line", "flip")
    (label,) = [t for t in doc.find("text", "mark-label") if t.text.startswith("fails ")]
    assert label.attrs["text-anchor"] == "end"
    assert float(label.attrs["x"]) < float(flip.attrs["x1"]) <= width
    for t in doc.find("text"):
        x, n = float(t.attrs["x"]), len(t.text)
        anchor = t.attrs.get("text-anchor", "start")
        if anchor == "start":
            assert x >= 0 and x + n * 6.6 <= width, t.text
        elif anchor == "end":
            assert x - n * 6.6 >= 0 and x <= width, t.text


# C0 and C1 controls but the newline between the page's own lines, and DEL.
_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_control_characters_in_names_never_reach_the_page(runner: CliRunner, in_tmp: Path) -> None:
    """A root, intermediate and target named with ESC (a terminal colour sequence), a
    C1 control, BEL and a newline: the page shows them escaped, as the terminal does,
    and holds no raw control character anywhere (tester's report: 0x1b in the page)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from support.pki import issue

    def cn(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    root = issue(cn("Evil\x1b[31mRoot\x85C1\x07"))
    inter = issue(cn("Evil\nInter\x9b2J"), issuer=root)
    leaf = issue(cn("evil.example"), issuer=inter, ca=False, san="evil.example")
    (in_tmp / "evilb.pem").write_bytes(root.pem)
    (in_tmp / "a\x1b[2Jchain.pem").write_bytes(leaf.pem + inter.pem)
    r = runner.invoke(
        cli,
        ["check", "--bundle", "evilb.pem", "--chain", "a\x1b[2Jchain.pem",
         "--device", "mbedtls-clock", "--until", "2040-01-01", "--report", "evil.html"],
    )  # fmt: skip
    assert r.exit_code == 1, r.output  # the root expires before 2040
    page = (in_tmp / "evil.html").read_text(encoding="utf-8")
    assert not _CONTROLS.findall(page)
    assert "Evil\\x1b[31mRoot\\x85C1\\x07" in page  # shown, escaped
    assert "Evil\\nInter\\x9b2J" in page and "a\\x1b[2Jchain.pem" in page
    parse(page)  # still well-formed for a parser


def test_a_boards_report_is_the_same_in_any_checkout(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A board's connection without a saved chain is noted with the path to save it at:
    named as typed from the project (chains/mdash.net.pem), not as the config's absolute
    path, so one project checked out in two places writes the same report."""
    reports = []
    for place in ("one", "two/deeper"):
        project = tmp_path / place
        project.mkdir(parents=True)
        (project / "cabundle.yaml").write_text("board: mdash\nservice_until: 2031-12-01\n")
        monkeypatch.chdir(project)
        r = runner.invoke(cli, ["check", "--at", "2026-12-01", "--report", "r.html"])
        assert r.exit_code == 0, r.output
        said = " ".join(r.stdout.split())
        assert "no saved chains/mdash.net.pem" in said, said
        assert "chains show --host mdash.net -o chains/mdash.net.pem" in said, said
        reports.append((project / "r.html").read_bytes())
    assert str(tmp_path).encode() not in reports[0]
    assert reports[0] == reports[1]


def test_targets_not_judged_are_rows_of_the_report(runner: CliRunner, in_tmp: Path) -> None:
    """``check --report`` left out a target whose chain could not be captured: the page
    showed every chain passing while the run exited 3. It is counted and has a row."""
    import socket

    (in_tmp / "chains").mkdir()
    _copy_dated("letsencrypt-2024-short.pem", in_tmp / "chains" / "mdash.net.pem")
    with socket.socket() as s:  # bound, not listening: the capture is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        (in_tmp / "cabundle.yaml").write_text(
            f"preset: letsencrypt\ndevice: mbedtls-clock\ntargets:\n  - mdash.net\n"
            f"  - 127.0.0.1:{port}\n"
        )
        args = ["check", "--at", "2026-11-27", "--until", "2030-01-01", "--report", "r.html"]
        r = runner.invoke(cli, args)
        assert r.exit_code == 3, r.output
        page = (in_tmp / "r.html").read_text()
        assert runner.invoke(cli, args).exit_code == 3
        assert (in_tmp / "r.html").read_text() == page  # deterministic
        # Nothing judged at all: the page is still written, every target a row.
        config = (in_tmp / "cabundle.yaml").read_text().replace("  - mdash.net\n", "")
        (in_tmp / "cabundle.yaml").write_text(config)
        r = runner.invoke(cli, [*args[:-1], "none.html"])
        assert r.exit_code == 3, r.output
        none = parse((in_tmp / "none.html").read_text())
    doc = parse(page)
    assert "1 pass, 0 fail, 1 not judged" in doc.find("title")[0].text
    assert [e.text for e in doc.find("span", "fail")] == ["1 pass, 0 fail, 1 not judged"]
    rows = [e for e in doc.find("tr") if "data-target" in e.attrs]
    assert [(e.attrs["data-target"], e.attrs["data-ok"]) for e in rows] == [
        ("mdash.net", "true"),
        (f"127.0.0.1:{port}", "false"),
    ]
    assert rows[1].attrs["data-judged"] == "false"
    (why,) = [e for e in doc.find("td", "why") if e.text.startswith("not judged: ")]
    assert why.text.startswith(f"not judged: target '127.0.0.1:{port}' has no saved chain")
    assert "connection refused" in why.text
    assert "0 pass, 0 fail, 1 not judged" in none.find("title")[0].text
    assert [e.attrs["data-target"] for e in none.find("tr") if "data-target" in e.attrs] == [
        f"127.0.0.1:{port}"
    ]


def test_a_target_not_judged_is_escaped_like_the_rest() -> None:
    from esp_cabundle.targets import ChainNotCaptured

    bad = ChainNotCaptured("<b>x</b>\x1b[2J refused", target="a<script>\x07")
    page = render_html_report(dst_report(), unjudged=[bad])
    assert page == render_html_report(dst_report(), unjudged=[bad])
    assert not _CONTROLS.findall(page) and "<script" not in page and "<b>" not in page
    assert "not judged: &lt;b&gt;x&lt;/b&gt;\\x1b[2J refused" in page
    assert 'data-target="a&lt;script&gt;\\x07"' in page
    assert "2 pass" not in page and "0 pass, 2 fail, 1 not judged" in page
