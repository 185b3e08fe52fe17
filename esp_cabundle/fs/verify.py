"""The one check of a file-system state against what an edit promised.

Every edit of a partition is proven by mounting the state it leads to and comparing:
the edited file holds one of the contents allowed (the new CA file; during an update,
the old one too), every other file is there with its size (and, where the old content
is at hand, its bytes), nothing else appeared, and the format the firmware mounts
(version, geometry) is the same. The planners run it on the planned image, on every
state a cut could leave, and on the unit read back after writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..errors import ImageError
from .base import FileInfo, FileSystemImage, normalize_path

__all__ = ["DOES_NOT_MOUNT", "mount_problems", "state_problems"]

DOES_NOT_MOUNT = "the file system does not mount"


def state_problems(
    image: FileSystemImage,
    *,
    path: str,
    allowed: Sequence[bytes | None],
    others: Sequence[FileInfo],
    contents: Callable[[str], bytes] | None = None,
    facts: Mapping[str, str] | None = None,
    what: str = "the new CA file",
) -> list[str]:
    """What differs between ``image`` and the promise (empty: nothing).

    ``allowed``: what the file at ``path`` may hold (None: absent). ``others``: every
    other file, by path and size. ``contents``: the bytes each of them must read as
    (without it only paths and sizes are compared). ``facts``: format facts that must
    be as given (see :meth:`~.base.FileSystemImage.format_facts`). ``what`` names the
    allowed content in the message.
    """
    target = normalize_path(path)
    problems: list[str] = []
    found = image.files()
    names = {f.path for f in found}
    held = image.read(target) if target in names else None
    if held not in allowed:
        problems.append(f"{target} does not hold {what}")
    now = [f for f in found if f.path != target]
    if now != sorted(others, key=lambda f: f.path):
        problems.append("the other files are not the ones that were there")
    elif contents is not None:
        changed = [f.path for f in now if image.read(f.path) != contents(f.path)]
        if changed:
            problems.append(f"{', '.join(changed)} changed")
    if facts:
        now_facts = image.format_facts()
        for key, value in facts.items():
            if now_facts.get(key, value) != value:
                problems.append(
                    f"the file system's {key} changed ({value} -> {now_facts.get(key)})"
                )
    return problems


def mount_problems(
    mount: Callable[[], FileSystemImage],
    *,
    path: str,
    allowed: Sequence[bytes | None],
    others: Sequence[FileInfo],
    contents: Callable[[str], bytes] | None = None,
    facts: Mapping[str, str] | None = None,
    what: str = "the new CA file",
) -> list[str]:
    """:func:`state_problems` of the state ``mount`` opens; one problem saying so when
    it does not mount (or cannot be read: the file system is broken either way)."""
    try:
        image = mount()
        return state_problems(
            image,
            path=path,
            allowed=allowed,
            others=others,
            contents=contents,
            facts=facts,
            what=what,
        )
    except ImageError as e:
        return [f"{DOES_NOT_MOUNT} ({e.message})"]
