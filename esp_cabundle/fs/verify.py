"""The one check of a file-system state against what an edit promised.

Every edit of a partition is proven by mounting the state it leads to and comparing it
with an :class:`Expected`: the edited file holds one of the contents allowed (the new CA
file; during an update, the old one too), every other file is there with its size (and,
where the old content is at hand, its bytes), nothing else appeared, and the format the
firmware mounts (version, geometry) is the same. The planners check the planned image,
every state a cut could leave, and the unit read back after writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ImageError
from .base import FileInfo, FileSystemImage, normalize_path

__all__ = ["DOES_NOT_MOUNT", "Expected", "mount_problems"]

DOES_NOT_MOUNT = "the file system does not mount"


@dataclass(frozen=True)
class Expected:
    """What a state must hold.

    ``allowed``: what the file at ``path`` may hold (None: absent). ``others``: every
    other file, by path and size. ``contents``: the bytes each of them must read as
    (without it only paths and sizes are compared). ``facts``: format facts that must
    be as given (see :meth:`~.base.FileSystemImage.format_facts`). ``what`` names the
    allowed content in messages.
    """

    path: str
    allowed: Sequence[bytes | None]
    others: Sequence[FileInfo]
    contents: Callable[[str], bytes] | None = None
    facts: Mapping[str, str | int] = field(default_factory=dict)
    what: str = "the new CA file"

    def problems(self, image: FileSystemImage) -> list[str]:
        """What differs between ``image`` and this (empty: nothing)."""
        target = normalize_path(self.path)
        problems: list[str] = []
        found = image.files()
        held = image.read(target) if any(f.path == target for f in found) else None
        if held not in self.allowed:
            problems.append(f"{target} does not hold {self.what}")
        now = [f for f in found if f.path != target]
        if now != sorted(self.others, key=lambda f: f.path):
            problems.append("the other files are not the ones that were there")
        elif self.contents is not None:
            changed = [f.path for f in now if image.read(f.path) != self.contents(f.path)]
            if changed:
                problems.append(f"{', '.join(changed)} changed")
        now_facts = image.format_facts()
        for key, value in self.facts.items():
            if now_facts.get(key, value) != value:
                problems.append(
                    f"the file system's {key} changed ({value} -> {now_facts.get(key)})"
                )
        return problems


def mount_problems(mount: Callable[[], FileSystemImage], expected: Expected) -> list[str]:
    """What differs between the state ``mount`` opens and ``expected``; one problem
    saying so when it does not mount (or cannot be read: broken either way)."""
    try:
        return expected.problems(mount())
    except ImageError as e:
        return [f"{DOES_NOT_MOUNT} ({e.message})"]
