"""Firmware CAs: the certificates each firmware release really carries (checked against
the vendor vectors and the ESP-IDF file counts), board versions, and bad firmware or
board data failing with the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.boards import load_board, parse_board, with_version
from esp_cabundle.certs import load_certificate_file
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.firmware import (
    firmware_names,
    load_ca_set,
    load_firmware,
    parse_firmware,
    parse_version,
    version_ranges,
)

DATA = Path(__file__).parent / "data"


def labels(set_name: str) -> list[str]:
    return [c.label for c in load_ca_set(set_name).certificates]


def test_mdash_sets_are_the_certificates_the_vendor_vectors_hold() -> None:
    (dst,) = load_ca_set("mdash-dst-root-ca-x3").certificates
    # The copy the mDash 1.2.13 library wrote to /spiffs/ca.pem (vectors README).
    assert dst.der == load_certificate_file(DATA / "letsencrypt" / "dst-root-ca-x3.pem")[0].der
    (x1,) = load_ca_set("mdash-s_pem-isrg-root-x1").certificates
    # The exact s_pem declaration of mDash 1.2.16's src/mDash.c.
    assert x1.der == load_certificate_file(DATA / "mdash" / "mDash-1.2.16-s_pem.c")[0].der
    assert "saveca()" in load_ca_set("mdash-dst-root-ca-x3").provenance


@pytest.mark.parametrize(
    ("tag", "count", "dst"),
    [
        # cacrt_all.pem counts (research/tls.md) plus cacrt_local.pem's certificates.
        ("v4.4.2", 135 + 1, True),
        ("v5.3", 147 + 1, True),
        ("v5.4", 151 + 1, True),
        ("v5.5", 150, False),  # DST Root CA X3 left cacrt_local.pem on 2024-12-18
        ("v6.0", 144 + 2, False),
    ],
)
def test_esp_idf_default_bundles(tag: str, count: int, dst: bool) -> None:
    names = labels(f"esp-idf-{tag}-full")
    assert len(names) == count
    assert ("DST Root CA X3" in names) == dst
    assert "ISRG Root X1" in names and "ISRG Root X2" in names
    bundle = load_ca_set(f"esp-idf-{tag}-full").trust_set(key_only=True)
    assert len(bundle) == count and not bundle.has_dates
    subjects = [a.subject_der for a in bundle.anchors]
    assert subjects == sorted(subjects)  # as gen_crt_bundle.py packs it


def test_mongoose_os_got_isrg_root_x1_in_2_17() -> None:
    assert "ISRG Root X1" not in labels("mongoose-os-ca-bundle-2.16.0")
    assert "DST Root CA X3" in labels("mongoose-os-ca-bundle-2.16.0")
    assert "ISRG Root X1" in labels("mongoose-os-ca-bundle-2.17.0")
    assert "ISRG Root X2" in labels("mongoose-os-ca-bundle-2.19.0")


def test_every_release_names_known_sets_for_every_connection() -> None:
    assert set(firmware_names()) == {"esp-idf", "mdash", "mongoose-os"}
    for name in firmware_names():
        fw = load_firmware(name)
        for release in fw.releases:
            for conn in fw.connections:
                ca = release.trusts[conn.name]
                assert load_ca_set(ca.ca_set).certificates, (name, release.version)
    mdash = load_firmware("mdash")
    assert mdash.release("1.2.13").trusts["mdash.net"].kind == "file"
    assert mdash.release("1.2.13").trusts["mdash.net"].hostname is False
    assert mdash.release("1.2.16").trusts["mdash.net"].kind == "builtin"
    assert mdash.release("1.2.16").trusts["mdash.net"].path == "/spiffs/ca.pem"
    assert load_firmware("esp-idf").release("5.2.3").version == "5.1"
    with pytest.raises(InputError, match=r"no mDash release 1\.3\.0 is known"):
        mdash.release("1.3.0")


def test_versions() -> None:
    assert parse_version("v5.4") == (5, 4, 0) == parse_version("5.4.0")
    assert version_ranges("1.2.12..1.2.14, 2.0") == (
        ((1, 2, 12), (1, 2, 14)),
        ((2, 0, 0), (2, 0, 0)),
    )
    for bad in ("", "five", "5.4.x", "1..", "1.2.3.4"):
        with pytest.raises(InputError, match="is not a version"):
            version_ranges(bad)


def test_boards_resolve_versions_and_say_which_board_runs_a_version() -> None:
    b = load_board("mdash-arduino")
    assert (b.full_name, b.version_given) == ("mdash-arduino@1.2.13", False)
    b = load_board("mdash@1.2.15")
    assert b.version_given and b.release is not None and b.release.version == "1.2.15"
    assert [ca.kind for _, ca in b.connection_cas()] == ["builtin"]
    # The ESP-IDF version picks the bundle layout.
    assert load_board("esp-idf-bundle@4.4.8").output.options["idf_version"] == "4.4.8"
    assert load_board("esp-idf-bundle").output.options["idf_version"] == "5.4"
    assert load_board("esp-idf-spiffs").connection_cas() == ()
    for name, message, hint in [
        ("mdash@1.2.13", "board mdash does not run mDash 1.2.13", "mdash-arduino@1.2.13"),
        ("mdash-arduino@1.2.16", "does not run mDash 1.2.16", "--board mdash@1.2.16"),
        ("esp-idf-bundle@7.0", "does not run ESP-IDF 7.0", "covers 4.4..6.0.2"),
        ("esp-idf-spiffs@5.4", "has no firmware versions", "boards"),
        ("mdash@latest", "'latest' is not a version", "MAJOR.MINOR"),
    ]:
        with pytest.raises(InputError, match=message) as e:
            load_board(name)
        assert hint in (e.value.hint or ""), name
    board = parse_board(Path(load_board("mdash").source).read_text(), source="mdash.yaml")
    assert board.version is None and with_version(board, None).version == "1.2.16"


FIRMWARE = """\
name: demo
title: Demo
connections:
  - name: cloud
    host: cloud.example
releases:
  - version: "1.0"
    trusts:
      cloud: {file: /ca.pem, default: mdash-dst-root-ca-x3}
  - version: "2.0"
    covers: ["2.0..2.9"]
    trusts:
      cloud: {builtin: mdash-s_pem-isrg-root-x1, ignores: /ca.pem, hostname: true}
"""


def test_a_good_firmware_file_parses() -> None:
    fw = parse_firmware(FIRMWARE, where="demo.yaml")
    assert fw.release("2.5").trusts["cloud"].kind == "builtin"
    assert fw.version_labels() == ("1.0.0", "2.0.0..2.9.0")


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("{file: /ca.pem, default: mdash-dst-root-ca-x3}", "{file: /ca.pem}", "by 'default'", 9),
        ("{file: /ca.pem, default: mdash-dst-root-ca-x3}",
         "{file: /ca.pem, builtin: x, default: y}", "exactly one of", 9),
        ("default: mdash-dst-root-ca-x3", "default: no-such-set", "unknown firmware CA set", 9),
        ("      cloud: {file", "      clod: {file", "no connection 'clod'", 9),
        ("    covers: [\"2.0..2.9\"]", "    covers: [\"2.0..two\"]", "is not a version", 11),
        ("hostname: true", "hostname: maybe", "expected true or false", 13),
        ("title: Demo\n", "", "missing required key 'title'", 1),
        ("    host: cloud.example\n", "    host: cloud.example\n    port: 443\n",
         "unknown key 'port'", 6),
    ],
)  # fmt: skip
def test_bad_firmware_files_name_the_line(old: str, new: str, message: str, line: int) -> None:
    text = FIRMWARE.replace(old, new)
    assert text != FIRMWARE
    with pytest.raises(ConfigError, match=message) as e:
        parse_firmware(text, where="demo.yaml")
    assert (e.value.path, e.value.line) == ("demo.yaml", line)


def test_a_release_must_say_what_each_connection_trusts() -> None:
    text = FIRMWARE.replace("  - name: cloud\n", "  - name: cloud\n  - name: mqtt\n")
    with pytest.raises(ConfigError, match="say what 'mqtt' trusts"):
        parse_firmware(text, where="demo.yaml")


@pytest.mark.parametrize(
    ("firmware", "message"),
    [
        ("{name: nope, versions: '1.0', default: '1.0'}", "unknown firmware 'nope'"),
        ("{name: mdash, versions: 1.2.12..1.2.14, default: 1.2.16}", "not among the board's"),
        ("{name: mdash, versions: 1.2.9..1.2.14, default: 1.2.13}", "1.2.9 is not a known"),
        ("{name: mdash, versions: 1.2.12..1.2.14}", "missing 'default'"),
        ("{name: mdash, versions: x, default: 1.2.13}", "'x' is not a version"),
    ],
)
def test_bad_board_firmware_sections(firmware: str, message: str) -> None:
    text = Path(load_board("mdash-arduino").source).read_text()
    block = "firmware:\n  name: mdash\n  versions: 1.2.12..1.2.14\n  default: 1.2.13\n"
    start = text.index(block)
    body = text.replace(block, f"firmware: {firmware}\n")
    with pytest.raises(ConfigError, match=message) as e:
        parse_board(body, source="b.yaml")
    assert e.value.path == "b.yaml" and e.value.line == body[:start].count("\n") + 1
