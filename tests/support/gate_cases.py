"""CA files as they were seen going onto devices (issue 11 §1), for the write-path gate.

Every case is a file a user might hand ``--bundle`` (or ``--root``, or ``fs put``): keys
in each encoding that was copied onto units, the expired DST-only ``ca.pem`` behind the
2024 outage, a self-signed leaf, a root mbedTLS 2.28 cannot parse, an ESP-IDF bundle,
and the inputs that are fine once converted (mDash's ``s_pem`` C source, DER). Keys are
minted per session, the indefinite-length (BER) key stores and keys too
(``key_vectors.py``), except what only NSS and keytool write, stored masked in
``tests/data/private-keys`` (its README says how each was made).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization as ser

from .key_vectors import key_vectors
from .verify_pki import mint, pooled_key

DATA = Path(__file__).resolve().parent.parent / "data"
X1_PEM = (DATA / "letsencrypt" / "isrgrootx1.pem").read_bytes()
DST_PEM = (DATA / "letsencrypt" / "dst-root-ca-x3.pem").read_bytes()
S_PEM_C = DATA / "mdash" / "mDash-1.2.16-s_pem.c"
IDF_BUNDLE = DATA / "idf-bundle" / "small.v2.bin"


@dataclass(frozen=True)
class Case:
    """A CA file, the exit code every write path must give, words its error must hold,
    and a piece of secret that must never be printed (keys only)."""

    data: bytes
    code: int
    message: str
    secret: bytes = b""
    converted: str | None = None  # accepted cases: what the gate converted it from


def _pem(key: object, fmt: ser.PrivateFormat, enc: ser.KeySerializationEncryption) -> bytes:
    return key.private_bytes(ser.Encoding.PEM, fmt, enc)  # type: ignore[attr-defined,no-any-return]


def _body(pem: bytes) -> bytes:
    return b"\n".join(line for line in pem.splitlines() if line and not line.startswith(b"-"))


def _relabel(body: bytes, begin: bytes, end: bytes) -> bytes:
    return begin + b"\n" + body + b"\n" + end + b"\n"


def c_source(pem: bytes, **arrays: bytes) -> bytes:
    """C source as firmware holds a CA: ``pem`` in string literals (mDash's ``s_pem``),
    and each of ``arrays`` as a byte array in hex (``{0x30, 0x80, ...}``)."""
    lines = "".join(f'  "{line}\\n"\n' for line in pem.decode().strip().splitlines())
    out = f"static const char s_pem[] =\n{lines};\n" if pem else ""
    for name, data in arrays.items():
        out += f"const unsigned char {name}[] = {{" + ", ".join(f"0x{b:02x}" for b in data)
        out += "};\n"
    return out.encode()


def c_escaped(pem: bytes, data: bytes) -> bytes:
    """``pem``'s C source with ``data`` beside it in a string literal of "\\x.." escapes."""
    escaped = "".join(f"\\x{b:02x}" for b in data)
    return c_source(pem) + f'static const char s_key[] = "{escaped}";\n'.encode()


def c_string_lines(data: bytes, *, per: int = 16, indent: int = 4) -> bytes:
    """``data`` as firmware headers write a key: a ``secrets.h`` array initialised by
    adjacent string literals of "\\x.." escapes, ``per`` bytes a line."""
    lines = [
        " " * indent + '"' + "".join(f"\\x{b:02x}" for b in data[i : i + per]) + '"'
        for i in range(0, len(data), per)
    ]
    return ("static const char client_key[] =\n" + "\n".join(lines) + ";\n").encode()


def stored_key_cases() -> dict[str, tuple[bytes, bytes]]:
    """Indefinite-length (BER) key containers and a Java key store, in each shape a CA
    file may carry them: (bytes, a piece of key material the error must never print; b""
    where the form is binary)."""
    vectors = key_vectors()
    nss = vectors["test-only-nss-pk12util.p12"]  # NSS's pk12util wrote it
    pkcs8 = vectors["test-only-ber-pkcs8.der"]
    wrapped = vectors["test-only-cms-data-of-key-ber.p7"]  # as openssl cms -stream writes

    def b64(data: bytes) -> tuple[bytes, bytes]:
        text = base64.encodebytes(data)  # 76-column lines, as `base64` writes them
        return X1_PEM + text, text.splitlines()[1][:32]

    return {
        "ber-pkcs12": (nss, b""),
        "ber-pkcs12-after-pem": (X1_PEM + nss, b""),
        "ber-pkcs12-base64-after-pem": b64(nss),
        "ber-pkcs12-c-escapes": (c_escaped(X1_PEM, nss), b""),
        "ber-pkcs12-c-array": (c_source(b"", ca=_X1_DER, key=nss), b""),
        "ber-pkcs8-base64-after-pem": b64(pkcs8),
        "ber-pkcs8-c-array": (c_source(X1_PEM, key=pkcs8), b""),
        "ber-cms-wrapped-pkcs8-base64": b64(wrapped),
        "jks-base64-after-pem": b64(vectors["test-only-keytool.jks"]),
    }


_X1_DER = base64.b64decode(_body(X1_PEM))


@cache
def cases() -> dict[str, Case]:
    ec = pooled_key("ec256", 41)
    rsa = pooled_key("rsa2048", 41)
    plain = ser.NoEncryption()
    pkcs8 = _pem(ec, ser.PrivateFormat.PKCS8, plain)
    body = _body(pkcs8)
    secret = body.splitlines()[1][:32]  # key bytes, not the DER header every key shares
    key_der = ec.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, plain)
    x1_der = base64.b64decode(_body(X1_PEM))
    d = base64.urlsafe_b64encode(ec.private_numbers().private_value.to_bytes(32, "big"))
    jwk = json.dumps({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "d": d.decode()})
    putty = (
        b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: unit-key\n"
        b"Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIBPQ\nZDI1NTE5\n"
        b"Private-Lines: 1\n" + secret + b"\nPrivate-MAC: 0123456789abcdef\n"
    )

    def key(data: bytes, secret_part: bytes = secret) -> Case:
        return Case(data, 2, "private key material", secret_part)

    def with_secret(pem: bytes) -> Case:
        return key(X1_PEM + pem, _body(pem).splitlines()[1][:32])

    leaf = mint("device.example.com", ca=False)  # self-signed, not a CA
    ed_root = mint("Ed25519 Root", key_kind="ed25519")
    return {
        # PEM keys as tools write them
        "pem-pkcs8": key(X1_PEM + pkcs8),
        "pem-rsa": with_secret(_pem(rsa, ser.PrivateFormat.TraditionalOpenSSL, plain)),
        "pem-ec": with_secret(_pem(ec, ser.PrivateFormat.TraditionalOpenSSL, plain)),
        "pem-encrypted": with_secret(
            _pem(ec, ser.PrivateFormat.PKCS8, ser.BestAvailableEncryption(b"pw"))
        ),
        "pem-openssh": with_secret(_pem(ec, ser.PrivateFormat.OpenSSH, plain)),
        # ... and headers no PEM parser would accept
        "header-lower-case": key(
            X1_PEM + _relabel(body, b"-----begin private key-----", b"-----end private key-----")
        ),
        "header-four-dashes": key(
            X1_PEM + _relabel(body, b"----BEGIN PRIVATE KEY----", b"----END PRIVATE KEY----")
        ),
        "header-two-spaces": key(
            X1_PEM
            + _relabel(body, b"-----BEGIN  PRIVATE  KEY-----", b"-----END  PRIVATE  KEY-----")
        ),
        "header-nul": key(
            X1_PEM
            + _relabel(body, b"-----BEGIN PRIVATE\x00KEY-----", b"-----END PRIVATE\x00KEY-----")
        ),
        "header-nbsp": key(
            X1_PEM
            + _relabel(
                body, b"-----BEGIN PRIVATE\xc2\xa0KEY-----", b"-----END PRIVATE\xc2\xa0KEY-----"
            )
        ),
        # keys without any header
        "der-key-after-der-certificate": key(x1_der + key_der, b""),
        "der-key-after-pem": key(X1_PEM + key_der, b""),
        "utf-16": key((X1_PEM + pkcs8).decode().encode("utf-16")),
        "utf-16-le-no-bom": key((X1_PEM + pkcs8).decode().encode("utf-16-le")),
        "headerless-base64": key(X1_PEM + body + b"\n"),
        "putty": key(X1_PEM + putty),
        "jwk": key(X1_PEM + jwk.encode() + b"\n", d[:32]),
        # keys and key stores in BER (indefinite lengths), as NSS and OpenSSL -stream write,
        # and keytool's JKS
        **{name: key(data, piece) for name, (data, piece) in stored_key_cases().items()},
        # certificates a device must not get
        "dst-only-expired": Case(DST_PEM, 1, "DST Root CA X3 expired on 2021-09-30"),
        "self-signed-leaf": Case(leaf.pem, 1, "is not a CA certificate"),
        "ed25519-root": Case(X1_PEM + ed_root.pem, 1, "not parseable by mbedTLS 2.28"),
        "idf-bundle": Case(IDF_BUNDLE.read_bytes(), 2, "ESP-IDF certificate bundle"),
        # inputs converted to the PEM the device reads
        "mdash-s_pem-c-source": Case(S_PEM_C.read_bytes(), 0, "", converted="C source"),
        "der": Case(x1_der, 0, "", converted="DER"),
    }
