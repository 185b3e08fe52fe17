"""The key scanner on indefinite-length (BER) key containers and on PEM armour versus
prose: every BER shape a real writer makes (NSS's pk12util, OpenSSL's -stream) or a
real reader opens (OpenSSL's d2i, cryptography's PKCS#12 loader) is found in every form
a CA file may carry it, certificate containers in BER are not, and a comment about keys
is prose, not armour."""

from __future__ import annotations

import base64
import hashlib
import itertools
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import certifi
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import pkcs12
from support.scan_bounds import clean_scan_peak, fill
from support.tools import requires

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import _cannot_open_key, der_key_kind, find_private_key
from tests.support.ber import VECTORS, make_vectors, to_ber
from tests.support.gate_cases import X1_PEM, c_escaped, c_source, c_string_lines
from tests.support.key_vectors import KEYS, PASSWORD, STORED, key_vectors, mask

DATA = Path(__file__).parent / "data"
PKCS7 = DATA / "pkcs7"
# Names only: the vectors themselves are made (or unmasked) once per session.
KEY_FILES = sorted(
    [
        "test-only-ec-pkcs8.der",
        "test-only-ec-sec1.der",
        "test-only-ec-pkcs8-encrypted.der",
        "test-only-rsa-pkcs1.der",
        "test-only-dsa-pkcs8.der",
        "test-only-der.p12",
        "test-only-cms-data-of-key-ber.p7",
        "test-only-cms-signed-key-ber.p7s",
        *VECTORS,
        *STORED,
    ]
)


def _key(name: str) -> bytes:
    return key_vectors()[name]


# ---------------------------------------------------------------------------------------
# The vectors are what they say they are


def test_the_vectors_cover_every_shape() -> None:
    assert sorted(key_vectors()) == KEY_FILES
    # NSS's pk12util writes the whole PFX with indefinite lengths (a real writer)
    assert _key("test-only-nss-pk12util.p12").startswith(bytes.fromhex("3080020103308006092a"))
    assert len([n for n in KEY_FILES if _key(n)[1] == 0x80]) >= 10
    # OpenSSL's cms -stream wraps what it is given in an indefinite-length ContentInfo,
    # the content a constructed OCTET STRING (24 80) holding the key
    data = _key("test-only-cms-data-of-key-ber.p7")
    assert data.startswith(bytes.fromhex("308006092a864886f70d010701a080248004"))
    assert _key("test-only-ec-pkcs8.der") in data
    signed = _key("test-only-cms-signed-key-ber.p7s")
    assert signed.startswith(bytes.fromhex("308006092a864886f70d010702a0803080"))
    assert bytes.fromhex("06092a864886f70d010701a0802480") + data[17:] in signed


def test_re_encoded_vectors_are_what_the_script_makes() -> None:
    made = make_vectors(key_vectors())
    assert sorted(made) == sorted(VECTORS)
    for name, data in made.items():
        assert _key(name) == data, name
        assert data != _key(VECTORS[name][0])  # re-encoded, not copied
    assert to_ber(_key("test-only-ec-pkcs8.der"), depths=()) == _key("test-only-ec-pkcs8.der")


def test_stored_tool_output_is_masked_and_opens_in_memory() -> None:
    """NSS's and keytool's bytes are stored masked (no scanner finds a key on disk) and
    unmask to what the tools wrote (README in tests/data/private-keys: sha256 of each)."""
    readme = (KEYS / "README.md").read_text()
    assert sorted(p.name for p in KEYS.iterdir()) == sorted(
        ["README.md", "test-only-cert.pem", *STORED.values()]
    )
    for name, masked in STORED.items():
        on_disk = (KEYS / masked).read_bytes()
        assert find_private_key(on_disk) is None, masked
        assert mask(on_disk) == _key(name) != on_disk
        assert hashlib.sha256(_key(name)).hexdigest() in readme, name
    assert _key("test-only-keytool.jks").startswith(b"\xfe\xed\xfe\xed")
    assert _key("test-only-keytool.jceks").startswith(b"\xce\xce\xce\xce")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cryptography fell back to BER
        key, cert, _ = pkcs12.load_key_and_certificates(
            _key("test-only-nss-pk12util.p12"), PASSWORD
        )
    assert key is not None and cert is not None


@pytest.mark.parametrize("name", [n for n in KEY_FILES if n.endswith(".p12")])
def test_every_pkcs12_vector_opens_as_a_key_store(name: str) -> None:
    """cryptography reads them (a BER PFX with a warning that it fell back to BER)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        key, cert, _ = pkcs12.load_key_and_certificates(_key(name), PASSWORD)
    assert key is not None and cert is not None
    assert "test-only" in cert.subject.rfc4514_string()


OPENSSL = shutil.which("openssl")


@requires("openssl")
@pytest.mark.parametrize("name", [n for n in KEY_FILES if n.endswith(".der")])
def test_every_key_vector_opens_with_openssl(name: str) -> None:
    """OpenSSL's d2i reads each BER key as the key it is (cryptography's DER loader
    would not): BER keys are keys to a real reader."""
    assert OPENSSL is not None
    r = subprocess.run(
        [OPENSSL, "pkey", "-inform", "DER", "-noout", "-passin", f"pass:{PASSWORD.decode()}"],
        input=_key(name),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------------------
# Found in every form


def _forms(data: bytes) -> dict[str, bytes]:
    text = base64.b64encode(data)
    return {
        "raw": data,
        "after pem": X1_PEM + data,
        "base64 76 columns": X1_PEM + base64.encodebytes(data),
        "base64 64 columns": X1_PEM
        + b"".join(text[i : i + 64] + b"\n" for i in range(0, len(text), 64)),
        "base64 one line": X1_PEM + text + b"\n",
        "base64 crlf": (X1_PEM + base64.encodebytes(data)).replace(b"\n", b"\r\n"),
        "base64 in a C string": c_source(X1_PEM) + b'const char *k = "' + text + b'";\n',
        "c escapes": c_escaped(X1_PEM, data),
        "c array": c_source(b"", key=data),
        "c array after s_pem": c_source(X1_PEM, key=data),
        # C pasted into a file read as PEM: the literals are not compiled, the scan reads them
        "c escapes after pem": X1_PEM + c_escaped(b"", data),
        "c array after pem": X1_PEM + c_source(b"", key=data),
        "c array in capitals after pem": X1_PEM + c_source(b"", key=data).upper(),
        "utf-16 base64": (X1_PEM + base64.encodebytes(data)).decode().encode("utf-16"),
    }


@pytest.mark.parametrize("name", KEY_FILES)
def test_every_vector_is_refused_in_every_form(name: str) -> None:
    data = _key(name)
    for form, text in _forms(data).items():
        with pytest.raises(PrivateKeyError, match="private key material") as e:
            load_certificates(text, source="ca.pem")
        message = str(e.value)
        assert message.startswith("ca.pem"), (form, message)
        assert base64.b64encode(data)[40:72].decode() not in message


def _kind(data: bytes) -> str | None:
    found = find_private_key(data)
    return found.kind if found is not None else None


def test_kinds_name_the_encoding() -> None:
    assert _kind(_key("test-only-nss-pk12util.p12")) == "BER PKCS#12 key store"
    assert _kind(_key("test-only-ber-sec1.der")) == "BER SEC1 EC"
    assert _kind(_key("test-only-ec-sec1.der")) == "DER SEC1 EC"
    wrapped = X1_PEM + base64.encodebytes(_key("test-only-cms-data-of-key-ber.p7"))
    assert _kind(wrapped) == "base64 PKCS#8 in a PKCS#7/CMS ContentInfo"


def test_the_quick_look_at_a_base64_run_passes_every_vector() -> None:
    for name in KEY_FILES:
        assert not _cannot_open_key(base64.b64encode(_key(name))[:16]), name


@pytest.mark.parametrize("name", sorted(p.name for p in PKCS7.iterdir()))
def test_ber_certificate_containers_are_not_keys(name: str) -> None:
    """PKCS#7/CMS from OpenSSL (-stream: BER) holding certificates, a signature, or
    encrypted data: no key, in any form."""
    data = (PKCS7 / name).read_bytes()
    for form, text in _forms(data).items():
        assert find_private_key(text) is None, form


def test_java_key_stores_are_keys_and_trust_stores_are_not() -> None:
    """keytool's JKS and JCEKS stores with a key entry are found in every form (raw: by
    the entry's Sun algorithm; base64: by the magic and the first entry's tag); a JKS
    trust store (certificates only) is not."""
    assert _kind(_key("test-only-keytool.jks")) == "DER encrypted key of a Java key store"
    jceks = X1_PEM + base64.encodebytes(_key("test-only-keytool.jceks"))
    assert _kind(jceks) == "base64 Java key store (JCEKS)"
    trust = (DATA / "java" / "isrgrootx1-truststore.jks").read_bytes()
    assert trust.startswith(b"\xfe\xed\xfe\xed")
    for form, text in _forms(trust).items():
        assert find_private_key(text) is None, form


def test_an_encrypted_data_is_not_read_as_a_key() -> None:
    """A bare PKCS#7 EncryptedData opens like PKCS#8 (INTEGER 0, SEQUENCE opening with
    an OID); its content type, not a key algorithm, tells it apart, even when the base64
    prefix ends inside it."""
    data = (PKCS7 / "cms-encrypted-data-ber-stream.p7m").read_bytes()
    inner = data.index(bytes.fromhex("3080020100"))
    assert der_key_kind(data, inner) is None
    assert der_key_kind(data[inner : inner + 40], truncated=True) is None


# ---------------------------------------------------------------------------------------
# The fast path: bytes without 0x02 and 0x06 hold no DER or BER key


def test_no_key_verdict_without_an_integer_or_oid_tag() -> None:
    """_scan_der skips the DER search when the bytes hold neither 0x02 nor 0x06: sound
    only if every verdict needs one. Every vector, with those bytes replaced, gives no
    verdict at any offset, whole or as a truncated prefix."""
    for name in KEY_FILES:
        data = _key(name)
        assert der_key_kind(data) is not None or data[0] != 0x30, name
        stripped = data.replace(b"\x02", b"\x04").replace(b"\x06", b"\x04")
        for pos in range(len(stripped)):
            assert der_key_kind(stripped, pos) is None, (name, pos)
            assert der_key_kind(stripped[pos : pos + 192], truncated=True) is None, (name, pos)
        assert find_private_key(stripped) is None, name


# ---------------------------------------------------------------------------------------
# Armour is refused, prose is not

PROSE = [
    b"# ---- never add a private key ----\n",
    b"# ----- Do not put private keys in this file -----\n",
    b"# --- private key: see the vault, not this file ---\n",
    b"/* -------- NO PRIVATE KEY HERE -------- */\n",
    b"// ---- the device's private key lives in NVS, never in ca.pem ----\n",
    b"# Begin CA roots --- private keys belong in secrets/\n",
    b"# ==== BEGIN CA BUNDLE (no private key) ====\n",
    b"# ----- END OF CERTIFICATES (no private key follows) -----\n",
    b"# -- begin: certificates only, no private key --\n",
    b"#----------------------------------------------------------\n# Private key: see docs\n",
    b"# Begin private key rotation checklist\n",
    b"// End-to-end: the private key never leaves the unit ---\n",
    b"# ---- end of the list: a private key never goes here ----\n",
]

# What real readers take for a key's armour (mbedTLS 2.28, OpenSSL, cryptography, PuTTY,
# OpenSSH, GnuPG), and the mangled variants the scanner still refuses.
ARMOUR = [
    b"-----BEGIN PRIVATE KEY-----",
    b"-----END PRIVATE KEY-----",
    b"-----BEGIN RSA PRIVATE KEY-----",
    b"-----BEGIN EC PRIVATE KEY-----",
    b"-----BEGIN DSA PRIVATE KEY-----",
    b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
    b"-----BEGIN ANY PRIVATE KEY-----",
    b"-----BEGIN X9.42 DH PRIVATE KEY-----",
    b"-----BEGIN RSA-PSS PRIVATE KEY-----",
    b"-----BEGIN OPENSSH PRIVATE KEY-----",
    b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
    b"-----BEGIN PGP PRIVATE KEY BLOCK-----",
    b"-----END PGP PRIVATE KEY BLOCK-----",
    b"-----BEGIN TSS2 PRIVATE KEY-----",
    b"# -----BEGIN EC PRIVATE KEY-----",  # mbedTLS finds it anywhere in a line
    b'  "-----BEGIN PRIVATE KEY-----\\n"',
    b"-----begin private key-----",
    b"----BEGIN PRIVATE KEY----",
    b"-----BEGIN  PRIVATE  KEY-----",
    b"-----BEGIN PRIVATE\x00KEY-----",
    b"-----BEGIN PRIVATE\xc2\xa0KEY-----",
    b"-----BEGIN\xc2\xa0EC\xc2\xa0PRIVATE KEY-----",
    b"-----BEGIN\tPRIVATE KEY-----\r",
    b"-----\x00BEGIN PRIVATE KEY-----",
    b"-----BEGIN PRIVATEKEY-----",
    b"BEGIN PRIVATE KEY-----",  # its leading dashes cut off
    b"-----BEGIN PRIVATE KEY",  # its trailing dashes cut off
]


@pytest.mark.parametrize("comment", PROSE)
def test_prose_about_keys_is_read(comment: bytes) -> None:
    for data in (comment + X1_PEM, X1_PEM + comment, comment.decode().encode("utf-16")):
        assert find_private_key(data) is None
    assert len(load_certificates(comment + X1_PEM, source="ca.pem")) == 1


@pytest.mark.parametrize("header", ARMOUR)
def test_armour_is_refused(header: bytes) -> None:
    for data in (
        X1_PEM + header + b"\nAAAA\n",
        header + b"\n" + X1_PEM,
        (X1_PEM + header + b"\n").decode("utf-8", "replace").encode("utf-16"),
    ):
        found = find_private_key(data)
        assert found is not None and found.kind == "PEM private-key header", data[-60:]


def test_prose_in_a_c_file_is_read_and_armour_in_one_refused() -> None:
    src = c_source(X1_PEM)
    for comment in (b"// ---- never add a private key ----\n", b"/* no private key here */\n"):
        assert len(load_certificates(comment + src, source="certs.c")) == 1
    with pytest.raises(PrivateKeyError, match="PEM private-key header"):
        load_certificates(b"/* -----BEGIN EC PRIVATE KEY----- */\n" + src, source="certs.c")


# ---------------------------------------------------------------------------------------
# C hex bytes laid out as firmware writes them


def _c_layouts(data: bytes) -> dict[str, bytes]:
    """``data`` in C hex bytes split over lines, quotes, comments and deep indents."""
    head, tail = data[:20], data[20:]
    hexes = [f"0x{b:02X}".encode() for b in data]
    return {
        "literal a line": c_string_lines(data),
        "literal a line, deep indent": c_string_lines(data, per=12, indent=40),
        "literals one line": c_string_lines(data).replace(b'"\n', b'" '),
        "comments between literals": c_string_lines(head)[:-2]
        + b" /* the key */ // DER\n"
        + c_string_lines(tail).split(b"=\n", 1)[1],
        "array, comment first": b"const uint8_t k[] = { /* seq */ " + b", ".join(hexes) + b"};",
        "array, line comments": b"{ // key\n  "
        + b",\n  ".join(h + (b" // a byte" if i % 9 == 0 else b"") for i, h in enumerate(hexes))
        + b"\n};",
        # C's integer suffixes, casts to a byte type (Java casts every byte above 0x7f),
        # and one digit where one is enough (Python's hex(), printf's "%#x")
        "array, suffixes": b"const uint8_t k[] = {" + b", ".join(h + b"UL" for h in hexes) + b"};",
        "array, casts": b"{" + b", ".join(f"(uint8_t)0x{b:02x}u".encode() for b in data) + b"}",
        "java casts": b"new byte[] {"
        + b", ".join(f"(byte) 0x{b:02x}".encode() for b in data)
        + b"}",
        "python hex()": b"KEY = bytes([" + b", ".join(hex(b).encode() for b in data) + b"])",
    }


@pytest.mark.parametrize("name", KEY_FILES)
def test_a_key_split_over_c_string_literals_is_found(name: str) -> None:
    """pack --from-dir and build from_dir: call find_private_key on a secrets.h as it is."""
    data = _key(name)
    for layout, text in _c_layouts(data).items():
        found = find_private_key(text)
        assert found is not None and "spelt as C hex bytes" in found.kind, (layout, found)
        assert text[found.offset : found.offset + 4].lower() in (b"\\x30", b"0x30"), layout


def test_c_hex_runs_start_only_at_0x30() -> None:
    """The scan decodes runs from their "30" bytes only (_C_HEX_START): sound because a
    key opens with a SEQUENCE and a run is searched at every offset. A key after any
    bytes in the same run, or after a run broken off just before it, is found; the same
    bytes with the SEQUENCE's 0x30 changed are not a key."""
    key = _key("test-only-ec-sec1.der")
    rng = random.Random(1)
    for _ in range(40):
        before = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        after = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        for layout, text in _c_layouts(before + key + after).items():
            assert find_private_key(text) is not None, (layout, before.hex())
        for layout, text in _c_layouts(before + b"\x31" + key[1:] + after).items():
            found = find_private_key(text)
            # another SEQUENCE around a key may still be one: only "no 0x30 at the key" counts
            assert found is None or text.find(b"30", found.offset) < text.find(b"31"), layout
    # the smallest structure der_key_kind calls a key: 7 bytes, the shortest run decoded
    tiny = bytes.fromhex("3005" + "020101" + "2480")  # apart: its bare hex is a key too
    assert der_key_kind(tiny) == "SEC1 EC"
    for layout, text in _c_layouts(tiny).items():
        assert find_private_key(text) is not None, layout
    alphabet = bytes.fromhex("0001020304050630318081a024")
    for size in range(2, 7):
        for rest in itertools.product(alphabet, repeat=size - 1):
            assert der_key_kind(b"\x30" + bytes(rest)) is None, rest
    # a run is matched 1024 tokens at a time: a key across the seam is found
    seam = b"\x30" + b"\x01" * 1000 + key
    assert find_private_key(c_string_lines(seam)) is not None
    assert find_private_key(b", ".join(f"0x{b:02x}".encode() for b in seam)) is not None
    array = ", ".join(f"0x{b:02x}" for b in key)
    # separators too long to join: the second array's run is searched from its own "0x30"
    for gap in (", " + " " * 11, ",\n" + " " * 50, " ;\n{"):
        text = ("{0x30, 0x01" + gap + array + "}").encode()
        assert find_private_key(text) is not None, gap


def test_c_hex_layouts_of_certificates_are_no_key_and_load() -> None:
    """The same layouts of certificates, a PKCS#7 and random bytes hold no key; the
    arrays the C loader reads (suffixes, one-digit bytes) load as certificates."""
    x1 = load_certificates(X1_PEM)[0].der
    rng = random.Random(9)
    for data in (x1, x1 + x1, (PKCS7 / "x1-certs.p7b").read_bytes(), rng.randbytes(4096)):
        for layout, text in _c_layouts(data).items():
            assert find_private_key(text) is None, layout
            assert find_private_key(X1_PEM + text) is None, layout
    for layout in ("array, suffixes", "python hex()"):
        src = _c_layouts(x1)[layout].replace(b"KEY = bytes([", b"const uint8_t k[] = {")
        src = src.replace(b"])", b"};")
        assert [c.der for c in load_certificates(src, source="ca.c")] == [x1], layout


def test_build_reads_a_commented_ca_pem(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "mine.pem").write_bytes(b"# ---- never add a private key ----\n" + X1_PEM)
    r = runner.invoke(cli, ["build", "--root", "./mine.pem", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    assert b"-----BEGIN CERTIFICATE-----" in (in_tmp / "ca.pem").read_bytes()
    (in_tmp / "key.pem").write_bytes(b"# ---- BEGIN PRIVATE KEY ----\n" + X1_PEM)
    r = runner.invoke(cli, ["build", "--root", "./key.pem", "--no-lock", "-o", "out.pem"])
    assert r.exit_code == 2, r.output
    assert "key.pem:1: private key material (PEM private-key header)" in r.output
    assert not (in_tmp / "out.pem").exists()


# ---------------------------------------------------------------------------------------
# Bounded on hostile input


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "unit",
    [
        b"\x30\x80\x02\x01\x00\x30\x80\x06\x01\x00",  # walks to an AlgorithmIdentifier's end
        b"\x30\x80" * 4 + b"\x02\x01\x03\x30\x80",
        b"\x30\x80\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01\xa0\x80\x24\x80",
        b"MIACAQAwgAYBAD",  # base64 of the first
        b"MIAGCSqGSIb3DQEHAqCAMIACAQExgDCA",  # base64 of a signed-data ContentInfo's head
        b"\x00\x00" * 7 + b"\x30\x80",
        b"0x30, ",  # one C hex run, decoded and searched once
        b"\\x30 {,",  # a run at every mark
        b'"\\x30\\x82" \n',  # one run over every literal
        b"\\x30 x",  # a run of one byte at every sixth
        b"x30",  # "0x30" at every third byte, runs of one byte
        b",/* */0x30 ",  # a start after a comment, a run of one byte
        b"/* \\x30 0x30 // */ ",  # comments that never close as separators
        b",",
        b"\\",
        b"0x30u, ",  # one run of suffixed bytes
        b"(uint8_t)0x30, ",  # of cast bytes
        b"(uint8_t)",
        b"0x30, (byte) (char) ",  # casts that cast nothing
        b"0x3, 0x8, ",  # one digit
        b"0x6f, ",  # OpenSSH's magic's first byte, a run from each
        b"\\x6f x",
        b"x6f",
    ],
)
def test_hostile_ber_is_scanned_in_bounded_time(unit: bytes) -> None:
    """Every candidate costs bounded work (_WALK elements at most): the scan of 1 MiB
    of BER headers ends (speed: benchmarks/bench_keyscan.py)."""
    data = fill(unit, 1 << 20)
    find_private_key(data)
    find_private_key(data + b"\n" + base64.encodebytes(data[:4096]))


@pytest.mark.parametrize(
    "unit", [b"0x30, ", b'"\\x30\\x82\\x02\\x02"\n', b"(uint8_t)0x30ul, ", b"0x6f, 0x3, "]
)
def test_one_long_c_hex_run_is_scanned_in_bounded_memory(unit: bytes) -> None:
    """re keeps an entry per repetition of a group while it matches: 1 MiB of one run
    matched whole held 56 MiB; matched in chunks, a few times the input."""
    data = fill(unit, 1 << 20)
    peak = clean_scan_peak(data)
    assert peak < 8 * len(data), peak


def test_certifi_store_stays_clean() -> None:
    assert find_private_key(Path(certifi.where()).read_bytes()) is None
