"""An ESP-IDF bundle root is judged parseable from its stored key, as the unit judges it:
``esp_crt_check_signature`` (esp_crt_bundle.c) runs ``mbedtls_pk_parse_public_key`` on
the key of the root a chain names as issuer, and parses nothing else of it. A DSA key,
which no mbedTLS reads, is reported and fails ``--fail-on unparseable``, as the same
root does in a PEM file; the key model agrees with real mbedTLS 2.28 code for code and
with the codes recorded from real 3.6."""

from __future__ import annotations

import base64
import json
import random
import warnings
from pathlib import Path

import certifi
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from support import mbedtls_oracle
from support.bundles import P256_KEY, cn, v2_bundle
from support.verify_pki import mint

from esp_cabundle.cli import cli
from esp_cabundle.formats.idf_bundle import BundleRoot, pack_roots
from esp_cabundle.inspect import inspect_idf_bundle
from esp_cabundle.verify.parse import key_refusal, key_unparseable_by
from tests.support import parse_corpus as pc

DATA = Path(__file__).parent / "data"


def _spki(key: object) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def dsa_root() -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography's "DSA is deprecated"
        return mint("DSA Test Root", key=dsa.generate_private_key(2048)).pem


@pytest.mark.parametrize(
    ("version", "lines"), [("5.4", "mbedTLS 3.6"), ("5.0", "mbedTLS 2.28 and 3.6")]
)
def test_a_bundle_root_with_a_dsa_key_fails_the_unparseable_gate(
    runner: CliRunner, in_tmp: Path, dsa_root: bytes, version: str, lines: str
) -> None:
    """The trial's report: the PEM root was judged unparseable, its bundle entry only
    "no dates", and the gate passed. v1 bundles are read by mbedTLS 2.28 and 3.x units,
    v2 by 3.6 only."""
    (in_tmp / "dsa.pem").write_bytes(dsa_root)
    build = ["build", "--root", "./dsa.pem", "--allow", "unparseable", "-f", "idf-bundle"]
    r = runner.invoke(cli, [*build, "--idf-version", version, "-o", "b.bin", "--no-lock"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["inspect", "b.bin", "--fail-on", "unparseable"])
    assert r.exit_code == 1, r.output
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("  #1 ")]
    assert row.endswith(f"  unparseable by {lines}, no dates")
    assert f"#1 DSA Test Root: {lines} cannot parse its stored key (-0x3c80 " in r.stdout
    assert "key type DSA (1.2.840.10040.4.1) is not supported" in r.stdout
    assert "b.bin #1 DSA Test Root: " in r.stderr and "cannot parse it" in r.stderr
    r = runner.invoke(cli, ["inspect", "b.bin", "--json"])
    assert r.exit_code == 0, r.output
    (cert,) = json.loads(r.stdout)["reports"][0]["certificates"]
    assert cert["unparseable_by"] == lines
    assert cert["status"] == f"unparseable by {lines}, no dates"


def test_the_vendors_bundles_pass_the_gate(runner: CliRunner) -> None:
    for name in ("all.v1.bin", "all.v2.bin", "small.v2.bin"):
        r = runner.invoke(cli, ["inspect", str(DATA / "idf-bundle" / name),
                                "--fail-on", "unparseable"])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "unparseable" not in r.stdout


def test_only_the_key_is_judged() -> None:
    """A root the device could not parse as a certificate (here: a critical
    nameConstraints, -0x2562) anchors from a bundle: the unit never parses it there."""
    from esp_cabundle.verify.parse import unparseable_by

    named = mint("Constrained Root")
    constrained = (
        x509.CertificateBuilder()
        .subject_name(named.cert.subject)
        .issuer_name(named.cert.subject)
        .public_key(named.key.public_key())
        .serial_number(1)
        .not_valid_before(named.cert.not_valid_before_utc)
        .not_valid_after(named.cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.NameConstraints([x509.DNSName("example.com")], None), True)
        .sign(named.key, named.cert.signature_hash_algorithm)  # type: ignore[arg-type]
    )
    assert unparseable_by(constrained.public_bytes(Encoding.DER)) == "mbedTLS 2.28 and 3.6"
    spki = _spki(constrained.public_key())
    report = inspect_idf_bundle(pack_roots([BundleRoot(cn("Constrained Root"), spki)], "v1"), "b")
    assert report is not None and report.findings[0].unparseable is None


def test_bundle_keys_notes_stay_a_few_lines() -> None:
    """One note per refused root, five at most, then a count (a hostile bundle can hold
    thousands); a key that does not parse is named with the code the unit logs."""
    entries = sorted((cn(f"R{i:04d}"), b"" if i % 2 else P256_KEY) for i in range(300))
    report = inspect_idf_bundle(v2_bundle(entries), "b.bin")
    assert report is not None
    refused = [f for f in report.findings if f.unparseable]
    assert len(refused) == 150 and all(f.unparseable == "mbedTLS 3.6" for f in refused)
    key_notes = [n for n in report.notes if "cannot parse its stored key" in n]
    assert len(key_notes) == 5
    assert key_notes[0].startswith("#2 R0001: mbedTLS 3.6 cannot parse its stored key (-0x3d00")
    more = "145 more roots store a key mbedTLS cannot parse (--json lists every root)"
    assert more in report.notes


# -- the model against real mbedTLS ------------------------------------------------------


def _keys() -> list[bytes]:
    """Mozilla's roots' keys, one of each kind mbedTLS refuses or reads only in 3.6, and
    (seeded) mutations of them: cut short, grown, a byte changed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a Mozilla root's serial of 0; "DSA is deprecated"
        roots = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())
        made = [
            dsa.generate_private_key(1024).public_key(),
            ed25519.Ed25519PrivateKey.generate().public_key(),
            ed448.Ed448PrivateKey.generate().public_key(),
            x25519.X25519PrivateKey.generate().public_key(),
            x448.X448PrivateKey.generate().public_key(),
            ec.generate_private_key(ec.SECP256K1()).public_key(),
            rsa.generate_private_key(65537, 1024).public_key(),
        ]
    base = sorted({_spki(c.public_key()) for c in roots}) + [_spki(k) for k in made]
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    # prime192v2 (1.2.840.10045.3.1.2) for P-256's OID: a curve mbedTLS does not know
    p256, prime192v2 = bytes.fromhex("2a8648ce3d030107"), bytes.fromhex("2a8648ce3d030102")
    base.append(_spki(point).replace(p256, prime192v2))
    base.append(made[-1].public_bytes(Encoding.DER, PublicFormat.PKCS1))  # a bare RSAPublicKey
    base.append(  # a compressed point: 3.6 reads it, 2.28 does not
        bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
        + point.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    )
    rng = random.Random(20261206)
    out = [*base, b"", b"\x30\x00", b"\x02\x01\x00", b"\x30\x03\x02\x01\x05"]
    for key in base:
        out.append(key + b"\x00")
        out += [key[:n] for n in rng.sample(range(len(key)), min(8, len(key)))]
        for _ in range(12):
            i = rng.randrange(len(key))
            out.append(key[:i] + bytes([rng.randrange(256)]) + key[i + 1 :])
    return out


def test_the_key_model_gives_mbedtls_228s_codes() -> None:
    if not mbedtls_oracle.pk_available():
        pytest.skip("python-mbedtls's libmbedcrypto is not loadable")
    keys = _keys()
    assert len(keys) > 2000
    wrong = []
    for key in keys:
        real = mbedtls_oracle.pk_parse_public_key(key)
        model = key_refusal(key, "2.28")
        if (model.code if model else 0) != real:
            wrong.append(f"{key.hex()}: mbedTLS -0x{-real:04x}, model {model}")
    assert not wrong, f"{len(wrong)} differ, first: {wrong[:3]}"
    refused = {mbedtls_oracle.pk_parse_public_key(k) for k in keys} - {0}
    assert {-0x3C80, -0x3A00, -0x3B66, -0x3D00, -0x4E80} <= refused  # kinds seen


def test_36_reads_what_the_model_says_it_reads() -> None:
    """Real 3.6 (recorded): for each recorded certificate it refused in its key, the
    key alone gets the same code from the model; and the keys 3.6 reads and 2.28 does
    not are the RFC 8410 X25519/X448 keys and compressed points (MBEDTLS_PK_PARSE_EC_COMPRESSED)."""
    recorded = json.loads((DATA / "mbedtls36" / "recorded.json").read_text())
    samples = [pc.Sample(s["name"], base64.b64decode(s["der"])) for s in recorded["samples"]]
    m = recorded["mutations"]
    certs = [*samples, *pc.mutations(samples, m["count"], seed=m["seed"])]
    codes = [s["code"] for s in recorded["samples"]] + m["codes"]
    compared = 0
    for sample, code in zip(certs, codes, strict=True):
        if not (-0x4FFF <= code <= -0x3A00):  # PK, RSA and ECP errors: the key's
            continue
        model = key_refusal(_spki_of(sample.der), "3.6")
        assert (model.code if model else 0) == code, f"{sample.name}: -0x{-code:04x}, {model}"
        compared += 1
    assert compared > 200
    differ = [k for k in _keys() if bool(key_refusal(k, "2.28")) != bool(key_refusal(k, "3.6"))]
    assert differ
    for k in differ:
        assert key_unparseable_by(k) == "mbedTLS 2.28", k.hex()  # never the other way
        reason = str(key_refusal(k, "2.28"))
        assert "key type X25519" in reason or "key type X448" in reason or "compressed" in reason


def _spki_of(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a DER certificate, walked by hand (cryptography
    refuses some of the certificates mbedTLS refuses)."""

    def tlv(d: bytes, p: int) -> tuple[int, int, int]:  # (content start, content end, tag)
        tag, n, p = d[p], d[p + 1], p + 2
        if n & 0x80:
            k = n & 0x7F
            n, p = int.from_bytes(d[p : p + k], "big"), p + k
        return p, p + n, tag

    start, _, _ = tlv(der, 0)  # Certificate
    p, end, _ = tlv(der, start)  # TBSCertificate
    fields = []
    while p < end:
        _, e, tag = tlv(der, p)
        fields.append((p, e, tag))
        p = e
    if fields[0][2] == 0xA0:  # [0] version
        fields = fields[1:]
    p, e, _ = fields[5]  # serial, signature, issuer, validity, subject, key
    return der[p:e]
