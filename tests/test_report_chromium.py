"""The forecast report as a browser draws it: headless Chromium renders the page, the
timeline's bars and marks are in the DOM it builds and in the pixels it paints.

Skipped (saying why) where Chromium is not installed; tests/test_report.py checks the
HTML's structure everywhere.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.certs import load_certificates
from esp_cabundle.chains import load_chain_file
from esp_cabundle.check import CheckItem, check_items
from esp_cabundle.report import render_html_report
from esp_cabundle.verify import TrustSet, parse_device_profile

DATA = Path(__file__).resolve().parent / "data"
CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
TIMEOUT = 90

ROOT_BLUE = (0x2C, 0x7F, 0xB8)
CHAIN_PURPLE = (0x7B, 0x52, 0xAB)
TODAY_ORANGE = (0xE6, 0x55, 0x0D)
FLIP_RED = (0xC6, 0x28, 0x28)
WINDOW_GREEN = (0xD9, 0xF0, 0xD3)


def _chromium() -> str | None:
    for c in CANDIDATES:
        found = shutil.which(c)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium): render test skipped")
    return exe


def _run(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--mute-audio", f"--user-data-dir={tmp / 'profile'}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, check=False)


def decode_png(data: bytes, *, max_rows: int | None = None) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``max_rows`` rows as RGB bytes of an 8-bit truecolor
    PNG (what Chromium writes), un-filtered per the PNG spec."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows or height)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(
            v for j in range(0, stride, 4) for v in line[j : j + 3]
        ))  # fmt: skip
        prev = line
    return width, height, rows


def count_colour(rows: list[bytes], rgb: tuple[int, int, int], *, tol: int = 6) -> int:
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if all(abs(row[i + k] - rgb[k]) <= tol for k in range(3)):
                n += 1
    return n


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trust = TrustSet.from_certificates(
        load_certificates((DATA / "letsencrypt" / "dst-root-ca-x3.pem").read_bytes()),
        source="dst.pem",
    )
    item = CheckItem("long", load_chain_file(CHAINS / "letsencrypt-2021-long.pem"),
                     parse_device_profile("mbedtls-clock"))  # fmt: skip
    at = datetime(2021, 6, 1, tzinfo=timezone.utc)
    report = check_items(trust, [item], at=at, until=datetime(2024, 1, 1, tzinfo=timezone.utc))
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html_report(report), encoding="utf-8")
    return path


def test_dom_holds_the_timeline(chromium: str, report_file: Path, tmp_path: Path) -> None:
    r = _run(chromium, tmp_path, "--dump-dom", report_file.as_uri())
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    dom = r.stdout.decode()
    # Chromium's parser put the SVG in the document with its bars and marks.
    assert '<svg id="timeline-svg"' in dom
    assert dom.count('class="bar root') == 1  # clipped-start too: DST starts in 2000
    assert dom.count('class="bar chain') == 2
    assert 'class="flip fail"' in dom and 'data-date="2021-09-30"' in dom
    assert dom.count('<tr data-target="long"') == 1


def test_screenshot_draws_bars_and_marks(chromium: str, report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    r = _run(chromium, tmp_path, f"--screenshot={png}", "--window-size=1200,800",
             "--hide-scrollbars", report_file.as_uri())  # fmt: skip
    assert r.returncode == 0 and png.is_file(), r.stderr.decode(errors="replace")[-2000:]
    width, height, rows = decode_png(png.read_bytes(), max_rows=500)
    assert (width, height) == (1200, 800)
    # The timeline sits below the headings: count the colours it alone uses there.
    timeline = rows[120:500]
    blue = count_colour(timeline, ROOT_BLUE)
    purple = count_colour(timeline, CHAIN_PURPLE)
    assert blue > 1000, blue  # DST Root CA X3: a 12 px bar over most of the axis
    assert purple > 300, purple  # the cross-sign the server sends
    assert count_colour(timeline, TODAY_ORANGE) > 100
    assert count_colour(timeline, FLIP_RED) > 20
    assert count_colour(timeline, WINDOW_GREEN) > 2000
    # And a blank page would have none of them.
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    png2 = tmp_path / "blank.png"
    r = _run(chromium, tmp_path, f"--screenshot={png2}", "--window-size=1200,800",
             blank.as_uri())  # fmt: skip
    assert r.returncode == 0
    _, _, blank_rows = decode_png(png2.read_bytes(), max_rows=500)
    assert count_colour(blank_rows[120:500], ROOT_BLUE) == 0


MEASURE = """
<pre id="extents"></pre>
<script>
const svg = document.getElementById("timeline-svg");
const width = svg.viewBox.baseVal.width;
const out = [];
for (const t of svg.querySelectorAll("text")) {
  const b = t.getBBox();
  out.push([t.textContent, b.x, b.x + b.width, width]);
}
document.getElementById("extents").textContent = JSON.stringify(out);
</script>
"""


def test_no_label_runs_off_the_picture(chromium: str, tmp_path: Path) -> None:
    """Chromium lays the text out: every label of a timeline whose marks sit at both
    edges (a bar from 2000 clipped at the axis start, a flip in the axis's last year)
    fits inside the SVG."""
    import json
    import re

    from esp_cabundle.check import roadmap_items

    trust = TrustSet.from_certificates(
        load_certificates((DATA / "letsencrypt" / "dst-root-ca-x3.pem").read_bytes())
        + load_certificates((DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes())
    )
    items = [
        # dated: an undated chain fails on R11's expiry (2027), not the root's (2035)
        CheckItem("short", replace(load_chain_file(CHAINS / "letsencrypt-2024-short.pem"),
                                   captured_at=datetime(2025, 12, 1, tzinfo=timezone.utc)),
                  parse_device_profile("mbedtls-clock")),
        *roadmap_items("letsencrypt", parse_device_profile("mbedtls-clock"),
                       servers=("rsa-dst-preferred",)),
    ]  # fmt: skip
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    report = check_items(trust, items, at=at, until=datetime(2035, 12, 31, tzinfo=timezone.utc))
    page = render_html_report(report).replace("</body>", MEASURE + "</body>")
    path = tmp_path / "measure.html"
    path.write_text(page, encoding="utf-8")
    r = _run(chromium, tmp_path, "--dump-dom", "--virtual-time-budget=5000", path.as_uri())
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    m = re.search(r'<pre id="extents">(.*?)</pre>', r.stdout.decode())
    assert m, "the measuring script did not run"
    extents = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    labels = {e[0] for e in extents}
    assert any(t.startswith("fails 2035") for t in labels)  # a mark near the right edge
    assert "DST Root CA X3" in labels
    for text, left, right, width in extents:
        assert left >= 0 and right <= width, (text, left, right, width)
