"""Names from certificates, files and units are data, never layout (tester's report,
items 1 and 10): a certificate's subject cannot add or hide a line in ``ca.pem``, a
saved chain or a C header, nor forge a row in a table or a message on a terminal."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID

from esp_cabundle.bundle import Bundle, BundleEntry
from esp_cabundle.certs import Certificate, load_certificates
from esp_cabundle.chains import ServerChain
from esp_cabundle.cli import cli
from esp_cabundle.errors import PolicyError
from esp_cabundle.flash.journal import Journal, JournalEntry
from esp_cabundle.formats import pem as pem_format
from esp_cabundle.formats.c_source import render_c_source
from esp_cabundle.formats.pem import render_pem
from esp_cabundle.text import comment_text, printable
from tests.support import c_harness
from tests.support.pki import issue

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"
EVIL = "\x1b[2JEvil\nFAKE: ISRG Root X1 ok\n-----BEGIN CERTIFICATE-----"


def _named(cn: str) -> Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return issue(name).certificate


def _bundle(*certs: Certificate) -> Bundle:
    return Bundle(
        tuple(BundleEntry(c, c.label, None, "file", "test", "", c.label) for c in certs), "test"
    )


def _comments(pem: bytes) -> list[bytes]:
    return [line for line in pem.splitlines() if line.startswith(b"#")]


def test_comment_text_escapes_controls_and_armour() -> None:
    text = comment_text(EVIL)
    assert "\n" not in text and "\x1b" not in text and "---" not in text
    assert text.startswith("\\x1b[2JEvil\\nFAKE: ISRG Root X1 ok\\n\\x2d\\x2d")
    assert comment_text("ISRG Root X1 - a-b--c") == "ISRG Root X1 - a-b--c"  # unchanged


def test_render_pem_keeps_every_root_whatever_its_name() -> None:
    evil, x1 = _named(EVIL), load_certificates(X1.read_bytes())[0]
    pem = render_pem(_bundle(evil, x1))
    assert [c.sha256 for c in load_certificates(pem)] == [evil.sha256, x1.sha256]
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert b"\x1b" not in pem
    # every line is either a comment, armour, or base64: the name added none
    assert len(_comments(pem)) == 8


# An encrypted traditional PEM key's RFC 1421 header line: still a key header once the
# name is escaped (dash runs are written as \x2d, so armour never survives escaping).
KEY_LINE_NAME = "DEK-Info: AES-128-CBC"


def test_a_name_reading_like_a_key_header_is_withheld() -> None:
    cert = _named(KEY_LINE_NAME)
    pem = render_pem(_bundle(cert))
    assert b"reads like a private-key header" in pem
    assert [c.sha256 for c in load_certificates(pem)] == [cert.sha256]  # no key refusal


def test_only_the_name_reading_like_a_key_header_is_withheld() -> None:
    """The file is scanned whole first; once the scanner finds something, each comment is
    judged on its own, so the other roots keep their names."""
    x1 = load_certificates(X1.read_bytes())[0]
    pem = render_pem(_bundle(x1, _named(KEY_LINE_NAME), _named("Plain Root")))
    assert pem.count(b"reads like a private-key header") == 2  # its label and subject
    assert b"# ISRG Root X1" in pem and b"# Plain Root" in pem


@pytest.mark.parametrize("name", ["BEGIN PRIVATE KEY", "-----BEGIN PRIVATE KEY-----"])
def test_a_name_no_reader_takes_for_armour_is_shown(name: str) -> None:
    """Without dashes (or with them escaped) BEGIN PRIVATE KEY is no armour to any PEM
    reader, so the name is shown as it is (escaped), not withheld."""
    cert = _named(name)
    pem = render_pem(_bundle(cert))
    assert b"reads like a private-key header" not in pem
    assert f"# {comment_text(name)}\n".encode() in pem
    assert [c.sha256 for c in load_certificates(pem)] == [cert.sha256]


def test_rendered_bytes_are_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The round trip catches a name that defeats the escaping (here: none applied)."""
    monkeypatch.setattr(pem_format, "comment_text", lambda text: text)
    with pytest.raises(PolicyError, match="does not read back as the bundle's 2 roots"):
        render_pem(_bundle(_named(EVIL), load_certificates(X1.read_bytes())[0]))


def test_real_mbedtls_keeps_both_roots() -> None:
    harness = c_harness.debian_or_skip()
    pem = render_pem(_bundle(_named(EVIL), load_certificates(X1.read_bytes())[0]))
    assert harness.parse_file(pem + b"\0") == (0, 2)


def test_c_header_comment_is_escaped() -> None:
    text = render_c_source(_bundle(_named("a */ b\n#define X")), style="array").decode()
    assert "#define X" not in text.split("const char")[0].replace("\\n#define X", "")
    assert "a * / b\\n#define X" in text


def test_build_writes_and_shows_hostile_names_escaped(in_tmp: Path, runner: CliRunner) -> None:
    evil = _named(EVIL)
    (in_tmp / "inj.pem").write_bytes(evil.pem().encode())
    r = runner.invoke(cli, ["build", "--root", "./inj.pem", "--root", "isrg-root-x1", "--no-lock"])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\nFAKE" not in r.output
    assert "\\x1b[2JEvil\\nFAKE" in r.output
    pem = (in_tmp / "ca.pem").read_bytes()
    assert len(load_certificates(pem)) == 2
    r = runner.invoke(cli, ["inspect", "ca.pem"])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "2 certificates" in r.output


# ---------------------------------------------------------------------------------------
# 10. Control characters escaped wherever user or device text is shown


@pytest.mark.parametrize("name", ["we\nird.pem", "a\x1b[31mred.pem", "cr\rlf.pem"])
def test_output_names_are_shown_escaped(in_tmp: Path, runner: CliRunner, name: str) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--no-lock", "-o", name])
    assert r.exit_code == 0, r.output
    wrote = r.stdout.splitlines()[-1]
    assert wrote.startswith(f"Wrote {printable(name)} (") and "\\" in wrote
    assert "\x1b" not in r.output and "\r" not in r.output
    assert (in_tmp / name).is_file()  # the file has the name asked for; only its display differs


def test_error_messages_are_escaped(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["inspect", "nope\nx\x1b[2J.pem"])
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == "Error: nope\\nx\\x1b[2J.pem: no such image or CA file"


def test_journal_list_escapes_a_board_field(tmp_path: Path, runner: CliRunner) -> None:
    journal = Journal(tmp_path / "j")
    now = datetime.now(timezone.utc)
    journal.record(
        JournalEntry(
            id="0a1b2c3d",
            created=now,
            mac="24:0a:c4:00:00:01",
            chip="ESP32",
            port="/dev/ttyUSB0",
            board="evil\nFAKE ROW\x1b[2J",
            ca_sha256="00" * 32,
            partitions=(),
            status="complete",
            updated=now,
        )
    )
    r = runner.invoke(cli, ["journal", "list", "--journal-dir", str(tmp_path / "j")])
    assert r.exit_code == 0, r.output
    assert "evil\\nFAKE ROW\\x1b[2J" in r.stdout and "\x1b" not in r.stdout
    assert not any(line.startswith("FAKE") for line in r.stdout.splitlines())


def test_saved_chain_comments_are_escaped() -> None:
    root = issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root\n-----END x")]))
    leaf = issue("device.example.com", issuer=root, ca=False)
    chain = ServerChain((leaf.certificate, root.certificate), "srv\nx", "example.com", 443)
    pem = chain.to_pem()
    assert all(line.startswith(b"#") for line in pem.split(b"-----BEGIN")[0].splitlines())
    assert [c.sha256 for c in load_certificates(pem)] == [
        leaf.certificate.sha256,
        root.certificate.sha256,
    ]
