"""ESP-IDF bundles made by hand, for tests and benchmarks that need ones the tool would
never build (thousands of tiny roots, names that are no DER, repeats): the layout is
the tool's own (:func:`esp_cabundle.formats.idf_bundle.pack_roots`)."""

from __future__ import annotations

from esp_cabundle.formats.idf_bundle import BundleRoot, pack_roots

# A key every mbedTLS line parses (the P-256 generator point as a SubjectPublicKeyInfo),
# for bundles whose keys are not what a test is about: an empty or junk key is a root
# inspect reports as unparseable.
P256_KEY = bytes.fromhex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)


def v2_bundle(entries: list[tuple[bytes, bytes]]) -> bytes:
    """An ESP-IDF v2 bundle of (DER name, key) entries, in the order given."""
    return pack_roots([BundleRoot(name, key) for name, key in entries], "v2")


def cn(text: str) -> bytes:
    """A DER Name holding one commonName (UTF8String)."""
    value = text.encode()
    atv = b"\x30" + bytes([7 + len(value)]) + b"\x06\x03\x55\x04\x03\x0c" + bytes([len(value)])
    rdn = b"\x31" + bytes([len(atv) + len(value)]) + atv + value
    return b"\x30" + bytes([len(rdn)]) + rdn
