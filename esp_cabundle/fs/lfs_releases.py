"""Which version numbers each LittleFS platform family really released.

The on-disk version of a new image follows from the platform version (:mod:`.lfs_platforms`),
so a version that was never released must not be read as a nearby one: ``arduino-2.017``
(meant 2.0.17) compared as 2.17, ``arduino-2.05`` (meant 2.0.5, littlefs 2.5) as 2.5 >=
2.0.17, and both got on-disk 2.1, which a 2.0.5 unit cannot mount and formats away.
A version must be a whole release number in the family's own form, inside a release
line the family has; a typo whose digits spell exactly one known release is named.

Release lines (read 2025-10 from the projects' release lists):

* Arduino-ESP32: 1.0.0-1.0.6, 2.0.0-2.0.17 (the 2.x line ended there), 3.0.0-3.0.7,
  3.1.0-3.1.3, 3.2.0-3.2.1, 3.3.0-3.3.12 and on. Later 3.3.x and 3.y releases are accepted as
  releases of the 3.x line, which takes ``joltwallet/littlefs ^1.10.2`` (littlefs 2.8+,
  reads 2.1); a major line after 3 is refused (its littlefs is not known).
  Pre-releases (``3.0.0-rc1``) are refused.
* esp_littlefs (component joltwallet/littlefs): 1.y.z; later 1.y are accepted (littlefs
  only moves forward), another major is refused.
* PlatformIO platform-espressif32: x.y.z with x <= 6 (the README table covers <= 6.13.0).
* Mongoose OS: 1.y, 2.y or 2.y.z (its tags: 2.0, 2.2, ..., 2.7.0, ..., 2.20.0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._patterns import lazy_re

__all__ = ["FORMS", "VersionProblem", "version_problem"]

Version = tuple[int, ...]

# Arduino-ESP32 (major, minor) -> the last patch release; None: the line is still open
# (its releases up to _OPEN_LINE_KNOWN are known; later ones are accepted as they come).
_ARDUINO_LINES: dict[tuple[int, int], int | None] = {
    (1, 0): 6,
    (2, 0): 17,
    (3, 0): 7,
    (3, 1): 3,
    (3, 2): 1,
    (3, 3): None,
}
_ARDUINO_NEWEST_MAJOR = 3
_OPEN_LINE_KNOWN = 12  # 3.3.12

# How each family writes a version, for messages.
FORMS = {
    "arduino": "X.Y.Z (1.0.0-1.0.6, 2.0.0-2.0.17, 3.0.0-3.0.7, 3.1.0-3.1.3, 3.2.0-3.2.1, 3.3.0 on)",
    "esp_littlefs": "1.Y.Z (the component's release, e.g. 1.14.1)",
    "platformio": "X.Y.Z (platform-espressif32's release, up to 6.x, e.g. 6.8.0)",
    "mongoose-os": "X.Y or X.Y.Z (e.g. 2.20.0)",
}

_NUMBER = r"(?:0|[1-9]\d{0,3})"  # no leading zero: 2.05 is a typo, not 2.5
_FORM_RE = {
    "arduino": lazy_re(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}$"),
    "esp_littlefs": lazy_re(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}$"),
    "platformio": lazy_re(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}$"),
    "mongoose-os": lazy_re(rf"^{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?$"),
}


@dataclass(frozen=True, slots=True)
class VersionProblem:
    """Why ``text`` is no release of the family, and the release meant when its digits
    say so unambiguously (``2.017`` -> ``2.0.17``)."""

    why: str
    meant: str | None


def _arduino_release(v: Version) -> str | None:
    """None for an Arduino-ESP32 release (known, or a later one of the open 3.x line);
    else why not."""
    major, minor, patch = v
    if major > _ARDUINO_NEWEST_MAJOR:
        return (
            f"Arduino-ESP32 {major}.x is newer than the release lines esp-cabundle knows "
            "(its littlefs is not known)"
        )
    last = _ARDUINO_LINES.get((major, minor))
    if (major, minor) in _ARDUINO_LINES:
        if last is None or patch <= last:
            return None
        return f"the Arduino-ESP32 {major}.{minor}.x line ended at {major}.{minor}.{last}"
    if major == _ARDUINO_NEWEST_MAJOR and (major, minor) > max(_ARDUINO_LINES):
        return None  # a later 3.y: the whole 3.x line reads 2.1
    return f"Arduino-ESP32 has no {major}.{minor}.x release line"


def _release_problem(family: str, v: Version) -> str | None:
    if family == "arduino":
        return _arduino_release(v)
    if family == "esp_littlefs" and v[0] != 1:
        return "esp_littlefs releases are 1.y.z"
    if family == "platformio" and v[0] > 6:
        return "platform-espressif32 releases esp-cabundle knows end at 6.x"
    if family == "mongoose-os" and v[0] not in (1, 2):
        return "Mongoose OS releases are 1.x and 2.x"
    return None


def _parse(family: str, text: str) -> Version | None:
    if not _FORM_RE[family]().match(text):
        return None
    return tuple(int(x) for x in text.split("."))


def _known(family: str, v: Version) -> bool:
    """A release the tables name outright (no open line's guess), for suggestions."""
    if family != "arduino":
        return _release_problem(family, v) is None
    last = _ARDUINO_LINES.get((v[0], v[1]), -1)
    return v[2] <= (last if last is not None else _OPEN_LINE_KNOWN)


def _meant(family: str, text: str) -> str | None:
    """The one known release whose digits are ``text``'s, dots misplaced or a zero
    padded (``2.017``, ``2.05``, ``2.0.017``); None when none or several fit."""
    parts = [p for p in re.split(r"\.", text) if p]
    if not parts or not all(p.isdigit() for p in parts):
        return None
    found: set[Version] = set()
    if len(parts) == 3:
        found.add(tuple(int(p) for p in parts))
    digits = "".join(parts)
    for i in range(1, len(digits)):
        for j in range(i + 1, len(digits)):
            pieces = (digits[:i], digits[i:j], digits[j:])
            if all(p == "0" or not p.startswith("0") for p in pieces):
                found.add(tuple(int(p) for p in pieces))
    fits = sorted(v for v in found if _known(family, v))
    return ".".join(map(str, fits[0])) if len(fits) == 1 else None


def version_problem(family: str, text: str) -> VersionProblem | None:
    """None when ``text`` is a release of ``family`` in its own form, else what is wrong."""
    v = _parse(family, text)
    if v is None:
        why = f"not a release number of the form {FORMS[family]}"
    else:
        problem = _release_problem(family, v)
        if problem is None:
            return None
        why = f"{problem}; releases: {FORMS[family]}"
    meant = _meant(family, text)
    return VersionProblem(why, None if meant == text else meant)
