"""Telling SPIFFS from other bytes by its blocks' magic (spiffs_nucleus.h, SPIFFS_MAGIC),
and the partition size a SPIFFS image cut short was made for."""

from __future__ import annotations

from .spiffs_layout import MAGIC_BASE, SPIFFS_PROFILES, U16, Geometry, SpiffsProfile

__all__ = [
    "MIN_BLOCKS",
    "cut_from",
    "cut_short_words",
    "magic_profiles",
    "probe_spiffs",
    "size_hint",
    "unique_profiles",
]

MIN_BLOCKS = 3  # SPIFFS keeps two free blocks for garbage collection


def unique_profiles() -> list[SpiffsProfile]:
    """The registered profiles, each once (several names share one)."""
    seen: list[SpiffsProfile] = []
    for p in SPIFFS_PROFILES.values():
        if p not in seen:
            seen.append(p)
    return seen


def _magic_matches(data: bytes | bytearray | memoryview, geo: Geometry) -> bool:
    """SPIFFS's mount check: every block's magic right, but one (an aborted erase)."""
    bad = 0
    for b in range(geo.block_count):
        if U16.unpack_from(data, geo.magic_addr(b))[0] != geo.magic(b):
            bad += 1
            if bad > 1:
                return False
    return True


def magic_profiles(data: bytes | bytearray | memoryview) -> list[SpiffsProfile]:
    """Registered profiles whose SPIFFS magic the bytes carry (cheap: stops at 2 bad blocks)."""
    found = []
    for prof in unique_profiles():
        bs = prof.block_size
        if not prof.use_magic or len(data) % bs or len(data) // bs < MIN_BLOCKS:
            continue
        geo = Geometry.of(prof, len(data))
        # at most one block may lack its magic, so blocks 0 and 1 decide quickly
        if not any(U16.unpack_from(data, geo.magic_addr(b))[0] == geo.magic(b) for b in (0, 1)):
            continue
        if _magic_matches(data, geo):
            found.append(prof)
    return found


def probe_spiffs(data: bytes | bytearray | memoryview) -> SpiffsProfile | None:
    """The registered profile whose SPIFFS magic the bytes carry, or None. Cheap."""
    found = magic_profiles(data)
    return found[0] if found else None


def cut_from(data: bytes | bytearray | memoryview) -> tuple[SpiffsProfile, int] | None:
    """With magic-length, block 0's magic gives the partition size the image was made for:
    (profile name, size) when that is not ``len(data)`` and the blocks present carry that
    size's magic, at least two and all but one (block 0 of random bytes gives a size 1
    time in 16, and of 0x00 0x01 repeated, one always); else None."""
    for prof in unique_profiles():
        if prof.use_magic and prof.use_magic_len and len(data) >= prof.block_size:
            geo = Geometry.of(prof, prof.block_size)
            stored = U16.unpack_from(data, geo.magic_addr(0))[0]
            blocks = stored ^ ((MAGIC_BASE ^ prof.page_size) & 0xFFFF)
            if not MIN_BLOCKS <= blocks < 0x1000 or blocks * prof.block_size == len(data):
                continue
            whole = Geometry.of(prof, blocks * prof.block_size)
            present = min(blocks, len(data) // prof.block_size)
            magic = [U16.unpack_from(data, whole.magic_addr(b))[0] for b in range(present)]
            right = sum(m == whole.magic(b) for b, m in enumerate(magic))
            if right >= 2 and right >= present - 1:
                return prof, blocks * prof.block_size
    return None


def cut_short_words(
    data: bytes | bytearray | memoryview, profile: str | None = None
) -> tuple[str, str] | None:
    """For a SPIFFS image cut short (:func:`cut_from`) of ``profile`` (a name; None: any):
    the message and hint that say so, one wording for every command that reads it (fs
    ls, inspect)."""
    cut = cut_from(data)
    if cut is None or (profile is not None and SPIFFS_PROFILES.get(profile) is not cut[0]):
        return None
    prof, size = cut
    return (
        f"only part of a SPIFFS: {len(data):,} bytes, where its first block carries the "
        f"{prof.name} magic of a {size:,}-byte SPIFFS",
        f"pass exactly {size:,} bytes (the whole partition)",
    )


def size_hint(data: bytes | bytearray | memoryview) -> str | None:
    """The partition size a SPIFFS image cut short was made for (:func:`cut_from`), as
    advice, or None."""
    cut = cut_from(data)
    if cut is None:
        return None
    prof, size = cut
    return (
        f"its first block carries the {prof.name} magic of a {size:,}-byte SPIFFS; pass exactly "
        "that many bytes (the whole partition)"
    )
