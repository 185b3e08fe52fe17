"""Which LittleFS on-disk version each platform version reads and writes.

littlefs 2.6 moved the on-disk version from 2.0 to 2.1. A littlefs before 2.6 refuses a
2.1 image (``Corrupted dir pair``, -84), and firmware that mounts with
``LittleFS.begin(true)`` or ``format_if_mount_failed`` then formats the partition:
every file on it is lost. littlefs 2.6 and later read both, and upgrade a 2.0 image to
2.1 on their first write unless built to write 2.0 (esp_littlefs
``CONFIG_LITTLEFS_MULTIVERSION``, from 1.7.0).

A platform is named ``FAMILY-VERSION`` (``arduino-2.0.17``, ``esp_littlefs-1.14.1``,
``platformio-6.8.0``, ``mongoose-os-2.20``; a release the family made, see
:mod:`.lfs_releases`) or by its family alone (any version). A new
image gets 2.0 unless every reader of the named platform version reads 2.1; an
existing image keeps its version, and one the platform cannot read is refused.

Sources (read at the commits and tags named; the README table is made from
:data:`PLATFORM_ROWS`):

* joltwallet/esp_littlefs tags, ``src/littlefs`` submodule and its ``lfs.h``
  (``LFS_VERSION``/``LFS_DISK_VERSION``): v1.1.0-v1.3.2 littlefs 2.4, v1.4.0-v1.5.5
  littlefs 2.5 (disk 2.0); v1.6.0 (2023-07-08, "update littlefs submodule from v2.5.1
  -> v2.7.0") littlefs 2.7 (disk 2.1); v1.10.0 2.8, v1.14.0 2.9, v1.15.0 2.10, v1.20.0
  2.11, v1.21.0 2.11.3. The ESP-IDF component registry's joltwallet/littlefs versions are
  these tags (``idf_component.yml`` ``version``). Maintainer's statement:
  joltwallet/esp_littlefs issue #185.
* Arduino-ESP32 2.0.x: esp32-arduino-lib-builder (release/v4.4
  ``tools/update-components.sh``) builds esp_littlefs from its master branch at the
  time of each build, recorded in the release's ``tools/sdk/versions.txt``: a 2.0.x
  SDK on ESP-IDF release/v4.4 f90c12fc3c records ``esp_littlefs: master f2a949f``
  (= v1.5.1, littlefs 2.5); the 2.0.17 SDK (ESP-IDF v4.4.7) records ``41873c2``
  (= v1.14.1, littlefs 2.9). Which 2.0.x release first carried esp_littlefs 1.6 was not
  established, so 2.0.0-2.0.16 count as "may be littlefs 2.5". Arduino-ESP32 3.x takes
  ``joltwallet/littlefs: "^1.10.2"`` from the component registry (its
  ``idf_component.yml``): littlefs 2.8 or later. The lib-builder's configs set no
  ``LITTLEFS_*`` option, so firmware writes 2.1 once it has littlefs >= 2.6.
* PlatformIO platform-espressif32 ``platform.json``: v4.0.0-v6.13.0 pin
  ``tool-mklittlefs ~1.203.0``, whose binary reports version ``0.2.3-35-g943d2f7``
  (earlephilhower/mklittlefs issue #64): mklittlefs commit 943d2f7 (2021-02) with
  littlefs 2.0 (disk 2.0), which can neither list nor unpack a 2.1 image. Its
  ``framework-arduinoespressif32`` is Arduino-ESP32 2.0.x (~3.20017 = 2.0.17 from v6.8.0).
* earlephilhower/mklittlefs tags: 3.0.0-3.2.0 littlefs 2.0-2.5 (disk 2.0); 4.0.0
  (2024-06) littlefs 2.9 (disk 2.1).
* Mongoose OS: mongoose-os-libs/vfs-fs-lfs bundles littlefs 2.5.0 (``LFS_DISK_VERSION
  0x00020000``): 2.0 only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._patterns import lazy_re
from ..errors import ImageError
from ..spelling import PYTHON, Spelling, set_to
from .lfs_releases import version_problem

__all__ = [
    "DISK_VERSION_2_0",
    "DISK_VERSION_2_1",
    "FAMILIES",
    "PLATFORM_ROWS",
    "LfsPlatform",
    "PlatformRow",
    "PlatformVersionError",
    "cannot_mount",
    "check_disk_version",
    "check_readable",
    "choose_disk_version",
    "parse_disk_version",
    "refuse_version_change",
    "resolve_platform",
    "version_text",
]

DISK_VERSION_2_0 = 0x00020000
DISK_VERSION_2_1 = 0x00020001

# Platform family -> the LittleFS profile (fs/littlefs.py) its images follow.
FAMILIES = {
    "esp_littlefs": "esp-idf",
    "arduino": "arduino",
    "platformio": "platformio",
    "mongoose-os": "mongoose-os",
}

Version = tuple[int, ...]


def version_text(version: int) -> str:
    return f"{version >> 16}.{version & 0xFFFF}"


@dataclass(frozen=True, slots=True)
class PlatformRow:
    """Platform versions ``low`` (inclusive) to ``high`` (exclusive, None = open) of one
    family: the littlefs their readers run and whether every one of them reads 2.1."""

    family: str
    low: Version
    high: Version | None
    versions: str  # as the README shows them
    littlefs: str
    reads_2_1: bool
    firmware_writes: str
    note: str

    @property
    def writes(self) -> int:
        """The version esp-cabundle writes into a new image for this platform."""
        return DISK_VERSION_2_1 if self.reads_2_1 else DISK_VERSION_2_0

    def covers(self, version: Version) -> bool:
        return version >= self.low and (self.high is None or version < self.high)


PLATFORM_ROWS: tuple[PlatformRow, ...] = (
    PlatformRow("esp_littlefs", (0,), (1, 4), "< 1.4.0", "2.4", False, "2.0", "reads 2.0 only"),
    PlatformRow(
        "esp_littlefs", (1, 4), (1, 6), "1.4.0 - 1.5.5", "2.5", False, "2.0", "reads 2.0 only"
    ),
    PlatformRow(
        "esp_littlefs",
        (1, 6),
        (1, 10),
        "1.6.0 - 1.9.x",
        "2.7",
        True,
        "2.1 (2.0 with LITTLEFS_MULTIVERSION, 1.7.0+)",
        "upgrades 2.0 images on first write",
    ),
    PlatformRow(
        "esp_littlefs",
        (1, 10),
        None,
        ">= 1.10.0",
        "2.8 (1.10), 2.9 (1.14), 2.10 (1.15), 2.11 (1.20+)",
        True,
        "2.1 (2.0 with LITTLEFS_MULTIVERSION)",
        "upgrades 2.0 images on first write",
    ),
    PlatformRow(
        "arduino",
        (0,),
        (2, 0, 17),
        "< 2.0.17",
        "2.5 or older in releases built with esp_littlefs < 1.6",
        False,
        "2.0 or 2.1",
        "which 2.0.x first carried littlefs 2.6+ is unknown: treated as 2.0 only",
    ),
    PlatformRow(
        "arduino",
        (2, 0, 17),
        (3,),
        "2.0.17",
        "2.9 (esp_littlefs 1.14.1)",
        True,
        "2.1",
        "upgrades 2.0 images on first write",
    ),
    PlatformRow(
        "arduino",
        (3,),
        None,
        ">= 3.0.0",
        "2.8 or later (joltwallet/littlefs ^1.10.2)",
        True,
        "2.1",
        "upgrades 2.0 images on first write",
    ),
    PlatformRow(
        "platformio",
        (0,),
        None,
        "all (espressif32 <= 6.13.0)",
        "2.0 in tool-mklittlefs ~1.203.0; firmware as its Arduino-ESP32",
        False,
        "2.0 (uploadfs)",
        "its mklittlefs cannot read 2.1 images",
    ),
    PlatformRow(
        "mongoose-os", (0,), None, "all", "2.5 (vfs-fs-lfs)", False, "2.0", "reads 2.0 only"
    ),
)

# The version part is checked by lfs_releases, so "arduino-3.0.0-rc1" is told what is wrong.
_SPEC_RE = lazy_re(rf"^(?P<family>{'|'.join(map(re.escape, FAMILIES))})(?:-(?P<version>.*))?$")


@dataclass(frozen=True, slots=True)
class LfsPlatform:
    """A named platform (version) and what its LittleFS readers can mount."""

    spec: str
    family: str
    version: Version | None
    rows: tuple[PlatformRow, ...]  # one for a version; all of the family without one

    @property
    def profile(self) -> str:
        return FAMILIES[self.family]

    @property
    def reads_2_1(self) -> bool:
        return all(r.reads_2_1 for r in self.rows)

    @property
    def writes(self) -> int:
        """2.1 only when every reader of this platform (version) reads it."""
        return DISK_VERSION_2_1 if self.reads_2_1 else DISK_VERSION_2_0

    @property
    def oldest_littlefs(self) -> str:
        return next((r.littlefs for r in self.rows if not r.reads_2_1), self.rows[0].littlefs)


# Whose release numbers a platform version is, for messages.
_RELEASE_WORDS = {
    "esp_littlefs": "esp_littlefs",
    "arduino": "Arduino-ESP32",
    "platformio": "PlatformIO platform-espressif32",
    "mongoose-os": "Mongoose OS",
}


class PlatformVersionError(ImageError):
    """A platform version that was never released, or a family misspelt (``mos-2.20``,
    ``family`` then the one near it); ``meant``: the platform spec its
    digits spell when that is unambiguous (``arduino-2.017`` -> ``arduino-2.0.17``), for
    the CLI to put into the command line it shows as the hint; ``advice``: the hint's
    words before that line (or the call), so each front end says them alike."""

    def __init__(
        self, message: str, *, hint: str, family: str, meant: str | None, advice: str
    ) -> None:
        super().__init__(message, hint=hint)
        self.family = family
        self.meant = meant
        self.advice = advice


def resolve_platform(spec: str, spelling: Spelling = PYTHON) -> LfsPlatform:
    """``arduino-2.0.17`` -> the platform; ImageError when unknown, and
    :class:`PlatformVersionError` for a version the family never released (read as a
    nearby one it could pick the wrong on-disk version); hints as ``spelling`` says."""
    text = spec.strip().lower()
    m = _SPEC_RE().match(text)
    if text.startswith("esp-idf"):
        raise ImageError(
            f"unknown LittleFS platform {spec!r}: ESP-IDF does not ship LittleFS",
            hint="name the esp_littlefs component version your project pins (joltwallet/"
            "littlefs in dependencies.lock), e.g. esp_littlefs-1.14.1",
        )
    if m is None:
        raise _unknown_family(spec, spelling)
    family = m.group("family")
    raw = m.group("version")
    rows = tuple(r for r in PLATFORM_ROWS if r.family == family)
    if raw is None:
        return LfsPlatform(family, family, None, rows)
    problem = version_problem(family, raw)
    if problem is not None:
        meant = f"{family}-{problem.meant}" if problem.meant else None
        advice = (
            f"did you mean {meant}? "
            if meant
            else "name the release the units run, or the family alone if it is not known (any "
            "version: on-disk 2.0, which every release mounts): "
        )
        raise PlatformVersionError(
            f"unknown LittleFS platform {spec!r}: {_RELEASE_WORDS[family]} has no release "
            f"{raw!r}: "
            f"{problem.why}",
            hint=advice + set_to(spelling.platform, meant or family),
            family=family,
            meant=meant,
            advice=advice,
        )
    version = tuple(int(x) for x in raw.split("."))
    chosen = tuple(r for r in rows if r.covers(version))
    assert len(chosen) == 1, f"platform table has no single row for {text}"
    return LfsPlatform(text, family, version, chosen)


# The families' own tools' short names (``mos``: Mongoose OS's CLI; ``pio``: PlatformIO's),
# too short for difflib to find the family they name.
_SHORT_NAMES = {"mos": "mongoose-os", "pio": "platformio"}


def _unknown_family(spec: str, spelling: Spelling) -> ImageError:
    """The error for a spec naming no family: with the spec meant when a family is near
    (:class:`PlatformVersionError`, for the CLI to put it into the line typed)."""
    near = _near_family(spec.strip().lower())
    if near is None:
        return ImageError(
            f"unknown LittleFS platform {spec!r}",
            hint=f"FAMILY or FAMILY-VERSION, FAMILY one of {', '.join(FAMILIES)} "
            "(e.g. arduino-2.0.17, esp_littlefs-1.5.5, platformio-6.8.0)",
        )
    family, meant = near
    advice = f"did you mean {meant}? "
    return PlatformVersionError(
        f"unknown LittleFS platform {spec!r}",
        hint=advice + set_to(spelling.platform, meant),
        family=family,
        meant=meant,
        advice=advice,
    )


def _near_family(text: str) -> tuple[str, str] | None:
    """For a spec whose family is misspelt (``mos-2.20``, ``ardiuno``): the family meant
    and the spec to give instead (the release its digits name, if the family made one;
    else the family alone), or None when no family is near."""
    from ..text import closest  # deferred: only a misspelt family needs difflib

    name, _, version = text.partition("-")
    while version and not version[0].isdigit():  # a family with a dash: mongose-os-2.20
        more, _, version = version.partition("-")
        name = f"{name}-{more}"
    found = _SHORT_NAMES.get(name) or next(iter(closest(name, FAMILIES, most=1)), None)
    if found is None:
        return None
    if not version:
        return found, found
    try:
        resolve_platform(f"{found}-{version}")
    except PlatformVersionError as e:
        return found, e.meant or found
    except ImageError:
        return found, found
    return found, f"{found}-{version}"


def parse_disk_version(text: str) -> int:
    """``2.0`` / ``2.1`` -> the on-disk version number."""
    versions = {"2.0": DISK_VERSION_2_0, "2.1": DISK_VERSION_2_1}
    try:
        return versions[text.strip()]
    except KeyError:
        raise ImageError(
            f"LittleFS on-disk version {text!r} is not one littlefs writes",
            hint="give 2.0 or 2.1",
        ) from None


# What a caller likely meant by a disk_version littlefs does not know (the version as
# written, or as a number).
_MEANT: dict[object, int] = {
    "2.0": DISK_VERSION_2_0,
    "2.1": DISK_VERSION_2_1,
    2.0: DISK_VERSION_2_0,
    2.1: DISK_VERSION_2_1,
    20: DISK_VERSION_2_0,
    21: DISK_VERSION_2_1,
}


def check_disk_version(value: object, spelling: Spelling = PYTHON) -> None:
    """Refuse a ``disk_version`` littlefs does not write, before littlefs sees it: its
    ``lfs_init`` asserts on an unknown version, which aborts the interpreter. The
    accepted values are littlefs's own ``LFS_DISK_VERSION`` numbers, 0x00020000 (2.0)
    and 0x00020001 (2.1); None lets the profile or platform choose."""
    if value is None or (type(value) is int and value in (DISK_VERSION_2_0, DISK_VERSION_2_1)):
        return
    option = spelling.disk_version
    option += "" if option.endswith("=") else " "  # a CLI flag (never here: parsed)
    key = value.strip() if isinstance(value, str) else value
    guess = _MEANT.get(key) if isinstance(key, str | int | float) else None
    raise ImageError(
        f"{option}{value!r} is not a LittleFS on-disk version: give 0x00020000 (2.0) or "
        "0x00020001 (2.1), as littlefs's LFS_DISK_VERSION numbers them, or None to let "
        "the profile or platform choose",
        hint=f"for on-disk version {version_text(guess)} give {option}{guess:#010x}"
        if guess is not None
        else f"give {option}0x00020000 or {option}0x00020001",
    )


def _unreadable(said: str, what: str) -> ImageError:
    return ImageError(
        f"{what}: {said} on-disk version 2.1 (littlefs error -84); a unit that mounts "
        "with LittleFS.begin(true) or format_if_mount_failed would format the partition "
        "and lose every file",
        hint="write 2.0 (the default), or name a platform version that reads 2.1",
    )


def choose_disk_version(
    default: int,
    platform: LfsPlatform | None,
    requested: int | None,
    *,
    exact_2_0: bool,
    spelling: Spelling = PYTHON,
) -> int:
    """The version of a new image: an explicit request, else the platform's, else the
    profile's ``default``. ``exact_2_0``: the profile itself reads only 2.0; ``spelling``:
    how the hints name the options (see :mod:`~esp_cabundle.spelling`)."""
    check_disk_version(requested, spelling)
    if requested is not None:
        if requested == DISK_VERSION_2_1 and exact_2_0:
            raise ImageError(
                "on-disk version 2.1 requested, but Mongoose OS (littlefs 2.5) mounts only "
                "2.0 and refuses 2.1 images",
                hint=f"omit {spelling.disk_version}; the mongoose-os profile writes 2.0",
            )
        said = cannot_mount(requested, platform)
        if said is not None:
            raise _unreadable(said, "on-disk version 2.1 requested")
        return requested
    if platform is not None:
        return platform.writes
    return default


def cannot_mount(version: int, platform: LfsPlatform | None) -> str | None:
    """The words saying that units running ``platform`` may not mount on-disk
    ``version`` ("platform arduino-2.0.5 may run littlefs 2.5, which cannot mount"; the
    caller names what), for every check of it to say alike; None when they mount it, or
    when no platform is named (any version: not judged)."""
    if platform is None or version != DISK_VERSION_2_1 or platform.reads_2_1:
        return None
    return (
        f"platform {platform.spec} may run littlefs {platform.oldest_littlefs}, which cannot mount"
    )


def check_readable(
    version: int, platform: LfsPlatform | None, where: str, spelling: Spelling = PYTHON
) -> None:
    """Refuse an existing image the target platform cannot mount (nothing is changed:
    littlefs cannot take an image back from 2.1 to 2.0); the hint names ``spelling``'s
    way to make a new image."""
    said = cannot_mount(version, platform)
    if said is not None:
        raise ImageError(
            f"{where} has on-disk version 2.1; {said} it (a unit that formats on "
            "mount failure would erase it); littlefs cannot convert 2.1 back to 2.0, so "
            "nothing was changed",
            hint=f"make a new 2.0 image with {spelling.pack} (it writes 2.0 for this "
            "platform), or name the platform version the units really run",
        )


# How people call each family, for messages.
_FAMILY_WORDS = {
    "esp_littlefs": "esp_littlefs",
    "arduino": "Arduino-ESP32",
    "platformio": "PlatformIO's mklittlefs",
    "mongoose-os": "Mongoose OS",
}


def readers_of_2_0_only() -> str:
    """The platforms that cannot mount on-disk 2.1, from :data:`PLATFORM_ROWS` (the
    table README shows): ``esp_littlefs < 1.6, Arduino-ESP32 < 2.0.17, ...``."""
    parts = []
    for family in FAMILIES:
        rows = [r for r in PLATFORM_ROWS if r.family == family]
        first = next((r for r in rows if r.reads_2_1), None)
        if first is None:
            parts.append(_FAMILY_WORDS[family])
        elif not rows[0].reads_2_1:
            parts.append(f"{_FAMILY_WORDS[family]} < {'.'.join(map(str, first.low))}")
    return ", ".join(parts)


def refuse_version_change(
    current: int, requested: int | None, where: str, spelling: Spelling = PYTHON
) -> None:
    """An edit keeps the image's version; asking for another one is an error (the hints
    name the options as ``spelling`` does; ``requested`` was checked by the caller,
    :func:`.lfs_identify.identify_image`)."""
    if requested is None or requested == current:
        return
    if current == DISK_VERSION_2_0:
        raise ImageError(
            f"{where} has on-disk version 2.0; esp-cabundle does not upgrade it to "
            f"{version_text(requested)}: "
            f"units running littlefs before 2.6 ({readers_of_2_0_only()}) could no longer "
            "mount it and may format it; nothing was changed",
            hint=f"omit {spelling.disk_version} to keep 2.0 (firmware with littlefs 2.6+ reads 2.0 "
            "and upgrades it itself on its first write)",
        )
    raise ImageError(
        f"{where} has on-disk version {version_text(current)}; littlefs cannot convert it "
        f"to {version_text(requested)}; nothing was changed",
        hint=spelling.repack.format(version_text(requested)),
    )
