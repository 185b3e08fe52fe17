"""Every value ``cabundle.yaml`` names is an error at its file:line when it is bad, also
those judged only when used (a root resolved against the catalog, a chain file read, an
output option rendered), and a bad one changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.bundle import resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.config import load_config, parse_config
from esp_cabundle.errors import ConfigError

FP = "0123456789abcdef" * 4  # a well-formed SHA-256 no catalog root has


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("preset: default\nroots: [nosuch-root]\n", 2, "roots[0]: unknown root 'nosuch-root'"),
        ("preset: default\nroots: nosuch-root\n", 2, "roots: unknown root 'nosuch-root'"),
        ("roots:\n  - isrg-root-x1\n  - missing.pem\n", 3, "no such root file 'missing.pem'"),
        (f"roots:\n  - isrg-root-x1\n  - {FP}\n", 3, "is not in the catalog"),
        ("exclude:\n  - isrg-root-x1\n  - nosuch\n", 3, "exclude[1]: unknown root 'nosuch'"),
        ("preset: [default, nosuch]\n", 1, "preset[1]: 'nosuch' is not one of"),
        ("board: nosuch\n", 1, "board: unknown board 'nosuch'"),
        (
            "targets:\n  - name: x\n    chain: nosuch.pem\n",
            3,
            "targets[0].chain: target 'x': nosuch.pem",
        ),
        ("targets:\n  - nosuch..example\n", 2, "bad host 'nosuch..example'"),
        ("targets:\n  - host: a..b\n", 2, "targets[0].host: bad host 'a..b'"),
        ("device: nosuch\n", 1, "unknown device profile 'nosuch'"),
        ("idf_filter: nosuch.csv\n", 1, "idf_filter: no such file"),
        ("outputs:\n  - {format: c, style: nosuch}\n", 2, "style: unknown C style 'nosuch'"),
        (
            "outputs:\n  - format: c\n    name: 123\n",
            3,
            "outputs[0].name: expected a C identifier, got int 123",
        ),
        ("outputs:\n  - {format: idf-bundle, idf_version: nosuch}\n", 2, "cannot read version"),
        ("outputs:\n  - {format: idf-bundle, idf_version: 5.4}\n", 2, "reads 5.4 as a number"),
        ("outputs:\n  - {format: idf-bundle, max_certs: x}\n", 2, "must be a positive number"),
        ("outputs:\n  - {format: idf-bundle, bundle_format: v9}\n", 2, "unknown bundle format"),
        (
            "outputs:\n  - format: idf-bundle\n    idf_version: '5.4'\n    bundle_format: v1\n",
            4,
            "bundle format v1 contradicts ESP-IDF 5.4",
        ),
        ("outputs:\n  - {format: spiffs, board: nosuch}\n", 2, "unknown board 'nosuch'"),
        ("outputs:\n  - {format: pem, path: x.pem}\n  - {format: der, path: []}\n", 3, "path:"),
        (
            "outputs:\n  - {format: pem, path: ca.pem}\n  - format: der\n    path: ca2.pem\n",
            4,
            "outputs[1].path: 'ca2.pem' names a pem file, but the output format is der",
        ),
        ("outputs:\n  - {format: pem, path: inc/ca_pem.h}\n", 2, "names a c file, but the"),
        ("outputs:\n  - {format: c, path: ca.pem}\n", 2, "names a pem file, but the output"),
        (
            "outputs:\n  - {format: spiffs, path: data/ca.pem, board: mdash-arduino}\n",
            2,
            "'data/ca.pem' names a pem file, but the output format is spiffs",
        ),
        # pathlib drops the slash: 'sub/' wrote a file called sub, as -o sub/ is refused
        ("outputs:\n  - {format: pem, path: 'sub/'}\n", 2, "'sub/' names a directory, not a"),
        ("outputs:\n  - format: c\n    path: inc/.\n", 3, "'inc/.' names a directory"),
        (
            "outputs:\n  - {format: spiffs, path: img/, board: mdash-arduino}\n",
            2,
            "outputs[0].path: 'img/' names a directory, not a file; nothing was read or written",
        ),
    ],
)
def test_a_bad_value_is_an_error_at_its_line(
    in_tmp: Path, text: str, line: int, message: str
) -> None:
    (in_tmp / "bad.yaml").write_text(text)
    r = CliRunner().invoke(cli, ["build", "-c", "bad.yaml"])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"Error: bad.yaml:{line}: "), r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["bad.yaml"]


def test_a_root_from_a_flag_names_no_config_line(in_tmp: Path) -> None:
    """A value given as a flag is not the config's: its error names no line of it."""
    (in_tmp / "cabundle.yaml").write_text("roots: [isrg-root-x1]\n")
    r = CliRunner().invoke(cli, ["build", "--root", "nosuch-root"])
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: unknown root 'nosuch-root'"), r.stderr


def test_an_exclude_matching_nothing_names_its_line(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("roots: [isrg-root-x1]\nexclude:\n  - isrg-root-x2\n")
    notes = resolve_bundle(load_config("cabundle.yaml").spec, Catalog.load()).notes
    assert notes == ("cabundle.yaml:3: exclude 'isrg-root-x2' matched no selected root",)


def test_the_library_raises_config_error_with_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("preset: default\nroots:\n  - isrg-root-x1\n  - nosuch\n")
    spec = load_config(tmp_path / "c.yaml").spec
    with pytest.raises(ConfigError) as e:
        resolve_bundle(spec, Catalog.load())
    assert (e.value.path, e.value.line) == (str(tmp_path / "c.yaml"), 4)


def test_good_output_options_still_build(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: default\noutputs:\n"
        "  - {format: idf-bundle, idf_version: '5.4', bundle_format: v2, max_certs: 10}\n"
        "  - {format: c, name: ca_pem, style: array}\n"
    )
    r = CliRunner().invoke(cli, ["build"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "x509_crt_bundle.bin").is_file() and (in_tmp / "ca_pem.h").is_file()


@pytest.mark.parametrize(
    ("written", "fixed"),
    [
        ("2034-31-12", "2034-12-31"),  # day first: swapped
        ("'2034-31-12'", "2034-12-31"),  # quoted, as the old hint said to
        ("2035-02-30", "2035-02-28"),  # no swap makes a date: the nearest
        ('"2034-13-31"', "2034-12-31"),
    ],
)
def test_a_date_not_in_the_calendar_hints_the_line_to_write(
    in_tmp: Path, written: str, fixed: str
) -> None:
    """As the CLI's date options do: the date likely meant, as the line to write, not
    "quote it" (which only led to 'expected a date' with no hint)."""
    (in_tmp / "cabundle.yaml").write_text(f"preset: default\nservice_until: {written}\n")
    r = CliRunner().invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:2: service_until: " in r.output
    assert f"hint: write service_until: {fixed}" in r.output
    with pytest.raises(ConfigError) as e:
        load_config(in_tmp / "cabundle.yaml")
    assert (e.value.hint or "").startswith(f"write service_until: {fixed}")
    (in_tmp / "cabundle.yaml").write_text(f"preset: default\nservice_until: {fixed}\n")
    assert load_config(in_tmp / "cabundle.yaml").spec.policy.service_until is not None


def test_a_date_that_is_no_date_hints_the_form(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("service_until: someday\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "c.yaml")
    assert (e.value.hint or "").startswith("a date is YYYY-MM-DD, e.g. service_until: 20")


def test_a_mistyped_date_in_a_list_hints_the_date_alone() -> None:
    """A list item has no key to write; any other plain text may still be meant as text."""
    with pytest.raises(ConfigError) as e:
        parse_config("roots: [2034-31-12]\n", path=Path("c.yaml"))
    assert e.value.hint == "write 2034-12-31 (or quote it to keep it as a string)"
    with pytest.raises(ConfigError) as e:
        parse_config("max_bytes: !!int 16k\n", path=Path("c.yaml"))
    assert e.value.hint == "quote it to keep it as a string"


def test_a_directory_path_hints_a_file_in_it(in_tmp: Path) -> None:
    (in_tmp / "cabundle.yaml").write_text("outputs:\n  - {format: pem, path: 'sub/'}\n")
    r = CliRunner().invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "hint: name a file in it, e.g. path: sub/ca.pem" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]
