"""Loading certificates from every shape firmware keeps them in, and refusing keys."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.pki import issue

from esp_cabundle.certs import Certificate, load_certificate_file, load_certificates, sniff_kind
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError, PrivateKeyError
from esp_cabundle.pubkeys import der_tlv

LE = Path(__file__).parent / "data" / "letsencrypt"
X1_SHA = "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6"
DST_SHA = "0687260331a72403d909f105e69bcf0d32e1bd2493ffc6d9206d11bcd6770739"


def x1() -> Certificate:
    return load_certificate_file(LE / "isrgrootx1.pem")[0]


def test_certificate_facts_of_isrg_root_x1() -> None:
    c = x1()
    assert c.sha256 == X1_SHA
    assert c.label == "ISRG Root X1"
    assert c.subject == "CN=ISRG Root X1,O=Internet Security Research Group,C=US"
    assert c.issuer == c.subject
    assert c.not_after == datetime(2035, 6, 4, 11, 4, 38, tzinfo=timezone.utc)
    assert c.not_before == datetime(2015, 6, 4, 11, 4, 38, tzinfo=timezone.utc)
    assert (c.key_type, c.key_size, c.key_description) == ("RSA", 4096, "RSA 4096")
    assert c.is_ca and c.self_signed
    assert c.size == len(c.der) == 1391


def test_ecdsa_root_and_cross_signed_root() -> None:
    x2 = load_certificate_file(LE / "isrg-root-x2.pem")[0]
    assert x2.key_description == "EC P-384" and x2.self_signed
    cross = load_certificate_file(LE / "isrg-root-x1-cross-signed.pem")[0]
    assert cross.subject == x1().subject
    assert cross.issuer_label == "DST Root CA X3"
    assert not cross.self_signed
    dst = load_certificate_file(LE / "dst-root-ca-x3.pem")[0]
    assert cross.signed_by(dst) and not cross.signed_by(x1())


def test_certificates_are_immutable_values() -> None:
    a, b = x1(), x1()
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.label = "other"  # type: ignore[misc]


def test_expiry_helpers() -> None:
    dst = load_certificate_file(LE / "dst-root-ca-x3.pem")[0]
    assert dst.sha256 == DST_SHA
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert dst.is_expired(at) and not dst.is_valid_at(at)
    assert dst.days_left(at) < 0
    assert x1().is_valid_at(at)


def test_pem_with_crlf_comments_and_mongoose_subject_headers(data_dir: Path) -> None:
    data = (data_dir / "mongoose-os" / "ca-bundle-ca.pem").read_bytes()
    certs = load_certificates(data)
    assert len(certs) == 22
    crlf = load_certificates(data.replace(b"\n", b"\r\n"))
    assert [c.sha256 for c in crlf] == [c.sha256 for c in certs]
    assert certs[0].label == "DigiCert Global Root G2"


def test_der_single_and_concatenated() -> None:
    a, b = x1(), load_certificate_file(LE / "isrg-root-x2.pem")[0]
    assert sniff_kind(a.der) == "der"
    assert load_certificates(a.der) == (a,)
    assert load_certificates(a.der + b.der) == (a, b)


def test_mdash_s_pem_c_source(data_dir: Path) -> None:
    path = data_dir / "mdash" / "mDash-1.2.16-s_pem.c"
    assert sniff_kind(path.read_bytes()) == "c-strings"
    (c,) = load_certificate_file(path)
    assert c.sha256 == X1_SHA


def test_c_single_literal_with_escapes_and_comments() -> None:
    pem = x1().pem().replace("\n", "\\n")
    src = f'/* root: "not a cert" */\nconst char ca[] = "{pem}";\n// trailing\n'
    assert load_certificates(src.encode()) == (x1(),)


def test_c_byte_array() -> None:
    der = x1().der
    body = ", ".join(f"0x{b:02x}" for b in der)
    src = f"static const unsigned char root_der[{len(der)}] = {{\n  {body}\n}};\n"
    assert sniff_kind(src.encode()) == "c-array"
    assert load_certificates(src.encode()) == (x1(),)


@pytest.mark.parametrize(
    "item",
    ["(uint8_t)0x{b:02x}", "(unsigned char) {b}", "(const uint8_t)0{b:o}", "( byte )0x{b:02X}u"],
)
def test_c_byte_array_with_casts(item: str) -> None:
    """Code generators cast each item; a compound literal's array reads as any other."""
    der = x1().der
    body = ", ".join(item.format(b=b) for b in der)
    for src in (
        f"static const uint8_t root_der[] = {{\n  {body}\n}};\n",
        f"const unsigned char *root_der = (const unsigned char[]){{{body}}};\n",
    ):
        assert sniff_kind(src.encode()) == "c-array"
        assert load_certificates(src.encode(), source="roots.c") == (x1(),)


def test_c_byte_array_with_casts_out_of_range_is_refused() -> None:
    body = ", ".join(f"(uint8_t)0x{b:02x}" for b in x1().der[:-1])
    src = f"const uint8_t ca[] = {{{body}, (uint16_t)0x1ff}};\n"
    with pytest.raises(CertificateError, match="does not fit in a byte"):
        load_certificates(src.encode(), source="roots.c")


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("0xZZ, ", "'0xZZ' where a byte constant was expected, after 2 bytes"),
        ("0x01 ", "'0x05' where ',' was expected, after 3 bytes"),  # 0x05: ISRG's 3rd
    ],
    ids=["bad token", "missing comma"],
)
def test_c_byte_array_with_a_bad_item_names_its_line(bad: str, said: str) -> None:
    """A typo in a certificate's array made it no array at all: "no certificate found"
    alone sent the user hunting; the line and the item that stopped it are named."""
    items = [f"0x{b:02x}, " for b in x1().der]
    items.insert(2, bad)
    rows = "".join("".join(items[i : i + 12]) + "\n" for i in range(0, len(items), 12))
    src = f"const unsigned char ca[] = {{\n{rows}}};\n"
    with pytest.raises(CertificateError, match="no certificate found in the C byte arrays") as e:
        load_certificates(src.encode(), source="roots.c")
    assert e.value.line == 2 and said in e.value.reason


def test_c_struct_initialisers_are_not_named_as_broken_arrays() -> None:
    """Most brace lists are not bytes: one that stops after a byte is not named."""
    src = "static const struct s x = {0, NULL};\nconst unsigned char ca[] = {0x01, 0x02};\n"
    with pytest.raises(CertificateError) as e:
        load_certificates(src.encode(), source="roots.c")
    assert e.value.reason == "no certificate found in the C byte arrays"


def test_c_two_arrays() -> None:
    a, b = x1(), load_certificate_file(LE / "isrg-root-x2.pem")[0]
    arr = lambda n, d: f"const uint8_t {n}[] = {{{', '.join(hex(x) for x in d)}}};\n"  # noqa: E731
    src = arr("a", a.der) + arr("b", b.der)
    assert load_certificates(src.encode()) == (a, b)


def _c_array(name: str, items: list[str]) -> str:
    """A C byte array as generators write it, 12 items a line from the line after its
    declaration."""
    rows = "".join(", ".join(items[i : i + 12]) + ",\n" for i in range(0, len(items), 12))
    return f"static const unsigned char {name}[] = {{\n{rows}}};\n"


@pytest.mark.parametrize(
    ("at", "bad", "said"),
    [
        (30, "0xZZ", "'0xZZ' where a byte constant was expected, after 30 bytes"),
        (30, "0x01 0x02", "'0x02' where ',' was expected, after 31 bytes"),
        (0, "0xZZ", "'0xZZ' where a byte constant was expected, as its first item"),
    ],
    ids=["bad token", "missing comma", "bad first item"],
)
def test_c_certificate_array_with_a_typo_beside_good_ones_refuses_the_file(
    at: int, bad: str, said: str
) -> None:
    """A typo in one of several certificate arrays made that array no array: the file
    loaded with the other roots and that one dropped from what units trust, unsaid. The
    whole file is refused, naming the line of the bad item, as a corrupt PEM block is."""
    a, b = x1(), load_certificate_file(LE / "isrg-root-x2.pem")[0]
    items = [f"0x{x:02x}" for x in b.der]
    items.insert(at, bad)
    src = _c_array("root1", [f"0x{x:02x}" for x in a.der]) + _c_array("root2", items)
    line = src.count("\n", 0, src.index(bad)) + 1
    with pytest.raises(CertificateError, match="opens as a certificate's DER") as e:
        load_certificates(src.encode(), source="roots.c")
    assert e.value.line == line and said in e.value.reason
    assert "the whole file is refused" in e.value.reason
    # beside PEM text in string literals, too
    strings = "".join(f'"{row}\\n"\n' for row in a.pem().splitlines())
    with pytest.raises(CertificateError, match="opens as a certificate's DER") as e:
        load_certificates((f"const char *pem =\n{strings};\n" + _c_array("r", items)).encode())


def test_c_certificate_array_with_a_typo_writes_nothing(runner: CliRunner, in_tmp: Path) -> None:
    """build from a C file with one broken root array: exit 2 and no output, not a bundle
    short of that root."""
    a, b = x1(), load_certificate_file(LE / "isrg-root-x2.pem")[0]
    items = [f"0x{x:02x}" for x in b.der]
    items[40] = "0xZZ"
    good = [f"0x{x:02x}" for x in a.der]
    Path("roots.c").write_text(_c_array("root1", good) + _c_array("root2", items))
    r = runner.invoke(cli, ["build", "--root", "./roots.c", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "roots.c:" in r.stderr and "'0xZZ' where a byte constant was expected" in r.stderr
    assert sorted(p.name for p in Path().iterdir()) == ["roots.c"]


def test_c_brace_lists_that_open_as_no_certificate_are_left_alone() -> None:
    """Struct initialisers and tables of numbers that stop reading as bytes sit beside
    certificate arrays in real firmware: they are not refused."""
    a = x1()
    src = (
        "static const struct s x = {0, NULL};\n"
        "static const struct s y = {NULL, 0};\n"
        "static const int table[] = {1, 2, 3, 4, 5, 6, MAX_VALUE, 8};\n"
        "static const int der_like[] = {0x30, 0x05, 0x02, 0x01, 0x00, sizeof(x)};\n"
        "static const int opts[] = {FLAG_A, 0x30, 0x82, 0x01, 0x0a};\n"
        + _c_array("root1", [f"0x{x:02x}" for x in a.der])
    )
    assert load_certificates(src.encode(), source="roots.c") == (a,)


@pytest.mark.parametrize(
    "label", ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]
)
def test_private_key_pem_block_is_refused_with_line(label: str) -> None:
    pem = x1().pem()
    text = f"# header\n{pem}\n-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n"
    with pytest.raises(PrivateKeyError) as e:
        load_certificates(text.encode(), source="bundle.pem")
    line = 1 + pem.count("\n") + 2
    assert f"bundle.pem:{line}:" in str(e.value)
    assert "private key" in str(e.value)


def test_real_private_key_pem_and_pkcs8_der_refused() -> None:
    leaf = issue("device", ca=False)
    with pytest.raises(PrivateKeyError):
        load_certificates(leaf.pem + leaf.key_pem())
    from cryptography.hazmat.primitives import serialization

    der = leaf.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(PrivateKeyError) as e:
        load_certificates(leaf.der + der, source="mixed.der")
    assert "mixed.der" in str(e.value) and "byte offset" in str(e.value)


def test_a_sequence_holding_one_integer_is_no_key() -> None:
    """``30 03 02 01 00`` after a DER certificate (a trial's report) was refused as a
    "private key (DER)": a SEQUENCE holding an INTEGER alone is no key in any format
    (each one that opens with a version holds more after it: RFC 8017 A.1.2, RFC 5915 3,
    RFC 5208 5, RFC 5958 2, RFC 7292 4). It is refused as the certificate it is not."""
    der = x1().der
    for tail in (
        b"\x30\x03\x02\x01\x00",
        b"\x30\x03\x02\x01\x01",
        der_tlv(0x30, der_tlv(0x02, bytes(70))),
    ):
        with pytest.raises(CertificateError) as e:
            load_certificates(der + tail, source="x.der")
        assert not isinstance(e.value, PrivateKeyError)
        assert f"x.der: at byte offset {len(der)}: not a valid X.509 certificate" in str(e.value)


@pytest.mark.parametrize(
    "key",
    [
        # a toy RSAPrivateKey (RFC 8017 A.1.2) of 384 bits: too small for the key scan's
        # modulus bound, refused by the DER reader all the same
        der_tlv(
            0x30, der_tlv(0x02, b"\x00") + b"".join(der_tlv(0x02, b"\x7f" * 48) for _ in range(8))
        ),
        der_tlv(0x30, der_tlv(0x02, b"\x00") + der_tlv(0x02, b"\x05")),  # a version and one more
        der_tlv(0x30, b"\x02\x85\x01"),  # a version whose length does not read
    ],
)
def test_der_opening_as_a_key_is_still_refused_as_one(key: bytes) -> None:
    with pytest.raises(PrivateKeyError, match="private key \\(DER\\) at byte offset"):
        load_certificates(x1().der + key, source="x.der")


def test_private_key_inside_c_string_names_the_c_line() -> None:
    leaf = issue("device", ca=False)
    lines = [f'    "{ln}\\n"' for ln in leaf.key_pem().decode().splitlines()]
    src = "static const char *key =\n" + "\n".join(lines) + ";\n"
    with pytest.raises(PrivateKeyError) as e:
        load_certificates(src.encode(), source="keys.c")
    assert "keys.c:2:" in str(e.value)


def test_bad_base64_names_line() -> None:
    text = "junk\n-----BEGIN CERTIFICATE-----\nMII!!!notbase64\n-----END CERTIFICATE-----\n"
    with pytest.raises(CertificateError) as e:
        load_certificates(text.encode(), source="x.pem")
    assert "x.pem:2:" in str(e.value) and "base64" in str(e.value)


def test_unterminated_block_and_empty_inputs() -> None:
    with pytest.raises(CertificateError, match="no matching END"):
        load_certificates(b"-----BEGIN CERTIFICATE-----\nMIIB\n")
    with pytest.raises(CertificateError, match="no certificate found"):
        load_certificates(b"hello world\n", source="readme.txt")
    with pytest.raises(CertificateError, match="no such certificate file"):
        load_certificate_file("/nonexistent/ca.pem")


def test_garbage_der_is_a_clear_error() -> None:
    with pytest.raises(CertificateError, match="byte offset 0"):
        load_certificates(b"\x30\x03\x02\x01", source="bad.der")


def test_a_name_of_a_type_its_oid_cannot_have_is_a_clear_error(data_dir: Path) -> None:
    """Found by fuzzing: a commonName typed BIT STRING made cryptography raise TypeError,
    a traceback, where every other corrupt field is a CertificateError."""
    der = load_certificate_file(data_dir / "letsencrypt" / "isrg-root-x2.pem")[0].der
    at = der.index(b"\x13\x0cISRG Root X2")  # PrintableString, 12 bytes
    bad = der[:at] + b"\x03" + der[at + 1 :]  # the same bytes as a BIT STRING
    with pytest.raises(CertificateError, match=r"not a valid X\.509 certificate"):
        load_certificates(bad, source="x.der")


def test_a_duplicate_extension_is_a_clear_error() -> None:
    """Found by fuzzing: two extensions of one OID (RFC 5280 4.2; mbedTLS refuses them)
    made cryptography raise DuplicateExtension, a traceback."""
    der = x1().der
    at = der.index(bytes.fromhex("0603551d0e"))  # subjectKeyIdentifier
    bad = der[:at] + bytes.fromhex("0603551d0f") + der[at + 5 :]  # a second keyUsage
    with pytest.raises(CertificateError, match="malformed extensions"):
        load_certificates(bad, source="x.der")


def test_non_certificate_blocks_are_skipped_like_mbedtls() -> None:
    text = "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n" + x1().pem()
    assert load_certificates(text.encode()) == (x1(),)


def test_pem_roundtrip_is_64_columns() -> None:
    pem = x1().pem()
    body = pem.splitlines()[1:-1]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
    assert load_certificates(pem.encode()) == (x1(),)


def test_blocks_sharing_a_line_are_all_read() -> None:
    """One block's END and the next one's BEGIN on one line (armour glued together, or a
    JSON-escaped PEM with literal newlines in its lines): mbedTLS finds every block by its
    armour, and so must the reader (it used to take such a line as an END only, silently
    dropping every second certificate)."""
    a, b = issue("Glued Root A"), issue("Glued Root B")
    glued = a.pem.rstrip(b"\n") + b.pem
    certs = load_certificates(glued, source="glued.pem")
    assert [c.der for c in certs] == [a.der, b.der]
    three = a.pem.rstrip(b"\n") + b.pem.rstrip(b"\n") + a.pem
    assert len(load_certificates(three, source="three.pem")) == 3
    # text before the first block and after the last one stays commentary
    assert len(load_certificates(b"# roots\n" + glued + b"# end\n")) == 2
    # an END without a block open (a comment quoting it) is not a block
    quoted = b"# each ends with -----END CERTIFICATE-----\n" + a.pem
    assert [c.der for c in load_certificates(quoted)] == [a.der]


def test_a_line_end_after_der_is_not_corruption() -> None:
    a = issue("Der Newline Root")
    assert [c.der for c in load_certificates(a.der + b"\n", source="ca.der")] == [a.der]
    assert [c.der for c in load_certificates(a.der + b"\r\n  \n", source="ca.der")] == [a.der]
    with pytest.raises(CertificateError, match="corrupt DER"):
        load_certificates(a.der + b"\nxx", source="ca.der")


def test_the_parsed_object_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived process reading many distinct certificates keeps at most
    ``_PARSED_MAX`` of cryptography's objects: the cache of them was unbounded (a local
    fuzz campaign's memory grew with every certificate read, without end)."""
    from esp_cabundle import certificate

    monkeypatch.setattr(certificate, "_PARSED_MAX", 8)
    monkeypatch.setattr(certificate, "_X509", {})
    monkeypatch.setattr(certificate, "_PARSED", {})
    der = load_certificates((LE / "isrgrootx1.pem").read_bytes())[0].der
    # Distinct certificates: the signature's last byte changed (parsing checks no signature).
    certs = [Certificate.from_der(der[:-1] + bytes([i])) for i in range(30)]
    assert len({c.sha256 for c in certs}) == 30
    assert [c.x509.serial_number for c in certs[:3]]  # reparsed when forgotten
    assert 0 < len(certificate._X509) <= 8
