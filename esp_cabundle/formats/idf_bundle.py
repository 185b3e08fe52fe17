"""ESP-IDF's certificate bundle (``x509_crt_bundle``): writer, reader and format choice.

A bundle keeps per root only the DER subject and the DER SubjectPublicKeyInfo, sorted by
subject bytes so the device can binary-search the issuer of the server's top
certificate. It holds no dates: an expired root still anchors. Two incompatible layouts
exist (both made here byte for byte as ESP-IDF's gen_crt_bundle.py makes them):

* ``v1`` — ESP-IDF 4.x to 5.3, Arduino-ESP32 2.x (and 3.0/3.1): big-endian u16 count, then
  per root big-endian u16 name length, u16 key length, name, key.
* ``v2`` — ESP-IDF 5.4 and later (commit d8e31eb6d01), Arduino-ESP32 3.2 and later: a
  table of little-endian u32 offsets (count = first offset / 4), then per root
  little-endian u16 name length, u16 key length, name, key.

A device given the other layout rejects the bundle at init, and every TLS connection
that relies on it fails, so the layout follows the target's ESP-IDF version.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..certs import Certificate
from ..errors import ImageError, InputError
from ..limits import MAX_IDF_BUNDLE_ROOTS
from ..pubkeys import der_tlv, describe_key, spki_algorithm
from ..spelling import PYTHON, Spelling
from ..text import byte_count, plural
from .idf_versions import BundleFormat, bundle_format_for, idf_version_warning

if TYPE_CHECKING:
    from cryptography import x509


__all__ = [
    "BUNDLE_FORMATS",
    "DAMAGED_BUNDLE_HINT",
    "DEFAULT_BUNDLE_FORMAT",
    "DEFAULT_MAX_CERTS",
    "BundleFormat",
    "BundleRoot",
    "IdfBundle",
    "bundle_format_for",
    "check_bundle_option",
    "choose_bundle_format",
    "detect_bundle_format",
    "diagnose_bundle",
    "idf_version_warning",
    "pack_roots",
    "parse_idf_bundle",
    "parse_subject",
    "read_idf_bundle",
    "render_bundle_output",
    "render_idf_bundle",
    "starts_like_bundle",
]

BUNDLE_FORMATS: tuple[BundleFormat, ...] = ("v1", "v2")

FORMAT_DESCRIPTIONS: dict[str, str] = {
    "v1": "v1 (ESP-IDF 4.x-5.3, Arduino-ESP32 2.x-3.1)",
    "v2": "v2 (ESP-IDF 5.4+, Arduino-ESP32 3.2+)",
}

# CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS default; esp_crt_bundle_init refuses more,
# and gen_crt_bundle.py --max-certs defaults to the same value.
DEFAULT_MAX_CERTS = 200


@dataclass(frozen=True, slots=True)
class BundleRoot:
    """One entry: what the device stores about a root (no dates, no fingerprint)."""

    subject_der: bytes
    spki_der: bytes

    @classmethod
    def from_certificate(cls, cert: Certificate) -> BundleRoot:
        return cls(cert.subject_der, cert.spki_der)

    def subject(self) -> str:
        """RFC 4514 subject; raises ImageError when the stored name is not DER."""
        return parse_subject(self.subject_der)[0]

    def label(self) -> str:
        return parse_subject(self.subject_der)[1]

    def key_description(self) -> str:
        """``RSA 4096``, ``EC P-384`` — or a note when the key does not parse."""
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        try:
            key = load_der_public_key(self.spki_der)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return f"unreadable key ({spki_algorithm(self.spki_der)})"
        kind, size, curve = describe_key(key)
        return f"{kind} {curve}" if curve else f"{kind} {size}"


@dataclass(frozen=True, slots=True)
class IdfBundle:
    """A parsed bundle: its layout and its roots in stored order."""

    format: BundleFormat
    roots: tuple[BundleRoot, ...]
    size: int

    @property
    def is_sorted(self) -> bool:
        """The device binary-searches with memcmp; an unsorted bundle misses issuers."""
        names = [r.subject_der for r in self.roots]
        return names == sorted(names)

    def duplicate_subjects(self) -> list[bytes]:
        """Subjects stored more than once with different keys (only one is found)."""
        # A first key per subject, not a set of keys: 400,000 sets took 86 MB.
        first: dict[bytes, bytes] = {}
        twice: set[bytes] = set()
        for r in self.roots:
            if first.setdefault(r.subject_der, r.spki_der) != r.spki_der:
                twice.add(r.subject_der)
        return [s for s in first if s in twice]


def _sorted_roots(certs: Iterable[Certificate]) -> list[BundleRoot]:
    # gen_crt_bundle.py: every certificate, stable-sorted by DER subject. Repeated
    # (subject, key) pairs are kept (a root next to its cross-sign, or the same root
    # twice): they count towards the 200 and move where the device's binary search lands.
    return sorted((BundleRoot.from_certificate(c) for c in certs), key=lambda r: r.subject_der)


def render_idf_bundle(
    certs: Iterable[Certificate],
    *,
    bundle_format: BundleFormat,
    max_certs: int | None = DEFAULT_MAX_CERTS,
    spelling: Spelling = PYTHON,
) -> bytes:
    """The bundle bytes ESP-IDF's gen_crt_bundle.py makes from the same certificates.

    Raises InputError when there is no root, or more than ``max_certs`` (the device's
    ``CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS``; None lifts the check).
    """
    if bundle_format not in BUNDLE_FORMATS:
        raise InputError(f"unknown bundle format '{bundle_format}'", hint="bundle formats: v1, v2")
    certs = tuple(certs)
    for c in certs:
        _refuse_unstorable(c)
    roots = _sorted_roots(certs)
    if not roots:
        raise InputError("an ESP-IDF bundle needs at least one root")
    if max_certs is not None and len(roots) > max_certs:
        raise InputError(
            f"{len(roots)} roots exceed the ESP-IDF bundle maximum of {max_certs}; "
            "the device refuses the whole bundle",
            hint=f"select fewer roots, or raise the limit ({spelling.max_certs}) to "
            "match CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS",
        )
    too_many = _over_the_cap(len(roots), bundle_format)
    if too_many:
        raise InputError(too_many.replace(" lists", " would list", 1))
    return pack_roots(roots, bundle_format)


def _refuse_unstorable(cert: Certificate) -> None:
    """A root whose subject or key is over 65535 bytes, named (label and fingerprint):
    the bundle stores each length in 16 bits, so no ESP-IDF bundle can hold it."""
    for part, der in (("subject", cert.subject_der), ("key", cert.spki_der)):
        if len(der) > 0xFFFF:
            label = cert.label or cert.subject
            label = label if len(label) <= 80 else label[:77] + "..."  # a 64 KiB CN
            raise InputError(
                f"root {label!r} (sha256 {cert.sha256}): its {part} "
                f"is {len(der):,} bytes, over the 65,535 an ESP-IDF bundle stores a "
                f"{part} in",
                hint="exclude it by that fingerprint (--exclude, or exclude: in "
                "cabundle.yaml); no ESP-IDF bundle can hold it",
            )


def pack_roots(roots: Sequence[BundleRoot], bundle_format: BundleFormat) -> bytes:
    """``roots`` in ``bundle_format``'s layout, in the order given: the bytes alone,
    with only the layout's own limits (field sizes). :func:`render_idf_bundle` sorts
    and counts them as the device needs; a test or benchmark making a bundle the device
    would refuse calls this."""
    for r in roots:
        if len(r.subject_der) > 0xFFFF or len(r.spki_der) > 0xFFFF:
            raise InputError("a root's subject or key exceeds 65535 bytes")
    if bundle_format == "v1":
        if len(roots) > 0xFFFF:
            raise InputError("a v1 bundle holds at most 65535 roots")
        out = [struct.pack(">H", len(roots))]
        for r in roots:
            out += [struct.pack(">HH", len(r.subject_der), len(r.spki_der)), r.subject_der]
            out.append(r.spki_der)
        return b"".join(out)
    body: list[bytes] = []
    offsets: list[int] = []
    pos = 4 * len(roots)
    for r in roots:
        offsets.append(pos)
        entry = struct.pack("<HH", len(r.subject_der), len(r.spki_der)) + r.subject_der + r.spki_der
        body.append(entry)
        pos += len(entry)
    if pos > 0xFFFFFFFF:
        raise InputError("bundle larger than 4 GiB")
    return struct.pack(f"<{len(roots)}L", *offsets) + b"".join(body)


def _root_at(data: bytes, pos: int, i: int, fmt: BundleFormat) -> tuple[BundleRoot, int]:
    """Root ``i`` (from 0) of a ``fmt`` bundle at byte ``pos`` (u16 name length, u16 key
    length, name, key; big-endian in v1, little-endian in v2), and the byte after it.
    Messages number roots from #1, as inspect and check list them."""
    if pos + 4 > len(data):
        raise ImageError(f"{fmt} bundle: root #{i + 1} header at byte {pos} is past the end")
    name_len, key_len = struct.unpack_from(">HH" if fmt == "v1" else "<HH", data, pos)
    end = pos + 4 + name_len + key_len
    if end > len(data):
        raise ImageError(f"{fmt} bundle: root #{i + 1} at byte {pos} runs past the end")
    return BundleRoot(data[pos + 4 : pos + 4 + name_len], data[pos + 4 + name_len : end]), end


def _over_the_cap(count: int, fmt: BundleFormat) -> str | None:
    if count <= MAX_IDF_BUNDLE_ROOTS:
        return None
    return (
        f"{fmt} bundle lists {count:,} roots, over the {MAX_IDF_BUNDLE_ROOTS:,} an ESP-IDF "
        f"bundle may hold here (ESP-IDF takes {DEFAULT_MAX_CERTS} unless "
        "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS is raised)"
    )


def _walk_v1(data: bytes) -> list[BundleRoot]:
    if len(data) < 2:
        raise ImageError("too short for a v1 bundle (no count)")
    (count,) = struct.unpack_from(">H", data, 0)
    too_many = _over_the_cap(count, "v1")
    if too_many:
        raise ImageError(too_many)
    pos = 2
    roots = []
    for i in range(count):
        root, pos = _root_at(data, pos, i, "v1")
        roots.append(root)
    if pos != len(data):
        trailing = len(data) - pos
        raise ImageError(f"v1 bundle: {trailing} trailing bytes after {plural(count, 'root')}")
    return roots


def _walk_v2(data: bytes) -> list[BundleRoot]:
    # The checks of esp_crt_check_bundle(), plus: the last entry ends the data.
    if len(data) < 4:
        raise ImageError("too short for a v2 bundle (no offset table)")
    (first,) = struct.unpack_from("<L", data, 0)
    if first == 0 or first % 4 or first >= len(data):
        raise ImageError(f"v2 bundle: first offset {first:#x} is not a valid table size")
    count = first // 4
    too_many = _over_the_cap(count, "v2")
    if too_many:
        raise ImageError(too_many)
    offsets = struct.unpack_from(f"<{count}L", data, 0)
    roots = []
    for i, off in enumerate(offsets):
        root, end = _root_at(data, off, i, "v2")
        expected_next = offsets[i + 1] if i + 1 < count else len(data)
        if end != expected_next:
            raise ImageError(
                f"v2 bundle: root #{i + 1} ends at byte {end}, "
                f"but the next starts at {expected_next}"
            )
        roots.append(root)
    return roots


def read_idf_bundle(data: bytes) -> IdfBundle | None:
    """The bundle when ``data`` is exactly a well-formed one (either layout), else None:
    one walk over the roots, where detecting then parsing would take two."""
    for fmt, walk in (("v2", _walk_v2), ("v1", _walk_v1)):
        try:
            roots = walk(data)
        except ImageError:
            continue
        if roots and all(_looks_like_name(r.subject_der) for r in roots):
            return IdfBundle(fmt, tuple(roots), len(data))  # type: ignore[arg-type]
    return None


def detect_bundle_format(data: bytes) -> BundleFormat | None:
    """``v1``/``v2`` when ``data`` is exactly a well-formed bundle of that layout, else None."""
    bundle = read_idf_bundle(data)
    return bundle.format if bundle is not None else None


def starts_like_bundle(data: bytes, *, roots: int = 16) -> BundleFormat | None:
    """The layout ``data`` starts as: its first ``roots`` entries where that layout puts
    them, each a DER name. Not a whole walk: enough to refuse a bundle over the size cap
    (256 MiB would be 27 million roots) before reading it."""
    for fmt in BUNDLE_FORMATS[::-1]:  # v2 first, as the walks try them
        try:
            if _starts_as(data, fmt, roots):
                return fmt
        except (ImageError, struct.error):
            continue
    return None


def _starts_as(data: bytes, fmt: BundleFormat, roots: int) -> bool:
    if fmt == "v2":
        (first,) = struct.unpack_from("<L", data, 0)
        if first == 0 or first % 4 or first >= len(data):
            return False
        offsets = struct.unpack_from(f"<{min(first // 4, roots)}L", data, 0)
        for i, off in enumerate(offsets):
            root, end = _root_at(data, off, i, fmt)
            if not _looks_like_name(root.subject_der):
                return False
            if i + 1 < len(offsets) and end != offsets[i + 1]:
                return False
        return True
    count: int = struct.unpack_from(">H", data, 0)[0]
    pos = 2
    for i in range(min(count, roots)):
        root, pos = _root_at(data, pos, i, fmt)
        if not _looks_like_name(root.subject_der):
            return False
    return count > 0


# What to do about a bundle diagnose_bundle finds damaged, wherever it is read.
DAMAGED_BUNDLE_HINT = "rebuild it (esp-cabundle build -f idf-bundle) or copy it again"


def diagnose_bundle(data: bytes) -> str | None:
    """Why ``data``, which starts like an ESP-IDF bundle (its first root is a DER name
    where a layout puts it), is not a whole one: cut short, padded, damaged, too large,
    or with an entry whose name is none, with the counts. None when it does not start
    like a bundle, or is a whole one."""
    for fmt, walk in (("v2", _walk_v2), ("v1", _walk_v1)):
        if len(data) < 8:
            return None
        if fmt == "v2":
            (first,) = struct.unpack_from("<L", data, 0)
            start, declared = first, first // 4
            if first == 0 or first % 4 or first >= len(data):
                continue
        else:
            start, declared = 2, struct.unpack_from(">H", data, 0)[0]
        try:
            root, _ = _root_at(data, start, 0, fmt)  # type: ignore[arg-type]
        except ImageError:
            continue
        if not _looks_like_name(root.subject_der):
            continue
        too_many = _over_the_cap(declared, fmt)  # type: ignore[arg-type]
        if too_many:
            return f"an ESP-IDF certificate bundle ({fmt}) too large to read: {too_many}"
        try:
            roots = walk(data)
        except ImageError as e:
            return (
                f"an ESP-IDF certificate bundle ({fmt}) that is cut short, padded or damaged: "
                f"it lists {plural(declared, 'root')} in {byte_count(len(data))}; {e.message}"
            )
        unnamed = [i for i, r in enumerate(roots) if not _looks_like_name(r.subject_der)]
        if unnamed:  # whole, but an entry no gen_crt_bundle.py writes (an empty name ...)
            return (
                f"an ESP-IDF certificate bundle ({fmt}) with {plural(len(unnamed), 'root')} "
                f"of {len(roots)} whose stored name is no DER name (first: root #{unnamed[0] + 1}, "
                f"{byte_count(len(roots[unnamed[0]].subject_der))})"
            )
    return None


def parse_idf_bundle(
    data: bytes, *, bundle_format: BundleFormat | None = None, source: str = "bundle"
) -> IdfBundle:
    """Read a bundle (layout auto-detected unless given); ImageError when malformed."""
    if bundle_format is None:
        found = read_idf_bundle(data)  # one walk: the bundle itself, when it reads
        if found is not None:
            return found
        errors = []
        for name, walk in (("v2", _walk_v2), ("v1", _walk_v1)):
            try:
                walk(data)
                errors.append(f"{name}: entries are not DER names")
            except ImageError as e:
                errors.append(e.message)
        raise ImageError(f"{source}: not an ESP-IDF certificate bundle ({'; '.join(errors)})")
    walk = _walk_v1 if bundle_format == "v1" else _walk_v2
    try:
        roots = walk(data)
    except ImageError as e:
        raise ImageError(f"{source}: {e.message}") from e
    return IdfBundle(bundle_format, tuple(roots), len(data))


def _looks_like_name(der: bytes) -> bool:
    """A DER SEQUENCE whose length covers exactly the stored bytes."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    first = der[1]
    if first < 0x80:
        return 2 + first == len(der)
    n = first & 0x7F
    if n == 0 or n > 2 or len(der) < 2 + n:
        return False
    return 2 + n + int.from_bytes(der[2 : 2 + n], "big") == len(der)


# sha256WithRSAEncryption, NULL parameters: any known algorithm will do, nothing is signed.
_DUMMY_ALG = der_tlv(0x30, der_tlv(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")


# A valid SubjectPublicKeyInfo (the P-256 generator point) to complete the wrapper below.
_PLACEHOLDER_SPKI = bytes.fromhex(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)


def _load_der_name(der: bytes) -> x509.Name:
    """cryptography has no loader for a bare DER Name; a certification request is
    (version, subject, SubjectPublicKeyInfo, attributes), so wrap the stored name in an
    unsigned one and let cryptography parse it (nothing is verified)."""
    from cryptography import x509

    info = der_tlv(0x30, b"\x02\x01\x00" + der + _PLACEHOLDER_SPKI + b"\xa0\x00")
    return x509.load_der_x509_csr(der_tlv(0x30, info + _DUMMY_ALG + b"\x03\x01\x00")).subject


def parse_subject(der: bytes) -> tuple[str, str]:
    """(RFC 4514 subject, short label) of a stored DER name; ImageError if it is not one."""
    from cryptography.x509.oid import NameOID

    if not _looks_like_name(der):
        raise ImageError("stored subject is not a DER SEQUENCE")
    try:
        name = _load_der_name(der)
        text = name.rfc4514_string()
    except (ValueError, TypeError) as e:
        raise ImageError(f"stored subject is not a DER name ({e})") from e
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            v = attrs[0].value
            return text, v if isinstance(v, str) else v.decode("utf-8", "replace")
    return text, text or "(empty name)"


# ---------------------------------------------------------------------------------------
# Format choice for outputs and boards

# What `build -f idf-bundle` writes when neither a version nor a layout is given: the
# layout of every ESP-IDF release since 5.4 (and Arduino-ESP32 3.2+).
DEFAULT_BUNDLE_FORMAT: BundleFormat = "v2"


def choose_bundle_format(
    *,
    idf_version: str | None = None,
    bundle_format: str | None = None,
    spelling: Spelling = PYTHON,
) -> BundleFormat:
    """The layout from an explicit ``bundle_format`` and/or an ``idf_version``; they must
    agree when both are given. Neither: :data:`DEFAULT_BUNDLE_FORMAT`."""
    by_version = bundle_format_for(str(idf_version), spelling) if idf_version is not None else None
    if bundle_format is not None:
        if bundle_format not in BUNDLE_FORMATS:
            raise InputError(
                f"unknown bundle format '{bundle_format}'", hint="bundle formats: v1, v2"
            )
        if by_version is not None and by_version != bundle_format:
            raise InputError(
                f"bundle format {bundle_format} contradicts ESP-IDF {idf_version}, which "
                f"reads {FORMAT_DESCRIPTIONS[by_version]}",
                hint="give only one of idf_version / bundle_format",
            )
        return bundle_format
    return by_version or DEFAULT_BUNDLE_FORMAT


def check_bundle_option(
    key: str, value: object, options: Mapping[str, object], spelling: Spelling = PYTHON
) -> None:
    """One option of the ``idf-bundle`` output as a config gives it (``bundle_format``
    judged with its ``idf_version``); InputError otherwise."""
    if key == "idf_version":
        if isinstance(value, float):  # YAML reads 5.4 as a number, and 5.10 as 5.1
            raise InputError(
                f"write the version as text: '{value}' (quoted), not the number {value}",
                hint=f"idf_version: '{value}'",
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InputError(f"expected a version such as '5.4', got {value!r}")
        bundle_format_for(str(value), spelling)
    elif key == "bundle_format":
        version = options.get("idf_version")
        valid = isinstance(version, str | int) and not isinstance(version, bool)
        choose_bundle_format(
            idf_version=str(version) if valid else None,
            bundle_format=value if isinstance(value, str) else repr(value),
            spelling=spelling,
        )
    elif key == "max_certs" and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise InputError(f"max_certs must be a positive number, got {value!r}")


def render_bundle_output(
    certs: Iterable[Certificate],
    *,
    idf_version: str | None = None,
    bundle_format: str | None = None,
    max_certs: int | None = DEFAULT_MAX_CERTS,
    spelling: Spelling = PYTHON,
) -> bytes:
    """The ``idf-bundle`` output format: layout chosen by :func:`choose_bundle_format`."""
    if max_certs is not None:
        check_bundle_option("max_certs", max_certs, {})
    fmt = choose_bundle_format(
        idf_version=idf_version, bundle_format=bundle_format, spelling=spelling
    )
    return render_idf_bundle(certs, bundle_format=fmt, max_certs=max_certs, spelling=spelling)
