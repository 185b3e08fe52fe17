"""ESP-IDF certificate bundle: byte-identical to gen_crt_bundle.py, both layouts, reader."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_cabundle.certs import load_certificate_file
from esp_cabundle.check import load_trust_set
from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError, InputError
from esp_cabundle.formats.idf_bundle import (
    DEFAULT_MAX_CERTS,
    BundleRoot,
    bundle_format_for,
    choose_bundle_format,
    detect_bundle_format,
    diagnose_bundle,
    idf_version_warning,
    parse_idf_bundle,
    render_idf_bundle,
)
from esp_cabundle.formats.idf_filter import filter_curl_bundle, parse_cmn_filter, read_curl_bundle
from esp_cabundle.inspect import inspect_idf_bundle, inspect_path
from tests.support.pki import issue

DATA = Path(__file__).parent / "data" / "idf-bundle"
INPUT = DATA / "input"


def inputs(name: str) -> list:  # type: ignore[type-arg]
    if name == "small":
        return list(load_certificate_file(INPUT / "small.pem"))
    if name == "all":
        return list(load_certificate_file(INPUT / "cacrt_all.pem"))
    if name == "duplicates":
        return list(load_certificate_file(INPUT / "duplicates.pem"))
    names = parse_cmn_filter((INPUT / "cmn_crt_authorities.csv").read_text())
    return filter_curl_bundle((INPUT / "cacrt_all.pem").read_text(), names)


@pytest.mark.parametrize("fmt", ["v1", "v2"])
@pytest.mark.parametrize("name", ["small", "all", "cmn", "duplicates"])
def test_golden_bundles_byte_identical(name: str, fmt: str) -> None:
    golden = (DATA / f"{name}.{fmt}.bin").read_bytes()
    assert render_idf_bundle(inputs(name), bundle_format=fmt) == golden  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["v1", "v2"])
@pytest.mark.parametrize("name", ["small", "all", "cmn"])
def test_reader_reads_golden_bundles(name: str, fmt: str) -> None:
    data = (DATA / f"{name}.{fmt}.bin").read_bytes()
    assert detect_bundle_format(data) == fmt
    bundle = parse_idf_bundle(data)
    assert bundle.format == fmt and bundle.is_sorted
    expected = sorted(
        (BundleRoot.from_certificate(c) for c in inputs(name)), key=lambda r: r.subject_der
    )
    assert list(bundle.roots) == expected


def test_layouts_differ_as_documented() -> None:
    small = inputs("small")
    v1 = render_idf_bundle(small, bundle_format="v1")
    v2 = render_idf_bundle(small, bundle_format="v2")
    assert struct.unpack(">H", v1[:2]) == (5,)
    assert struct.unpack("<L", v2[:4]) == (20,)  # offset table of 5 u32
    assert len(v2) == len(v1) + 4 * 5 - 2


def test_cmn_filter_matches_curl_name_lines() -> None:
    names = parse_cmn_filter((INPUT / "cmn_crt_authorities.csv").read_text())
    assert "ISRG Root X1" in names and "Owner" not in names
    entries = read_curl_bundle((INPUT / "cacrt_all.pem").read_text())
    assert len(entries) == 121
    kept = filter_curl_bundle((INPUT / "cacrt_all.pem").read_text(), names)
    assert {c.label for c in kept} >= {"ISRG Root X1", "ISRG Root X2", "Amazon Root CA 1"}
    assert len(kept) == len({n for n, _ in entries if n in names})


def test_repeated_subject_and_key_kept_as_gen_crt_bundle_does() -> None:
    """gen_crt_bundle.py keeps a root and its cross-sign (same subject and key) as two
    entries, and a root given twice as two entries."""
    x1 = load_certificate_file(Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem")
    x1_cross = load_certificate_file(
        Path(__file__).parent / "data/letsencrypt/isrg-root-x1-cross-signed.pem"
    )
    both = parse_idf_bundle(render_idf_bundle([*x1, *x1_cross, *x1], bundle_format="v2"))
    assert len(both.roots) == 3 and len(set(both.roots)) == 1
    with pytest.raises(InputError, match="3 roots exceed"):
        render_idf_bundle([*x1, *x1_cross, *x1], bundle_format="v1", max_certs=2)


@pytest.mark.parametrize(
    ("version", "fmt"),
    [
        ("4.4", "v1"),
        ("v4.4.8", "v1"),
        ("5.3.5", "v1"),
        ("5.4", "v2"),
        ("v5.5.1", "v2"),
        ("6.0", "v2"),
        ("idf-5.1", "v1"),
        ("arduino-2.0.17", "v1"),
        ("arduino-3.1.3", "v1"),
        ("arduino-3.2.0", "v2"),
    ],
)
def test_format_by_version(version: str, fmt: str) -> None:
    assert bundle_format_for(version) == fmt


@pytest.mark.parametrize("bad", ["3.3", "arduino-1.0.6", "latest", ""])
def test_bad_versions(bad: str) -> None:
    with pytest.raises(InputError):
        bundle_format_for(bad)


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        # a minor past a line that ended (6.0 followed 5.5): a typo, refused with the line
        ("5.9.9", "the nearest release line is 5.5"),
        ("5.6", "the nearest release line is 5.5"),
        ("4.5", "the nearest release line is 4.4"),
        # an Arduino-ESP32 release that never was: 2.017 had been read as 2.17 (v1)
        ("arduino-2.017", "did you mean arduino-2.0.17?"),
        ("arduino-2.5.0", "check the version"),
        ("arduino-3.1.9", "check the version"),
    ],
)
def test_a_version_never_released_is_refused(bad: str, said: str) -> None:
    with pytest.raises(InputError, match="is no release") as e:
        bundle_format_for(bad)
    assert said in (e.value.hint or ""), e.value.hint


@pytest.mark.parametrize(
    ("version", "fmt"), [("4.3", "v1"), ("4.0", "v1"), ("6.0.1", "v2"), ("arduino-3.3.20", "v2")]
)
def test_real_and_later_releases_are_taken_silently(version: str, fmt: str) -> None:
    assert bundle_format_for(version) == fmt and idf_version_warning(version) is None


def test_a_newer_esp_idf_than_known_is_warned_about(runner: CliRunner, in_tmp: Path) -> None:
    """ESP-IDF 6.1 may come: its layout is 6.0's, said; 5.9.9 never will: refused."""
    assert bundle_format_for("6.1") == "v2"
    line = ["build", "--preset", "default", "-f", "idf-bundle", "-o", "b.bin", "-q"]
    r = runner.invoke(cli, [*line, "--idf-version", "6.1"])
    assert r.exit_code == 0, r.output
    assert "warning: ESP-IDF 6.1 is newer than the releases this tool knows" in r.stderr
    assert "6.0's layout (v2)" in r.stderr and (in_tmp / "b.bin").is_file()
    (in_tmp / "b.bin").unlink()
    (in_tmp / "cabundle.lock").unlink(missing_ok=True)
    r = runner.invoke(cli, [*line, "--idf-version", "5.9.9"])
    assert r.exit_code == 2 and "ESP-IDF 5.9.9 is no release" in r.stderr, r.output
    assert list(in_tmp.iterdir()) == []


def test_choose_format() -> None:
    assert choose_bundle_format() == "v2"
    assert choose_bundle_format(idf_version="4.4") == "v1"
    assert choose_bundle_format(bundle_format="v1") == "v1"
    with pytest.raises(InputError, match="contradicts"):
        choose_bundle_format(idf_version="5.4", bundle_format="v1")
    with pytest.raises(InputError, match="unknown bundle format 'v3'"):
        choose_bundle_format(bundle_format="v3")


def test_max_certs_enforced() -> None:
    certs = [issue(f"Root {i:03d}").certificate for i in range(DEFAULT_MAX_CERTS + 1)]
    with pytest.raises(InputError, match="201 roots exceed the ESP-IDF bundle maximum of 200"):
        render_idf_bundle(certs, bundle_format="v2")
    data = render_idf_bundle(certs, bundle_format="v1", max_certs=250)
    assert len(parse_idf_bundle(data).roots) == 201
    with pytest.raises(InputError, match="maximum of 3"):
        render_idf_bundle(certs[:4], bundle_format="v1", max_certs=3)
    with pytest.raises(InputError, match="at least one root"):
        render_idf_bundle([], bundle_format="v1")


def test_inspect_says_no_dates_and_lists_keys() -> None:
    report = inspect_path(DATA / "small.v1.bin")
    assert report.kind == "idf-bundle-v1"
    assert [f.label for f in report.findings] == [
        "Root YE",
        "Root YR",
        "DST Root CA X3",
        "ISRG Root X1",
        "ISRG Root X2",
    ]
    assert report.findings[3].key == "RSA 4096" and report.findings[4].key == "EC P-384"
    assert all(f.not_after is None for f in report.findings)
    assert any("no dates" in n for n in report.notes)
    assert dict(report.facts)["roots"] == 5


def test_inspect_bundle_facts_are_numbers_in_json_and_grouped_in_text(
    in_tmp: Path, runner: CliRunner
) -> None:
    """A bundle's facts follow an image's: numbers in --json, sizes grouped by thousands
    with ``bytes`` in text."""
    data = (DATA / "small.v1.bin").read_bytes()
    assert len(data) >= 1000  # so the text shows a thousands separator
    (in_tmp / "b.bin").write_bytes(data)
    result = runner.invoke(cli, ["inspect", "b.bin", "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["reports"]
    assert report["facts"]["roots"] == 5 and report["facts"]["size"] == len(data)
    result = runner.invoke(cli, ["inspect", "b.bin"])
    assert result.exit_code == 0, result.output
    assert f"size: {len(data):,} bytes" in result.output and "roots: 5\n" in result.output


def _v1_bytes(roots: list[BundleRoot]) -> bytes:
    body = b"".join(
        struct.pack(">HH", len(r.subject_der), len(r.spki_der)) + r.subject_der + r.spki_der
        for r in roots
    )
    return struct.pack(">H", len(roots)) + body


def test_inspect_flags_unsorted_bundle() -> None:
    data = render_idf_bundle(inputs("small"), bundle_format="v1")
    roots = parse_idf_bundle(data).roots
    report = inspect_idf_bundle(_v1_bytes(list(reversed(roots))), "x.bin")
    assert report is not None
    assert any("not sorted" in n for n in report.notes)


def test_non_bundles_are_not_claimed() -> None:
    pem = (INPUT / "small.pem").read_bytes()
    assert inspect_idf_bundle(pem, "small.pem") is None
    assert inspect_idf_bundle(b"", "e") is None
    assert inspect_idf_bundle(b"\x00\x00", "e") is None  # a v1 bundle of zero roots
    with pytest.raises(ImageError, match="not an ESP-IDF certificate bundle"):
        parse_idf_bundle(pem, source="small.pem")
    truncated = (DATA / "small.v2.bin").read_bytes()[:-1]
    with pytest.raises(ImageError):
        parse_idf_bundle(truncated, bundle_format="v2")


def test_damage_names_the_root_from_1_as_inspect_lists_it() -> None:
    # inspect lists a bundle's roots as #1..#5 (and check counts from #1): an error about
    # the fifth root says "root #5", not "root 4".
    v1 = (DATA / "small.v1.bin").read_bytes()
    with pytest.raises(ImageError, match=r"v1 bundle: root #5 at byte \d+ runs past the end"):
        parse_idf_bundle(v1[:-1], bundle_format="v1")
    v2 = bytearray((DATA / "small.v2.bin").read_bytes())
    third = struct.unpack_from("<L", v2, 8)[0]
    struct.pack_into("<L", v2, 8, third + 1)  # root #2 no longer ends where #3 starts
    with pytest.raises(ImageError, match=r"v2 bundle: root #2 ends at byte"):
        parse_idf_bundle(bytes(v2), bundle_format="v2")
    roots = list(parse_idf_bundle(v1).roots)
    roots[2] = BundleRoot(b"\x04" + roots[2].subject_der[1:], roots[2].spki_der)
    why = diagnose_bundle(_v1_bytes(roots))
    assert why is not None and "(first: root #3," in why


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_a_cut_bundle_is_named_so_by_check_as_by_inspect(
    in_tmp: Path, runner: CliRunner, fmt: str
) -> None:
    """check (every reader of a trust set) said 'binary data, not a certificate file' of a
    bundle cut short where inspect said what it is; they now say the same."""
    (in_tmp / "t.bin").write_bytes((DATA / f"small.{fmt}.bin").read_bytes()[:-40])
    said = runner.invoke(cli, ["inspect", "t.bin"])
    assert said.exit_code == 2 and f"bundle ({fmt}) that is cut short" in said.output
    why = said.output.splitlines()[0]
    for args in (
        ["check", "--bundle", "t.bin", "--device", "idf-bundle"],
        ["check", "--bundle", "t.bin"],
    ):
        r = runner.invoke(cli, [*args, "--at", "2026-01-01"])
        assert r.exit_code == 2 and r.output.splitlines()[0] == why, r.output
        assert "binary data" not in r.output and "rebuild it" in r.output
    with pytest.raises(InputError, match=f"bundle \\({fmt}\\) that is cut short"):
        load_trust_set(in_tmp / "t.bin")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["t.bin"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzzed_parser_never_crashes(data: bytes) -> None:
    try:
        bundle = parse_idf_bundle(data)
    except ImageError:
        return
    assert bundle.roots
    inspect_idf_bundle(data, "fuzz")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=1996), st.integers(min_value=0, max_value=255))
def test_corrupted_bundle_never_crashes(pos: int, value: int) -> None:
    data = bytearray((DATA / "small.v2.bin").read_bytes())
    data[pos] = value
    try:
        parse_idf_bundle(bytes(data))
    except ImageError:
        return
    report = inspect_idf_bundle(bytes(data), "fuzz")
    assert report is None or report.findings


# --- build ---------------------------------------------------------------------------------


def test_build_reproduces_cmn_bundle_from_the_cli(in_tmp: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        [
            "build",
            "--root",
            str(INPUT / "cacrt_all.pem"),
            "--idf-filter",
            str(INPUT / "cmn_crt_authorities.csv"),
            "-f",
            "idf-bundle",
            "--idf-version",
            "5.3",
            "--no-lock",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (in_tmp / "x509_crt_bundle.bin").read_bytes() == (DATA / "cmn.v1.bin").read_bytes()


def _filter_build(runner: CliRunner, *roots: str, csv: str) -> tuple[int, str]:
    args = ["build", "--idf-filter", csv, "--allow", "expired", "--no-lock", "-f", "idf-bundle"]
    for r in roots:
        args += ["--root", r]
    result = runner.invoke(cli, [*args, "-o", "b.bin"])
    return result.exit_code, result.output


def test_build_filter_matches_gen_crt_bundle_2026(in_tmp: Path, runner: CliRunner) -> None:
    """ESP-IDF matches the CSV against curl's name line, not the certificate's name:
    Go Daddy Class 2 CA, Starfield Class 2 CA and Comodo AAA Services root differ."""
    csv = str(INPUT / "cmn_crt_authorities-2026-07.csv")
    code, output = _filter_build(runner, str(INPUT / "cacrt_all-2026-07.pem"), csv=csv)
    assert code == 0, output
    golden = (DATA / "cmn-2026-07.v2.bin").read_bytes()
    assert (in_tmp / "b.bin").read_bytes() == golden
    assert len(parse_idf_bundle(golden).roots) == 43


def test_build_filter_reads_crlf_curl_file_and_keeps_other_files_whole(
    in_tmp: Path, runner: CliRunner
) -> None:
    """gen_crt_bundle.py reads text mode (CRLF is a line end) and adds a custom
    certificate file (not cacrt_all.pem) unfiltered, beside the filtered list."""
    crlf = (INPUT / "cacrt_all-2026-07.pem").read_bytes().replace(b"\n", b"\r\n")
    (in_tmp / "crlf.pem").write_bytes(crlf)
    extra = INPUT / "small.pem"
    csv = str(INPUT / "cmn_crt_authorities-2026-07.csv")
    code, output = _filter_build(runner, "crlf.pem", str(extra), csv=csv)
    assert code == 0, output
    roots = set(parse_idf_bundle((in_tmp / "b.bin").read_bytes()).roots)
    filtered = set(parse_idf_bundle((DATA / "cmn-2026-07.v2.bin").read_bytes()).roots)
    small = {BundleRoot.from_certificate(c) for c in load_certificate_file(extra)}
    assert roots == filtered | small and not small <= filtered


def test_build_filter_refuses_cacrt_all_not_in_curl_format(in_tmp: Path, runner: CliRunner) -> None:
    """gen_crt_bundle.py would keep none of a cacrt_all.pem without name lines."""
    (in_tmp / "cacrt_all.pem").write_bytes((INPUT / "small.pem").read_bytes())
    code, output = _filter_build(
        runner, "cacrt_all.pem", csv=str(INPUT / "cmn_crt_authorities-2026-07.csv")
    )
    assert code == 2, output
    assert "no curl-format entries" in output and "rename the file" in output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cacrt_all.pem"]


def test_build_idf_bundle_from_config(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cmn.csv").write_bytes((INPUT / "cmn_crt_authorities.csv").read_bytes())
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\n"
        "idf_filter: cmn.csv\n"
        "outputs:\n"
        "  - {format: idf-bundle, path: b.bin, idf_version: '5.4'}\n"
    )
    result = runner.invoke(cli, ["build", "--no-lock"])
    assert result.exit_code == 0, result.output
    bundle = parse_idf_bundle((in_tmp / "b.bin").read_bytes())
    # Root YR/YE are not in ESP-IDF's common list: the filter drops them
    labels = {r.label() for r in bundle.roots}
    assert bundle.format == "v2" and labels == {"ISRG Root X1", "ISRG Root X2"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "idf-bundle", "--idf-version", "banana"], "cannot read version 'banana'"),
        (["-f", "pem", "--idf-version", "5.4"], "applies to the idf-bundle output only"),
        (["-f", "idf-bundle", "--idf-filter", "missing.csv"], "cannot read the filter CSV"),
    ],
)
def test_build_errors_write_nothing(
    in_tmp: Path, runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(cli, ["build", "--preset", "letsencrypt", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert list(in_tmp.iterdir()) == []


def test_build_keeps_a_root_given_twice_once_where_gen_crt_bundle_keeps_both(
    in_tmp: Path, runner: CliRunner
) -> None:
    """README's one difference from gen_crt_bundle.py: the exact same root twice is one
    entry, with a note; a cross-sign (same subject and key, other certificate) stays."""
    certs = inputs("duplicates")
    unique = list({c.sha256: c for c in certs}.values())
    assert len(unique) < len(certs)
    args = ["build", "--root", str(INPUT / "duplicates.pem"), "--allow", "expired"]
    result = runner.invoke(cli, [*args, "--no-lock", "-f", "idf-bundle", "-o", "b.bin"])
    assert result.exit_code == 0, result.output
    assert "duplicate dropped: ISRG Root X1" in result.output
    ours = (in_tmp / "b.bin").read_bytes()
    assert ours == render_idf_bundle(unique, bundle_format="v2")
    assert ours != (DATA / "duplicates.v2.bin").read_bytes()  # gen_crt_bundle.py's: both


def test_filter_that_keeps_nothing_is_an_error(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "f.csv").write_text("Owner,Common Name or Certificate Name\nNobody,No Such Root\n")
    result = runner.invoke(
        cli, ["build", "--preset", "letsencrypt", "-f", "idf-bundle", "--idf-filter", "f.csv"]
    )
    assert result.exit_code == 2
    assert "filtered out" in result.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["f.csv"]


def test_config_filter_path_error_names_file_and_line(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nidf_filter: nope.csv\n")
    result = runner.invoke(cli, ["build"])
    assert result.exit_code == 2
    assert "cabundle.yaml:2" in result.output and "idf_filter" in result.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]
