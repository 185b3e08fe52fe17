"""Replacing one SPIFFS file by whole-block writes that can be cut after any of them.

A host (esptool) writes a 4 KiB SPIFFS block at a time, erase then program. SPIFFS's own
way of replacing a file (truncate, then append under the same object id) is not safe at
that grain: between the block that deletes the old index header and the one holding the
new header the partition holds no file or two, and the old and the new index pages of the
same object and span are both live. So the bytes are planned differently, as a
transaction with one commit block:

1. the new content becomes a new object (a free object id, the old file's name and meta
   bytes) written into free pages, header included, exactly as SPIFFS would create it;
2. the old object is deleted as ``SPIFFS_fremove`` would;
3. the new index header is then moved into the slot of the old header, whose block
   becomes the commit: written last but for the blocks that only mark the old object's
   pages deleted.

Blocks are written in three phases: every block that gains pages of the new object (its
other pages untouched: the new pages are orphans no header refers to, which SPIFFS
ignores and its garbage collection removes); the commit block (old header gone, new
header in its place: the file switches from old to new in one block); the blocks that
mark the old pages deleted (orphans by then). The new pages are kept out of blocks that
hold the old file, so each block is written once. Every state in between mounts with the
old or the new file whole and every other file untouched; the planner re-opens each one
to prove it.

The transaction needs room for the new file while the old one still exists, and no
garbage collection (which moves other files' pages). When that is not there, the edit
is the one SPIFFS on the unit would make (:meth:`SpiffsImage.write`), ordered new pages
first; ``power_safe`` is then False and the journal is the safeguard.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..blocks import FlashCache, Overlay, is_erased
from ..errors import ImageError
from ..text import plural
from .base import FileInfo, normalize_path
from .inplace import NOTHING_TO_WRITE, FileReplacement, PartitionEdit
from .spiffs import SpiffsImage, get_spiffs_profile
from .spiffs_engine import FileRecord, SpiffsCorrupt, SpiffsFull, SpiffsVolume
from .spiffs_layout import (
    FLAG_DELET,
    FLAG_USED,
    OBJ_ID_DELETED,
    OBJ_ID_FREE,
    U16,
    Geometry,
    SpiffsProfile,
)
from .spiffs_region import read_spiffs_region
from .spiffs_trials import BrokenFiles
from .verify import Expected, mount_problems

__all__ = [
    "SpiffsEdit",
    "SpiffsReplace",
    "SpiffsStep",
    "plan_spiffs_replace",
    "read_spiffs_region",
]

# A lookup value no search matches (not free, not deleted, no index flag): hides a free
# page from the allocator while the new object is written.
_RESERVED = 0x7FFE


@dataclass(frozen=True, slots=True)
class SpiffsStep:
    """One whole-block write: block index, its 4 KiB content, and why it comes there."""

    block: int
    content: bytes
    role: str


@dataclass(frozen=True, slots=True)
class SpiffsReplace:
    """The edited image and the block writes that lead to it, in order."""

    image: bytes
    steps: tuple[SpiffsStep, ...]
    power_safe: bool
    order: str
    unsafe_cuts: int = 0  # points between two steps where a cut may leave it unmountable


def plan_spiffs_replace(
    data: bytes, profile: SpiffsProfile | str, path: str, content: bytes
) -> SpiffsReplace:
    """Plan writing ``content`` to ``path`` in the SPIFFS image ``data``.

    Refuses (ImageError, as :meth:`SpiffsImage.write`) what SPIFFS on the unit could not
    write: the unit's own write path decides what fits. Otherwise returns the power-safe
    transaction described in the module docstring, or, where it does not apply, the
    unit's own edit.
    """
    prof = get_spiffs_profile(profile)
    device = SpiffsImage.open(data, prof)
    device.write(path, content)  # ImageError when the unit could not write it
    safe = _transaction(data, prof, path, content)
    if safe is not None:
        return safe
    dropped = _drop_then_write(data, prof, path, content)
    if dropped is not None:
        return dropped
    image = device.to_bytes()
    return SpiffsReplace(
        image,
        tuple(_fill_first(data, image, prof.block_size)),
        power_safe=False,
        order=(
            "as SPIFFS on the unit writes it: new pages first, the blocks SPIFFS rewrites "
            "or erases after; a cut in between is finished from the journal"
        ),
    )


def _transaction(
    data: bytes, prof: SpiffsProfile, path: str, content: bytes
) -> SpiffsReplace | None:
    old = SpiffsImage.open(data, prof)
    geo = Geometry.of(prof, len(data))
    target = normalize_path(path)
    before = {f.path: old.read(f.path) for f in old.files()}
    record: FileRecord | None = old._files.get(target)
    vol = SpiffsVolume(bytearray(data), geo)
    vol.mount()
    if vol.unerased is not None:
        return None  # SPIFFS's mount would erase a block first: not ours to order
    name = record.name if record is not None else prof.stored_name(target).encode()
    meta = record.meta if record is not None else bytes([prof.meta_fill]) * prof.meta_len
    # the new pages stay out of blocks holding the old file's pages, so that no block has
    # to be written twice (once with new pages, once with the old ones deleted)
    held = set()
    if record is not None:
        ppb = geo.pages_per_block
        held = {pix // ppb for pix in (*record.index_pixes, *record.data_pixes)}
    masked = [
        e
        for b in held
        for e in range(b * geo.entries_per_block, (b + 1) * geo.entries_per_block)
        if vol.lu[e] == OBJ_ID_FREE
    ]
    for e in masked:
        vol.poke_lu(e, _RESERVED)
    try:
        new_hdr = vol.create_file(name, content, meta)
        for e in masked:
            vol.poke_lu(e, OBJ_ID_FREE)
        if vol.gc_runs or vol.erased:
            return None
        if record is not None:
            vol.remove_object(record.hdr_pix)
            _move_page(vol, new_hdr, record.hdr_pix)
            new_hdr = record.hdr_pix
    except (SpiffsFull, SpiffsCorrupt):
        return None
    image = bytes(vol.buf)
    steps = _phases(data, image, geo, new_hdr)
    if steps is None or not _every_state_holds(data, steps, prof, target, content, before):
        return None
    return SpiffsReplace(
        image,
        tuple(steps),
        power_safe=True,
        order=(
            "new object's pages first (orphans until committed), then the block that swaps "
            "the old index header for the new one, then the old pages marked deleted: a cut "
            "after any block leaves the old or the new file whole"
        ),
    )


def _drop_then_write(
    data: bytes, prof: SpiffsProfile, path: str, content: bytes
) -> SpiffsReplace | None:
    """Where the new file only fits after garbage collection (which the old file's pages
    must feed): remove the old file first (its index header's block first), then write
    the new one as the unit would, each block chosen so that the partition keeps
    mounting with every other file intact. The window where a cut leaves no CA file is
    from the old header's block to the new header's."""
    old = SpiffsImage.open(data, prof)
    geo = Geometry.of(prof, len(data))
    target = normalize_path(path)
    record = old._files.get(target)
    before = {f.path: old.read(f.path) for f in old.files()}
    vol = SpiffsVolume(bytearray(data), geo)
    vol.mount()
    name = record.name if record is not None else prof.stored_name(target).encode()
    meta = record.meta if record is not None else bytes([prof.meta_fill]) * prof.meta_len
    try:
        if record is not None:
            vol.remove_object(record.hdr_pix)
        vol.create_file(name, content, meta, prof.write_chunk or None)
    except (SpiffsFull, SpiffsCorrupt):
        return None
    image = bytes(vol.buf)
    bs = prof.block_size
    todo = _fill_first(data, image, bs)
    if record is not None:
        # new pages that leave the old file alone first, then the block that drops the
        # old header (the rest of the old file left as orphans until rewritten), then
        # the others; each block once, with its final content
        head = record.hdr_pix // geo.pages_per_block
        removal = SpiffsStep(head, _block(image, head, bs), "old file removed")
        fills = [s for s in todo if s.role == "new pages" and s.block != head]
        rest = [s for s in todo if s not in fills and s.block != head]
        todo = [*fills, removal, *rest]
    others = {p: d for p, d in before.items() if p != target}
    allowed = (before.get(target), None, content)
    ordered, broken = _greedy(data, todo, prof, target, allowed, others)
    steps = _merge(ordered, bs, data)
    # the last write leaves the planned image: len(steps) - 1 points a cut can fall on
    unsafe = min(broken, max(len(steps) - 1, 0))
    return SpiffsReplace(
        image,
        tuple(steps),
        power_safe=False,
        order=_gc_order(broken, len(steps)),
        unsafe_cuts=unsafe,
    )


def _gc_order(broken: int, total: int) -> str:
    """The garbage-collected plan's order, saying how many cut points do not mount: on a
    nearly full partition the blocks garbage collection moves pages between cannot all be
    ordered (written first, a page is live twice; last, it is lost), and the plan must
    not claim what it does not keep."""
    head = (
        "room only after garbage collection: the old file is removed first, then the new "
        "one written as the unit would"
    )
    if not broken:
        return (
            f"{head}, every other file intact throughout; a cut between the two leaves no "
            "CA file until the rerun finishes from the journal"
        )
    # A count of cut points, not a position: "after 13 of its 17 sector writes" read as
    # "from the 13th write on" where the 3rd to the 15th were the ones.
    if broken >= total - 1:
        which = f"a cut between any two of its {total} sector writes leaves"
    else:
        which = (
            f"{broken} of the {plural(total - 1, 'point')} between its {total} sector "
            "writes, if cut there, leave"
        )
    return (
        f"{head}; {which} a partition that may not mount (pages garbage collection moves "
        "are live twice, or not yet written where it moves them): keep the unit in its "
        "bootloader until the rerun finishes it from the journal, or restore puts the old "
        "CA file back"
    )


def _greedy(
    state: bytes,
    todo: list[SpiffsStep],
    prof: SpiffsProfile,
    target: str,
    allowed: tuple[bytes | None, ...],
    others: dict[str, bytes],
) -> tuple[list[SpiffsStep], int]:
    """Each time, the first remaining step whose write keeps the partition mounting with
    every other file intact and the target one of ``allowed``; where none does, the
    first remaining one, counted (the second value: writes after which a cut leaves a
    partition that does not hold). A trial that leaves a file of the state so far broken
    is refused without mounting it (:mod:`.spiffs_trials`: the same picks, without the
    quadratic cost of mounting every trial)."""
    bs = prof.block_size
    geo = Geometry.of(prof, len(state))
    expected = _expected(target, allowed, others)
    todo = list(todo)
    cur = bytearray(state)
    out: list[SpiffsStep] = []
    broken = BrokenFiles(state, geo)
    not_held = 0
    while todo:
        pick = None
        for i, step in enumerate(todo):
            if broken.still_broken(step.block, step.content):
                continue
            trial = bytearray(cur)
            trial[step.block * bs : (step.block + 1) * bs] = step.content
            if _holds(bytes(trial), prof, expected):
                pick = i
                break
        step = todo.pop(pick or 0)
        # the last write leaves the planned image, which holds (no cut point after it)
        if pick is None and todo and _block(bytes(cur), step.block, bs) != step.content:
            not_held += 1
        cur[step.block * bs : (step.block + 1) * bs] = step.content
        broken.advance(step.block, step.content)
        out.append(step)
    return out, not_held


def _merge(steps: list[SpiffsStep], bs: int, data: bytes) -> list[SpiffsStep]:
    """Drop writes that change nothing."""
    state = bytearray(data)
    out = []
    for step in steps:
        if bytes(state[step.block * bs : (step.block + 1) * bs]) != step.content:
            out.append(step)
            state[step.block * bs : (step.block + 1) * bs] = step.content
    return out


def _expected(target: str, allowed: tuple[bytes | None, ...], others: dict[str, bytes]) -> Expected:
    """``target`` holds one of ``allowed``, every other file is as it was and nothing
    else appeared (built once: a partition can hold thousands of files)."""
    return Expected(
        path=target,
        allowed=allowed,
        others=[FileInfo(path, len(data)) for path, data in others.items()],
        contents=others.__getitem__,
    )


def _holds(state: bytes, prof: SpiffsProfile, expected: Expected) -> bool:
    """The state mounts and holds what ``expected`` says."""
    return not mount_problems(lambda: SpiffsImage.open(state, prof), expected)


def _move_page(vol: SpiffsVolume, src: int, dst: int) -> None:
    """Put page ``src`` (a live index header) into slot ``dst`` (a deleted page), and
    mark ``src`` deleted: bytes SPIFFS cannot program in place, so the block holding
    ``dst`` is rewritten whole (erase + program) by the flasher."""
    g = vol.g
    ps = g.page_size
    oid = vol.lu[g.entry(src)]
    vol.buf[dst * ps : (dst + 1) * ps] = vol.buf[src * ps : (src + 1) * ps]
    _set_entry(vol, dst, oid)
    _set_entry(vol, src, OBJ_ID_DELETED)
    vol.buf[src * ps + 4] &= ~(FLAG_DELET | FLAG_USED) & 0xFF


def _set_entry(vol: SpiffsVolume, pix: int, obj_id: int) -> None:
    g = vol.g
    entry = g.entry(pix)
    b, e = divmod(entry, g.entries_per_block)
    U16.pack_into(vol.buf, b * g.block_size + 2 * e, obj_id)
    vol.poke_lu(entry, obj_id)


def _block(data: bytes, b: int, bs: int) -> bytes:
    return data[b * bs : (b + 1) * bs]


def _phases(old: bytes, new: bytes, geo: Geometry, commit_pix: int) -> list[SpiffsStep] | None:
    """Phase 1: blocks gaining pages, only those added; 2: the commit block; 3: the
    remaining changes (old pages marked deleted)."""
    bs, ps = geo.block_size, geo.page_size
    commit = commit_pix // geo.pages_per_block
    grow: list[SpiffsStep] = []
    finish: list[SpiffsStep] = []
    for b in range(geo.block_count):
        o, n = _block(old, b, bs), _block(new, b, bs)
        if o == n:
            continue
        if b == commit:
            continue
        mid = bytearray(o)
        for e in range(geo.entries_per_block):
            lu_off = 2 * e
            if U16.unpack_from(o, lu_off)[0] == OBJ_ID_FREE:
                mid[lu_off : lu_off + 2] = n[lu_off : lu_off + 2]
                page = (geo.lu_pages + e) * ps
                mid[page : page + ps] = n[page : page + ps]
        lookup_end = geo.lu_pages * ps
        if mid[lookup_end:] == o[lookup_end:] and mid[:lookup_end] != o[:lookup_end]:
            return None  # only lookup bytes differ: nothing of ours, leave it to the fallback
        if bytes(mid) != o and bytes(mid) != n:
            return None  # would be written twice: the journal keys sectors by offset
        if bytes(mid) != o:
            grow.append(SpiffsStep(b, n, "new pages"))
        else:
            finish.append(SpiffsStep(b, n, "old pages deleted"))
    commit_step = SpiffsStep(commit, _block(new, commit, bs), "commit")
    return [*grow, commit_step, *finish]


def _every_state_holds(
    old: bytes,
    steps: list[SpiffsStep],
    prof: SpiffsProfile,
    target: str,
    content: bytes,
    before: dict[str, bytes],
) -> bool:
    """Re-open the partition after every step: the target old or new whole, every other
    file as it was, nothing else."""
    bs = prof.block_size
    state = bytearray(old)
    others = {p: d for p, d in before.items() if p != target}
    expected = _expected(target, (before.get(target), content), others)
    for step in steps:
        state[step.block * bs : (step.block + 1) * bs] = step.content
        if not _holds(bytes(state), prof, expected):
            return False
    return True


def _fill_first(old: bytes, new: bytes, bs: int) -> list[SpiffsStep]:
    """Blocks that only gain programmed bytes (new pages and their lookup entries) first,
    then those that rewrite or erase bytes: SPIFFS's own order."""
    fills: list[SpiffsStep] = []
    rest: list[SpiffsStep] = []
    for b in range(len(old) // bs):
        o, n = _block(old, b, bs), _block(new, b, bs)
        if o == n:
            continue
        if all(x == 0xFF for x, y in zip(o, n, strict=True) if x != y):
            fills.append(SpiffsStep(b, n, "new pages"))
        else:
            rest.append(SpiffsStep(b, n, "rewritten"))
    return fills + rest


# ---------------------------------------------------------------------------------------
# On a unit: read sparsely, plan, order the writes


class SpiffsEdit(PartitionEdit):
    """A SPIFFS partition read through a cache (:func:`read_spiffs_region`): its bytes,
    its files, and the plan to replace one of them (:func:`plan_spiffs_replace`)."""

    image: SpiffsImage

    def __init__(self, cache: FlashCache, offset: int, data: bytes, profile: SpiffsProfile) -> None:
        self.data = data
        self.profile = profile
        super().__init__(cache, offset, len(data), SpiffsImage.open(data, profile))

    @classmethod
    def open(
        cls, cache: FlashCache, offset: int, size: int, profile: SpiffsProfile
    ) -> SpiffsEdit | None:
        """The partition's file system; None when it is erased. ImageError when it
        holds no SPIFFS this profile mounts."""
        data = read_spiffs_region(cache, offset, size, profile)
        if is_erased(data):
            return None
        return cls(cache, offset, data, profile)

    def replace(self, path: str, content: bytes) -> FileReplacement:
        if self.read(path) == content:
            return NOTHING_TO_WRITE
        planned = plan_spiffs_replace(self.data, self.profile, path, content)
        problems = mount_problems(
            lambda: SpiffsImage.open(planned.image, self.profile),
            Expected(
                path=path,
                allowed=[content],
                others=self.others(path),
                contents=self.image.read,
                facts=self.facts,
            ),
        )
        if problems:
            raise ImageError(f"the edited SPIFFS image does not verify ({'; '.join(problems)})")
        overlay = Overlay(self.cache, offset=self.offset, size=self.size)
        bs = self.profile.block_size
        for step in planned.steps:
            overlay.write(step.block * bs, step.content, step.role)
        if overlay.read(0, self.size) != planned.image:
            raise AssertionError("the SPIFFS steps do not lead to the planned image")
        return FileReplacement(
            self._writes(overlay, lambda rel, new, role: role),
            planned.power_safe,
            planned.order,
            planned.unsafe_cuts,
        )
