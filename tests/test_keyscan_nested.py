"""Keys one encoding deeper: inside a certificate's DER (an extension holding a key
ships it to every device), base64 of a whole PEM key file (Kubernetes Secrets, .env
lines) and C octal escapes. Each is refused naming the file and line, never quoting the
key; certificates in the same encodings are read."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.scan_bounds import fill

from esp_cabundle import keyscan
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import _scan_der, find_private_key
from tests.support.gate_cases import X1_PEM, c_source
from tests.support.key_vectors import key_vectors, no_key_data

IDF_ROOTS = Path(__file__).parent / "data" / "idf-bundle" / "input" / "cacrt_all.pem"
X1_DER = load_certificates(X1_PEM)[0].der
PLAIN = ser.NoEncryption()


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _evil_root(payload: bytes) -> x509.Certificate:
    """A self-signed CA whose extension 1.2.3.4.5 holds ``payload`` (as ``openssl req
    -addext 1.2.3.4.5=DER:...`` writes it)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil Root")])
    now = datetime.now(timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), payload),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


def _assert_refused(data: bytes, kind: str, secret: bytes) -> PrivateKeyError:
    """``data`` (as ca.pem) is refused with ``kind`` in the message, at the finding's
    line, and nothing of ``secret`` (a piece of the key, in every spelling) in it."""
    with pytest.raises(PrivateKeyError, match="private key material") as e:
        load_certificates(data, source="ca.pem")
    found = find_private_key(data)
    assert found is not None and kind in found.kind, found
    text = str(e.value)
    assert text.startswith(f"ca.pem:{found.line}: "), text
    piece = secret[40:60]
    for spelt in (
        piece.hex(),
        base64.b64encode(piece).decode(),
        "".join(f"\\{b:o}" for b in piece),
    ):
        assert spelt.lower() not in text.lower()
    return e.value


# -- 1. a key inside a certificate's extension


@pytest.mark.parametrize(
    "name", ["test-only-ec-pkcs8.der", "test-only-ec-sec1.der", "test-only-rsa-pkcs1.der",
             "test-only-ec-pkcs8-encrypted.der", "test-only-der.p12"],
)  # fmt: skip
def test_a_key_in_a_certificate_extension_is_refused(name: str) -> None:
    key = key_vectors()[name]
    evil = _evil_root(key).public_bytes(ser.Encoding.PEM)
    line = X1_PEM.count(b"\n") + 1
    e = _assert_refused(X1_PEM + evil, "inside the DER of the certificate 'CN=Evil Root'", key)
    assert e.line == line


def test_a_key_in_an_extension_is_refused_in_der_and_c() -> None:
    key = key_vectors()["test-only-ec-pkcs8.der"]
    evil = _evil_root(key)
    der, pem = evil.public_bytes(ser.Encoding.DER), evil.public_bytes(ser.Encoding.PEM)
    for data in (X1_DER + der, c_source(X1_PEM + pem), c_source(b"", root=der)):
        with pytest.raises(PrivateKeyError, match="private key material"):
            load_certificates(data, source="ca.pem")


def _after_base64_length(text: bytes) -> bytes:
    """``text`` padded with line ends until its DER length's last byte is a base64
    character ("A" to "Z"), which then opens the run of base64 the scan reads."""
    while not 0x41 <= len(text) % 256 <= 0x5A or len(text) < 128:
        text += b"\n"
    return text


def _utf8_string(text: bytes) -> bytes:
    """``text`` as a DER UTF8String (``openssl req -addext 1.2.3.4.5=ASN1:UTF8:...``)."""
    return b"\x0c\x82" + len(text).to_bytes(2, "big") + text


@pytest.mark.parametrize(
    "spell",
    [lambda key: _after_base64_length(base64.b64encode(key)),
     lambda key: _utf8_string(_after_base64_length(base64.b64encode(key))),
     lambda key: _after_base64_length(key.hex().encode()),
     lambda key: _utf8_string(base64.encodebytes(key))],
    ids=["base64", "utf8-base64", "hex", "utf8-base64-lines"],
)  # fmt: skip
@pytest.mark.parametrize("name", ["test-only-ec-pkcs8.der", "test-only-rsa-pkcs1.der"])
def test_a_key_spelt_as_text_in_a_certificate_extension_is_refused(
    spell: Callable[[bytes], bytes], name: str
) -> None:
    """A certificate whose extension holds a key's base64 or hex, in PEM, DER or a C
    byte array: in DER the value's length byte ("X" is 0x58) ran into the base64
    (``XMIIE...``), and a PEM block's body was scanned for DER keys alone, so the
    certificate went into the CA file."""
    key = key_vectors()[name]
    evil = _evil_root(spell(key))
    pem = evil.public_bytes(ser.Encoding.PEM)
    e = _assert_refused(X1_PEM + pem, "inside the DER of the certificate 'CN=Evil Root'", key)
    assert e.line == X1_PEM.count(b"\n") + 1
    junk = b"-----BEGIN JUNK-----\n/w==\n-----END JUNK-----\n"  # no DER: hides nothing
    found = find_private_key(junk + X1_PEM + pem)
    assert found is not None and "CN=Evil Root" in found.kind, found
    der = evil.public_bytes(ser.Encoding.DER)
    for data in (X1_DER + der, c_source(b"", root=der)):
        with pytest.raises(PrivateKeyError, match="private key material"):
            load_certificates(data, source="ca.der")


def test_certificates_with_extensions_and_many_roots_are_no_key() -> None:
    """Extensions of random bytes or public keys, and every bundled root, are read."""
    rng = random.Random(5)
    public = (
        _key().public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    )
    for payload in (public, rng.randbytes(300), b"\x30\x03\x02\x01\x00"):
        data = X1_PEM + _evil_root(payload).public_bytes(ser.Encoding.PEM)
        assert find_private_key(data) is None
        assert len(load_certificates(data)) == 2
    assert find_private_key(IDF_ROOTS.read_bytes()) is None


def test_inspect_and_build_refuse_a_root_carrying_a_key(in_tmp: Path, runner: CliRunner) -> None:
    key = key_vectors()["test-only-ec-pkcs8.der"]
    (in_tmp / "evil.pem").write_bytes(_evil_root(key).public_bytes(ser.Encoding.PEM))
    r = runner.invoke(cli, ["inspect", "evil.pem"])
    assert r.exit_code == 2, r.output
    assert "evil.pem:1: private key material (DER PKCS#8 inside the DER of the" in r.output
    r = runner.invoke(cli, ["build", "--no-lock", "--root", "./evil.pem", "-o", "out.pem"])
    assert r.exit_code == 2, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["evil.pem"]


def test_der_scan_finds_what_the_full_candidate_search_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_der_starts' shortcut (version-led keys found from "02 01") finds, at the same
    offset, what trying every SEQUENCE (_DER_START) finds."""
    rng = random.Random(3)
    inputs = [X1_DER + key + X1_DER for key in key_vectors().values()]
    inputs += list(no_key_data(7).values()) + [rng.randbytes(4000) for _ in range(20)]
    inputs += [X1_DER + bytes([0x30, n]) + b"\x02\x01\x00" + X1_DER for n in (3, 0x80)]
    # dense with headers, 02 01 and versions (02 01 02 01 00: two candidates overlapping)
    dense = b"\x30\x02\x01\x00\x03\x80\x81\x82\x04\x24\x40"
    noise = [bytes(rng.choice(dense) for _ in range(3000)) for _ in range(30)]
    sec1 = key_vectors()["test-only-ec-sec1.der"]
    inputs += noise + [n[: 100 * i] + sec1 + n[100 * i :] for i, n in enumerate(noise)]
    fast = [_scan_der(data) for data in inputs]
    monkeypatch.setattr(keyscan, "_OID_LED", (b"",))  # b"" is in every input: the full search
    assert fast == [_scan_der(data) for data in inputs]
    assert sum(f is not None for f in fast) >= len(key_vectors())


# -- 2. base64 of a whole PEM key file


def _pem_keys() -> dict[str, bytes]:
    key = _key()
    return {
        "pkcs8": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, PLAIN),
        "sec1": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, PLAIN),
        "encrypted": key.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"test-only")
        ),
        "openssh": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, PLAIN),
        "lower case": key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, PLAIN).lower(),
    }


def _wrapped(data: bytes, width: int) -> bytes:
    text = base64.b64encode(data)
    return b"".join(text[i : i + width] + b"\n" for i in range(0, len(text), width))


@pytest.mark.parametrize("name", sorted(_pem_keys()))
def test_base64_of_a_pem_key_file_is_refused(name: str) -> None:
    """``base64 key.pem`` (76 a line), one line (``base64 -w0``, a Secret's tls.key, a
    .env value), and the key after 0, 1 or 2 other bytes (each alignment of its dashes)."""
    pem = _pem_keys()[name]
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    forms = {
        "base64": _wrapped(pem, 76),
        "secret": b"data:\n  tls.key: " + base64.b64encode(pem) + b"\n",
        "env": b"TLS_KEY=" + base64.b64encode(pem) + b"\n",
        **{f"after {n}": _wrapped(X1_PEM[: n + 30] + pem, 64) for n in range(3)},
    }
    for form, text in forms.items():
        with pytest.raises(PrivateKeyError):
            load_certificates(X1_PEM + text, source="ca.pem")
        found = find_private_key(X1_PEM + text)
        assert found is not None and found.kind == "base64 of a PEM private-key header", form
        _assert_refused(X1_PEM + text, "base64 of a PEM", der)


def test_dashes_spelt_out_of_step_do_not_hide_a_key() -> None:
    """A spelling of dashes at another alignment just before a key's base64 is decoded
    apart, not taken as having read the key's (its text is other bytes)."""
    pem = _pem_keys()["pkcs8"]
    for k in range(4):
        for fake in (b"LS0tL", b"A0tLS", b"AtLS0t"):
            text = X1_PEM + b"x" * k + fake + b"Q" * k + base64.b64encode(pem) + b"\n"
            found = find_private_key(text)
            assert found is not None and found.kind == "base64 of a PEM private-key header"


@pytest.mark.parametrize(
    "unit",
    [b"LS0tL", b"tLS0tLS0t", b"LS0tLS1CRUdJTiBY\n", b"-----BEGIN X-----\n", b"-----BEGIN X\n",
     b"\\060", b"\\60 ", b"\\060\\1\\2\\3\\4\\5x", b"\x30\x03\x02\x01\x00", b"\x02\x01\x00\x30",
     b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"\x05\x00" * 3000) + b"\n",
     b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(b"\x04\x02\x04\x00" * 3000) + b"\n"],
)  # fmt: skip
def test_hostile_input_is_scanned_in_bounded_time(unit: bytes) -> None:
    """Each spelling of dashes, BEGIN line, octal escape and "02 01" costs bounded work."""
    data = fill(unit)
    assert find_private_key(data) is None
    assert find_private_key(X1_PEM + data) is None


def test_base64_of_certificates_is_no_key() -> None:
    """A Secret's ca.crt and base64 of a bundle read as what they are: no key."""
    for text in (b"ca.crt: " + base64.b64encode(X1_PEM) + b"\n", _wrapped(X1_PEM * 3, 76)):
        assert find_private_key(X1_PEM + text) is None
        assert len(load_certificates(X1_PEM + text)) == 1


# -- 3. C octal escapes


def _octal(data: bytes, shortest: bool, per: int = 0) -> bytes:
    """``data`` as C octal escapes, three digits each or the shortest C reads alike, in
    one literal or ``per`` bytes a literal."""
    escapes = [f"\\{b:o}" if shortest else f"\\{b:03o}" for b in data]
    if not per:
        return ('"' + "".join(escapes) + '"\n').encode()
    lines = ['    "' + "".join(escapes[i : i + per]) + '"' for i in range(0, len(escapes), per)]
    return ("static const char k[] =\n" + "\n".join(lines) + ";\n").encode()


OCTAL_NAMES = [
    "test-only-ec-pkcs8.der",
    "test-only-rsa-pkcs1.der",
    "test-only-ec-sec1.der",
    "test-only-ec-pkcs8-encrypted.der",
]


@pytest.mark.parametrize("name", OCTAL_NAMES)
def test_a_key_in_c_octal_escapes_is_refused(name: str) -> None:
    key = key_vectors()[name]
    for shortest in (False, True):
        for per in (0, 16):
            text = X1_PEM + b"// pasted:\n" + _octal(key, shortest, per)
            _assert_refused(text, "spelt as C octal escapes", key)
            found = find_private_key(text)
            assert found is not None and text[found.offset :].startswith(b"\\")


def test_certificates_in_c_octal_escapes_are_no_key() -> None:
    text = X1_PEM + _octal(X1_DER, False, 16) + _octal(X1_DER, True)
    assert find_private_key(text) is None
    assert len(load_certificates(text)) == 1


def test_the_walk_of_a_certificate_is_kept_bounded_and_answers_as_walked() -> None:
    """The gate scans its input and then its rendered read-back, the same certificates:
    der_texts keeps each walk (it doubled the scan of a 145-root bundle), by digest,
    within _KEPT_MAX entries and only for pieces up to _KEPT_SIZE bytes."""
    from esp_cabundle import keyscan_nested as kn

    kn._KEPT.clear()
    der = X1_DER
    first = kn.der_texts(der)
    assert first == kn._der_texts(der) and kn.der_texts(der) is first  # kept, same answer
    for i in range(kn._KEPT_MAX + 10):
        kn.der_texts(der + i.to_bytes(4, "big"))
    assert 0 < len(kn._KEPT) <= kn._KEPT_MAX
    big = der * (kn._KEPT_SIZE // len(der) + 1)
    kn._KEPT.clear()
    assert kn.der_texts(big) == kn._der_texts(big) and not kn._KEPT  # too big to keep
