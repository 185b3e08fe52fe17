"""Which bundle layout a firmware version reads, and which versions are releases.

ESP-IDF switched from layout v1 to v2 in 5.4, Arduino-ESP32 in 3.2 (built on ESP-IDF
5.4). A version that was never released (5.9.9, arduino-2.017) is refused rather than
read as a nearby one, since its layout would be a guess, and so is a bare major whose
releases read both layouts (5, arduino-3). A release the tool cannot know yet is taken
with a warning (:func:`idf_version_warning`): an ESP-IDF minor newer than those known
(6.1) in the newest line's layout, a patch newer than its line's newest known (5.5.9)
in its line's.
"""

from __future__ import annotations

from typing import Literal

from .._patterns import lazy_re
from ..errors import InputError
from ..spelling import PYTHON, Spelling

__all__ = ["BundleFormat", "bundle_format_for", "idf_version_warning", "refuse_unreleased_idf"]

BundleFormat = Literal["v1", "v2"]

# First ESP-IDF release with the offset-table layout (v5.4, d8e31eb6d01).
_V2_SINCE_IDF = (5, 4)
# Arduino-ESP32 3.2 is built on ESP-IDF release/v5.4 (arduino-esp32 PR #10872).
_V2_SINCE_ARDUINO = (3, 2)

# The newest major versions released (ESP-IDF 6.0, Arduino-ESP32 3.3): a higher one is
# a typo, not a release whose bundle layout can be known.
_NEWEST_IDF = 6
_NEWEST_ARDUINO = 3
# ESP-IDF's release lines, major -> the last minor line (esp-idf's release list and
# data/firmware/esp-idf.yaml): 4.0-4.4, 5.0-5.5, then 6.0 (2026-03). A minor past the
# last of a major that has a successor (5.6, 4.5) can never be released: a typo, whose
# layout would be a guess. A later 6.y can be: taken as 6.0's layout, with a warning.
_IDF_LINES = {4: 4, 5: 5, 6: 0}
# The newest patch release of each ESP-IDF minor line known (data/firmware/esp-idf.yaml's
# covers; a test holds the two equal). A later patch (5.5.9) is a release newer than the
# tool, or a typo: either way its line's layout, said in a warning. No line before 4.4:
# the firmware data starts there, and those lines' patches are not judged.
_NEWEST_PATCH: dict[tuple[int, int], int] = {
    (4, 4): 8,
    (5, 0): 9,
    (5, 1): 7,
    (5, 2): 7,
    (5, 3): 5,
    (5, 4): 4,
    (5, 5): 5,
    (6, 0): 2,
}
_VERSION_RE = lazy_re(r"^(?:(?P<kind>arduino|idf|esp-idf)[-_ ]?)?v?(?P<ver>\d+(?:\.\d+)*)$")


def bundle_format_for(version: str, spelling: Spelling = PYTHON) -> BundleFormat:
    """The bundle layout a firmware version reads.

    ``version`` is an ESP-IDF version (``5.3``, ``v5.4.1``, ``idf-4.4``) or an
    Arduino-ESP32 core version prefixed ``arduino-`` (``arduino-2.0.17``,
    ``arduino-3.2.0``). ``spelling``: how the hints name the other outputs and layouts
    (see :mod:`~esp_cabundle.spelling`).
    """
    m = _VERSION_RE().match(version.strip().lower())
    if m is None:
        raise InputError(
            f"cannot read version '{version}'",
            hint="give an ESP-IDF version such as 5.4 or 4.4.8, or arduino-3.2.0",
        )
    parts = tuple(int(x) for x in m.group("ver").split("."))
    arduino = m.group("kind") == "arduino"
    newest = _NEWEST_ARDUINO if arduino else _NEWEST_IDF
    if parts[0] > newest:
        name = "Arduino-ESP32" if arduino else "ESP-IDF"
        raise InputError(
            f"{name} {m.group('ver')} is not a release this tool knows (the newest major "
            f"version is {newest})",
            hint="check the version; for a release newer than this tool, give the layout "
            f"with {spelling.new_layout}",
        )
    _refuse_bare_major(parts, arduino, spelling)
    if arduino:
        if parts[0] < 2:
            raise InputError(
                f"Arduino-ESP32 {m.group('ver')} has no certificate bundle support",
                hint=f"Arduino-ESP32 1.0.x reads a PEM CA file (setCACert); use {spelling.pem}",
            )
        # deferred: the fs package (its image code) loads only for an Arduino version
        from ..fs.lfs_releases import version_problem

        problem = version_problem("arduino", ".".join(map(str, (*parts, 0, 0)[:3])))
        if len(parts) <= 3 and problem is not None:
            typo = version_problem("arduino", m.group("ver"))  # 2.017: meant 2.0.17
            meant = typo.meant if typo is not None and typo.meant else None
            raise InputError(
                f"Arduino-ESP32 {m.group('ver')} is no release: {problem.why}",
                hint=f"did you mean arduino-{meant}?"
                if meant
                else "check the version: the Arduino-ESP32 core the firmware was built with",
            )
        return "v2" if parts[:2] >= _V2_SINCE_ARDUINO else "v1"
    if parts[0] < 4:
        raise InputError(
            f"ESP-IDF {m.group('ver')} has no certificate bundle (it arrived in 4.0)",
            hint=f"use {spelling.pem} and load it with mbedtls_x509_crt_parse",
        )
    refuse_unreleased_idf(m.group("ver"))
    return "v2" if parts[:2] >= _V2_SINCE_IDF else "v1"


def _refuse_bare_major(parts: tuple[int, ...], arduino: bool, spelling: Spelling) -> None:
    """Refuse a bare major whose releases read both layouts (ESP-IDF 5, Arduino-ESP32 3):
    taken as x.0 it gave v1 to a 5.4 firmware, which then trusts no server."""
    since = _V2_SINCE_ARDUINO if arduino else _V2_SINCE_IDF
    if len(parts) != 1 or parts[0] != since[0]:
        return
    major, first = since
    name, prefix, patch = ("Arduino-ESP32", "arduino-", ".0") if arduino else ("ESP-IDF", "", "")
    raise InputError(
        f"{name} {major} does not say which bundle layout the firmware reads: its "
        "releases read two",
        hint=f"{major}.{first - 1} or earlier: v1; {major}.{first} or later: v2. Give the "
        f"exact release, e.g. {spelling.idf_version.format(f'{prefix}{major}.{first}{patch}')}",
    )


def refuse_unreleased_idf(version: str) -> None:
    """Refuse (InputError) an ESP-IDF ``version`` (``5.6``, ``4.5.1``: digits and dots)
    of a minor line past the last of its major, which can never be released: a typo,
    whatever it is read for (a bundle layout, a device's mbedTLS line) would be a guess.
    A major outside the lines known (3.x, 7.x) is left to the caller."""
    parts = tuple(int(x) for x in version.split("."))
    last = _IDF_LINES.get(parts[0])
    if last is not None and len(parts) > 1 and parts[1] > last and parts[0] < _NEWEST_IDF:
        raise InputError(
            f"ESP-IDF {version} is no release: the {parts[0]}.x line ended at "
            f"{parts[0]}.{last}, and {parts[0] + 1}.0 followed",
            hint=f"check the version; the nearest release line is {parts[0]}.{last} "
            f"(ESP-IDF's lines: {_IDF_RELEASE_LINES})",
        )


_IDF_RELEASE_LINES = ", ".join(
    f"{major}.0-{major}.{last}" if last else f"{major}.0" for major, last in _IDF_LINES.items()
)


def idf_version_warning(version: str) -> str | None:
    """Why ``version`` (one :func:`bundle_format_for` takes) is a guess: an ESP-IDF
    release newer than the lines this tool knows (6.1, when 6.0 is the newest), whose
    layout is taken as the newest line's, or a patch newer than its line's newest known
    (5.5.9, when 5.5.5 is), taken as its line's. None for a known release."""
    m = _VERSION_RE().match(version.strip().lower())
    if m is None or m.group("kind") == "arduino":
        return None
    parts = tuple(int(x) for x in m.group("ver").split("."))
    newest_patch = _NEWEST_PATCH.get((parts[0], parts[1])) if len(parts) > 2 else None
    if newest_patch is not None and parts[2] > newest_patch:
        line = f"{parts[0]}.{parts[1]}"
        return (
            f"ESP-IDF {m.group('ver')} is not a release known to this tool (the newest "
            f"known {line}.x is {line}.{newest_patch}): the layout of {line} "
            f"({bundle_format_for(line)}) is used"
        )
    last = _IDF_LINES.get(parts[0])
    if last is None or len(parts) < 2 or parts[1] <= last:
        return None
    newest = f"{parts[0]}.{last}"
    return (
        f"ESP-IDF {m.group('ver')} is newer than the releases this tool knows (the newest "
        f"is {newest}): its bundle is written in {newest}'s layout "
        f"({bundle_format_for(newest)}); "
        "set the output's bundle_format if that release changed it"
    )
