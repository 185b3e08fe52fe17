"""Ordering a garbage-collected SPIFFS update on a nearly full 1408 KiB partition (issue:
planning took 108 s, because every trial write of every round was mounted in full).

Trials that leave a file of the state so far broken are now refused without a mount
(esp_cabundle.fs.spiffs_trials). The plan must be the one the mount-every-trial ordering
made: the same sectors, bytes and order, the same image."""

from __future__ import annotations

import pytest

from esp_cabundle.fs import spiffs_safe
from esp_cabundle.fs.base import FileInfo
from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image
from esp_cabundle.fs.spiffs_layout import Geometry
from esp_cabundle.fs.spiffs_safe import SpiffsStep, plan_spiffs_replace
from esp_cabundle.fs.spiffs_trials import BrokenFiles
from esp_cabundle.fs.verify import Expected, mount_problems
from tests.support.spiffs_full import ca, nearly_full

GC_ORDER = "room only after garbage collection"


# (profile, CA files before, after, small files, every n-th removed, filler): each the
# fullest image (to 256 bytes) where the unit could still write the new CA file
CASES = [
    ("esp-idf", 18, 8, 1500, 6, 538560),  # smaller CA
    ("arduino", 8, 18, 1500, 6, 553696),  # larger CA, Arduino's 4 KiB writes
    ("esp-idf", 8, 18, 600, 3, 1002144),  # larger CA, a big file filling it
]


def mounting_every_trial(
    state: bytes,
    todo: list[SpiffsStep],
    prof: object,
    target: str,
    allowed: tuple[bytes | None, ...],
    others: dict[str, bytes],
) -> tuple[list[SpiffsStep], int]:
    """The ordering as it was before BrokenFiles (spiffs_safe._greedy at 95a4129), with
    the picks no trial held for counted as _greedy counts them."""
    bs = prof.block_size  # type: ignore[attr-defined]
    expected = Expected(
        path=target,
        allowed=allowed,
        others=[FileInfo(path, len(data)) for path, data in others.items()],
        contents=others.__getitem__,
    )
    todo = list(todo)
    cur = bytearray(state)
    out: list[SpiffsStep] = []
    not_held = 0
    while todo:
        pick = None
        for i, step in enumerate(todo):
            trial = bytearray(cur)
            trial[step.block * bs : (step.block + 1) * bs] = step.content
            if not mount_problems(lambda t=bytes(trial): SpiffsImage.open(t, prof), expected):  # type: ignore[arg-type]
                pick = i
                break
        step = todo.pop(pick or 0)
        was = bytes(cur[step.block * bs : (step.block + 1) * bs])
        not_held += pick is None and bool(todo) and was != step.content
        cur[step.block * bs : (step.block + 1) * bs] = step.content
        out.append(step)
    return out, not_held


@pytest.mark.one_python  # a sweep: on the primary only (support.shards)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}to{c[2]}-{c[3]}files")
def test_a_nearly_full_partition_gets_the_plan_mounting_every_trial_made(
    case: tuple[str, int, int, int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, before, after, files, every, filler = case
    old, new = ca(before), ca(after)
    data = nearly_full(profile, old, files, every, filler)
    refused = []
    still_broken = BrokenFiles.still_broken

    def counting(self: BrokenFiles, block: int, content: bytes) -> bool:
        result = still_broken(self, block, content)
        refused.append(result)
        return result

    monkeypatch.setattr(BrokenFiles, "still_broken", counting)
    fast = plan_spiffs_replace(data, profile, "/ca.pem", new)
    assert fast.order.startswith(GC_ORDER)  # the ordering under test was used
    assert sum(refused) > len(fast.steps)  # and it refused trials without mounting them
    monkeypatch.setattr(spiffs_safe, "_greedy", mounting_every_trial)
    slow = plan_spiffs_replace(data, profile, "/ca.pem", new)
    assert [(s.block, s.role) for s in fast.steps] == [(s.block, s.role) for s in slow.steps]
    assert fast == slow  # every sector's bytes, the image, power_safe and order
    # the invariants the plan must keep: the steps lead to the image, which holds the
    # new CA file and every other file as it was
    bs = 4096
    state = bytearray(data)
    for s in fast.steps:
        state[s.block * bs : (s.block + 1) * bs] = s.content
    assert bytes(state) == fast.image
    was, now = SpiffsImage.open(data, profile), SpiffsImage.open(fast.image, profile)
    assert now.read("/ca.pem") == new
    others = [f for f in was.files() if f.path != "/ca.pem"]
    assert [f for f in now.files() if f.path != "/ca.pem"] == others
    assert all(now.read(f.path) == was.read(f.path) for f in others)


def test_a_trial_refused_without_mounting_does_not_mount() -> None:
    """Along a plan, every trial BrokenFiles refuses fails the full mount too."""
    profile, before, after, files, every, filler = CASES[0]
    old, new = ca(before), ca(after)
    data = nearly_full(profile, old, files, every, filler)
    plan = plan_spiffs_replace(data, profile, "/ca.pem", new)
    assert plan.order.startswith(GC_ORDER)
    was = SpiffsImage.open(data, profile)
    expected = Expected(
        path="/ca.pem",
        allowed=[old, None, new],
        others=[f for f in was.files() if f.path != "/ca.pem"],
        contents=was.read,
    )
    bs = 4096
    broken = BrokenFiles(data, Geometry.of(SpiffsImage.open(data, profile).profile, len(data)))
    state = bytearray(data)
    refused = 0
    for i, step in enumerate(plan.steps):
        for later in plan.steps[i:]:
            if broken.still_broken(later.block, later.content):
                refused += 1
                trial = bytearray(state)
                trial[later.block * bs : (later.block + 1) * bs] = later.content
                assert mount_problems(lambda t=bytes(trial): SpiffsImage.open(t, profile), expected)
        state[step.block * bs : (step.block + 1) * bs] = step.content
        broken.advance(step.block, step.content)
    assert refused > 0


def test_a_broken_file_whose_header_the_trial_rewrites_is_no_proof() -> None:
    """A file broken in the state so far, whose index header's block the trial rewrites
    (here: the old CA file, removed by that block) proves nothing: the trial mounts, and
    BrokenFiles must leave it to the full mount."""
    profile = "esp-idf"
    data = build_spiffs_image(
        [("ca.pem", ca(8)), ("mdash.cfg", b"x" * 300)], size=64 * 1024, profile=profile
    )
    img = SpiffsImage.open(data, profile)
    rec = img._files["/ca.pem"]
    geo = Geometry.of(img.profile, len(data))
    ppb, bs = geo.pages_per_block, geo.block_size
    head = rec.hdr_pix // ppb
    tail = rec.data_pixes[-1] // ppb
    assert tail != head
    # the state so far: the CA file's last data page marked deleted in its lookup entry
    cur = bytearray(data)
    entry = geo.entry(rec.data_pixes[-1])
    b, e = divmod(entry, geo.entries_per_block)
    cur[b * bs + 2 * e : b * bs + 2 * e + 2] = b"\x00\x00"
    removed = SpiffsImage.open(data, profile)
    removed.remove("/ca.pem")
    content = removed.to_bytes()[head * bs : (head + 1) * bs]  # the header's block, CA gone
    trial = bytearray(cur)
    trial[head * bs : (head + 1) * bs] = content
    expected = Expected(
        path="/ca.pem",
        allowed=[ca(8), None],
        others=[f for f in img.files() if f.path != "/ca.pem"],
        contents=img.read,
    )
    assert mount_problems(lambda: SpiffsImage.open(bytes(cur), profile), expected)
    assert not mount_problems(lambda: SpiffsImage.open(bytes(trial), profile), expected)
    broken = BrokenFiles(bytes(cur), geo)
    assert broken.suspects == {rec.hdr_pix}
    assert not broken.still_broken(head, content)


@pytest.mark.parametrize("case", CASES[:2], ids=["esp-idf-18to8", "arduino-8to18"])
def test_the_order_says_how_many_cut_points_do_not_mount(
    case: tuple[str, int, int, int, int, int],
) -> None:
    """The plan said 'every other file intact throughout' where, on a nearly full
    partition, a cut after all but its last sector left a partition that did not mount
    (garbage collection's moved pages live twice): it now says how many do not, as a
    count of cut points ("after 13 of its 17 sector writes" read as a position, where
    the cuts after the 3rd to the 15th write were the ones)."""
    profile, before, after, files, every, filler = case
    old, new = ca(before), ca(after)
    data = nearly_full(profile, old, files, every, filler)
    plan = plan_spiffs_replace(data, profile, "/ca.pem", new)
    was = SpiffsImage.open(data, profile)
    expected = Expected(
        path="/ca.pem",
        allowed=[old, None, new],
        others=[f for f in was.files() if f.path != "/ca.pem"],
        contents=was.read,
    )
    bs = 4096
    state = bytearray(data)
    not_mounting = 0
    for step in plan.steps[:-1]:  # a cut after the last write leaves the planned image
        state[step.block * bs : (step.block + 1) * bs] = step.content
        not_mounting += bool(
            mount_problems(lambda t=bytes(state): SpiffsImage.open(t, profile), expected)
        )
    assert not_mounting > 0  # the case this test is about
    assert "intact throughout" not in plan.order
    m = len(plan.steps)
    said = (
        f"a cut between any two of its {m} sector writes leaves a partition"
        if not_mounting == m - 1
        else f"{not_mounting} of the {m - 1} points between its {m} sector writes, if cut "
        "there, leave a partition"
    )
    assert said in plan.order, plan.order
    if case == CASES[0]:  # README's example
        assert (not_mounting, m) == (13, 17)
    assert "may not mount" in plan.order and "restore" in plan.order
