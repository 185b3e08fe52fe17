"""ESP-IDF bundles made by hand, for tests and benchmarks that need ones the tool would
never build (thousands of tiny roots, names that are no DER, repeats): the layout is
the tool's own (:func:`esp_cabundle.formats.idf_bundle.pack_roots`)."""

from __future__ import annotations

from esp_cabundle.formats.idf_bundle import BundleRoot, pack_roots


def v2_bundle(entries: list[tuple[bytes, bytes]]) -> bytes:
    """An ESP-IDF v2 bundle of (DER name, key) entries, in the order given."""
    return pack_roots([BundleRoot(name, key) for name, key in entries], "v2")


def cn(text: str) -> bytes:
    """A DER Name holding one commonName (UTF8String)."""
    value = text.encode()
    atv = b"\x30" + bytes([7 + len(value)]) + b"\x06\x03\x55\x04\x03\x0c" + bytes([len(value)])
    rdn = b"\x31" + bytes([len(atv) + len(value)]) + atv + value
    return b"\x30" + bytes([len(rdn)]) + rdn
