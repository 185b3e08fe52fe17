"""Board profiles: where a target keeps its CA, in what form, and how it verifies.

One YAML file per target lives in ``esp_cabundle/data/boards/`` (the repository's
top-level ``boards/`` points there); ``boards/README.md`` documents every field. A
profile tells the rest of the tool which partition(s) hold the file system (Mongoose OS
has two, ``fs_0`` and ``fs_1``, and both must be updated), which file-system profile
wrote them, the CA file's path, the output a firmware build needs (file, C ``s_pem``,
ESP-IDF bundle v1/v2), and the verification rules ``check`` applies by default.

Loading validates every field; an error names the file, the line and the key. The
types a profile loads into are in :mod:`.board_model` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from .board_model import (
    CHIPS,
    CLOCK_MODES,
    FLASH_SIZES,
    FS_PROFILE_NAMES,
    OUTPUT_FORMS,
    VERIFY_RULES,
    Board,
    BoardOutput,
    FsTarget,
    VerifyProfile,
    check_board_name,
)
from .board_versions import BoardFirmware, parse_board_firmware, release_output
from .errors import ConfigError, ImageError, InputError, PartitionTableError
from .file_inputs import expand_user
from .file_kinds import base_dir_of
from .fileio import read_input
from .firmware import load_firmware, parse_version, version_ranges
from .formats.idf_bundle import choose_bundle_format
from .fs.base import checked_path
from .fs.lfs_platforms import resolve_platform
from .limits import MAX_CSV_INPUT
from .partitions import DEFAULT_TABLE_OFFSET, PartitionTable
from .sizes import parse_size
from .spelling import CONFIG_SPELLING
from .text import decoded_utf8, printable, suggest
from .verify import mbedtls_version_for
from .yamlnodes import Node, compose_nodes, read_yaml_text

__all__ = [
    "CHIPS",
    "CLOCK_MODES",
    "FLASH_SIZES",
    "FS_PROFILE_NAMES",
    "OUTPUT_FORMS",
    "VERIFY_RULES",
    "Board",
    "BoardFirmware",
    "BoardOutput",
    "FsTarget",
    "VerifyProfile",
    "board_file",
    "board_names",
    "boards_dir",
    "list_boards",
    "load_board",
    "parse_board",
    "with_version",
]

_FS_SUBTYPES = ("spiffs", "littlefs", "fat")
_PICKS = ("all", "first", "last")
# Output options each form accepts (beyond ``form`` and ``path``), as FORMATS names them.
_OUTPUT_OPTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "filesystem": (),
        "c": ("name", "style"),
        "idf-bundle": ("idf_version", "bundle_format", "max_certs"),
    }
)
_TOP_KEYS = (
    "name",
    "description",
    "framework",
    "chips",
    "flash_size",
    "partition_table",
    "filesystem",
    "output",
    "verify",
    "notes",
    "firmware",
)


# ---------------------------------------------------------------------------------------
# Loading


def boards_dir() -> Path:
    """The directory of the shipped profiles (inside the installed package)."""
    return Path(str(resources.files("esp_cabundle").joinpath("data/boards")))


def board_file(board: Board) -> str:
    """The file ``board`` was read from when it is not a shipped one, else "": the
    journal keeps a board by name, so a restore of its update needs that file given."""
    if not board.source or Path(board.source).parent == boards_dir():
        return ""
    return board.source


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.yaml"))


def list_boards() -> list[Board]:
    """Every shipped profile, by name."""
    return [load_board(n) for n in board_names()]


def load_board(name_or_path: str | Path) -> Board:
    """A shipped profile by name, or a profile file by path, optionally with the version
    of the firmware it runs (``mdash-arduino@1.2.13``; without one, the board's default)."""
    check_board_name(name_or_path)  # bytes or None: looked up as the board "b'mdash'"
    text_name = str(name_or_path)
    version = None
    if not isinstance(name_or_path, Path):
        head, sep, tail = text_name.rpartition("@")
        if sep and head and "/" not in tail:
            if not tail.strip():
                raise InputError(
                    f"no version after '@' in '{text_name}'", hint=f"write {head}@VERSION"
                )
            text_name, version = head, tail
    return with_version(load_board_file(text_name, name_or_path), version)


def load_board_beside(text: str, base_dir: Path) -> Board:
    """A board a file names (a config's ``board:``, an output's ``board:``): a shipped
    board by name, or a board file relative to ``base_dir``, that file's directory (not
    the working directory: a look-alike there must not be read), with any ``@VERSION``."""
    head, sep, tail = text.rpartition("@")
    name, version = (head, sep + tail) if sep and head and "/" not in tail else (text, "")
    if _is_board_path(name):
        name = str(base_dir / expand_user(name, error=ConfigError))
    return load_board(name + version)


def _is_board_path(text_name: str) -> bool:
    """Whether a board argument names a file (``*.yaml``, or with a '/'), not a board."""
    return Path(text_name).suffix in (".yaml", ".yml") or "/" in text_name


def with_version(board: Board, version: str | None) -> Board:
    """The board running ``version`` of its firmware (None: the board's default version);
    the release may change the output (an ESP-IDF version picks the bundle layout)."""
    bf = board.firmware
    if bf is None:
        if version is not None:
            raise InputError(
                f"board {board.name} has no firmware versions",
                hint="'esp-cabundle boards' lists the versions of the boards that have them",
            )
        return board
    firmware = load_firmware(bf.name)
    chosen = version or bf.default
    v = parse_version(chosen)
    if not any(lo <= v <= hi for lo, hi in version_ranges(bf.versions)):
        other = board_running(bf.name, v)
        hint = f"use --board {other}@{chosen}" if other else f"this board covers {bf.versions}"
        if other is None and not any(r.matches(v) for r in firmware.releases):
            traced = ", ".join(firmware.version_labels())
            hint += (
                f"; {firmware.title} {chosen} is not among the releases whose code was traced "
                f"({traced}), so no board claims it"
            )
        raise InputError(f"board {board.name} does not run {firmware.title} {chosen}", hint=hint)
    release = firmware.release(chosen)
    output = release_output(board.output, release, chosen)
    if output.form == "idf-bundle" and "idf_version" in output.options:
        # The version is the board's (@5 gives idf_version 5): judged now, its hint
        # naming the board line to write (esp-idf-bundle@5.4), not an option.
        spelling = CONFIG_SPELLING._replace(idf_version=f"{board.name}@{{}}")
        choose_bundle_format(idf_version=str(output.options["idf_version"]), spelling=spelling)
    return replace(
        board, version=chosen, version_given=version is not None, release=release, output=output
    )


def board_running(firmware: str, version: tuple[int, ...]) -> str | None:
    """The shipped board that runs ``version`` of ``firmware``, if one does."""
    for name in board_names():
        fw = load_board_file(name, name).firmware
        if (
            fw is not None
            and fw.name == firmware
            and any(lo <= version <= hi for lo, hi in version_ranges(fw.versions))
        ):
            return name
    return None


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the system refuses (ENAMETOOLONG): the name
    is then an unknown board, said as any other, not a traceback."""
    try:
        return p.is_file()
    except OSError:
        return False


def load_board_file(text_name: str, name_or_path: str | Path) -> Board:
    """A profile by name or path, without choosing a firmware version."""
    p = Path(text_name)
    is_path = isinstance(name_or_path, Path) or _is_board_path(text_name)
    if not is_path:
        p = boards_dir() / f"{text_name}.yaml"
        if not _is_file(p):
            names = board_names()
            hint = suggest(text_name, names) or f"boards: {', '.join(names)}"
            if _is_file(Path(text_name)):  # a file, but no board file: say which it is
                raise ConfigError(
                    f"unknown board '{text_name}': a file of that name is here, but a board "
                    "file is YAML named *.yaml or *.yml",
                    hint=f"a board's name ({', '.join(names[:3])}, ...: esp-cabundle "
                    "boards), or a board YAML file",
                )
            raise ConfigError(f"unknown board '{text_name}'", hint=hint)
    text = read_yaml_text(p, what="board file")
    return parse_board(text, source=str(p), expected_name=p.stem if is_path else text_name)


def _size(node: Node, what: str) -> int:
    v = node.value
    if isinstance(v, bool):
        raise node.error(f"expected a {what} such as 4MB or 0x400000")
    if isinstance(v, int):
        if v <= 0:
            raise node.error(f"{what} must be positive")
        return v
    if isinstance(v, str):
        try:
            n = parse_size(v, what=what)
        except InputError:
            n = 0
        if n > 0:
            return n
    raise node.error(f"expected a {what} such as 4MB or 0x400000, got {v!r}")


def _str_list(node: Node) -> tuple[str, ...]:
    return tuple(n.as_str() for n in node.as_list())


def _path_in_fs(node: Node) -> str:
    s = node.as_str()
    if not s.startswith("/") or s.endswith("/"):
        raise node.error(
            f"'{printable(s)}' is not an absolute file path in the file system (e.g. /ca.pem)"
        )
    try:
        return checked_path(s, "board's file system")
    except ImageError as e:
        raise node.error(e.message, hint=e.hint) from e


_LAYOUT_HINT = (
    "layout takes the table's CSV text (a 'layout: |' block, one partition a line) or "
    "the path of a partitions CSV (partitions.csv, relative to the board file)"
)


def _layout(node: Node, *, offset: int, flash_size: int) -> tuple[PartitionTable, str]:
    """``partition_table.layout``: the table's CSV text, or the path of a project's own
    partitions CSV (ESP-IDF, PlatformIO), relative to the board file: one line with no
    comma, which no CSV row is (it has five fields). With the path of the CSV read ("" for
    text): what is built from the board depends on that file too."""
    text = node.as_str()
    if text.strip() and "\n" not in text.strip() and "," not in text:
        name = node.as_file_name().strip()
        return _layout_file(node, name, offset=offset, flash_size=flash_size)
    try:
        table = PartitionTable.from_csv(text, offset=offset, flash_size=flash_size, source="csv")
        return table, ""
    except PartitionTableError as e:
        # CSV line n sits n lines below the "layout: |" key; a one-line value is on it.
        below = e.line is not None and "\n" in text
        line = node.line + (e.line or 0) if below else node.line
        prefix = f"csv:{e.line}: " if e.line is not None else "csv: "
        raise ConfigError(
            f"partition_table.layout: {e.message.removeprefix(prefix)}",
            path=node.where,
            line=line,
            hint=f"{e.hint}; {_LAYOUT_HINT}" if e.hint else _LAYOUT_HINT,
        ) from e


def _layout_file(
    node: Node, name: str, *, offset: int, flash_size: int
) -> tuple[PartitionTable, str]:
    """The partitions CSV ``layout: NAME`` names, beside the board file (as a config's
    ``chain:`` is read beside the config); its errors name that file and line."""
    try:
        path = base_dir_of(Path(node.where)) / expand_user(name)
        data = read_input(
            path,
            what="partitions CSV",
            error=ConfigError,
            max_bytes=MAX_CSV_INPUT,
            regular_only=True,  # a FIFO or device named here would hang or never end
        )
        text = decoded_utf8(data, what="partitions CSV", path=str(path), error=ConfigError)
    except InputError as e:
        raise node.error(e.message, hint=e.hint or _LAYOUT_HINT) from e
    try:
        table = PartitionTable.from_csv(
            text, offset=offset, flash_size=flash_size, source=str(path)
        )
        return table, str(path)
    except PartitionTableError as e:
        raise ConfigError(
            f"{e.message} (the partition_table.layout of {node.where}:{node.line})",
            hint=e.hint,
        ) from e


def parse_board(text: str, *, source: str, expected_name: str | None = None) -> Board:
    """Validate a profile text; every error carries ``source:line`` and the key."""
    top = compose_nodes(text, source, what="board file").as_mapping(_TOP_KEYS)
    for key in ("name", "chips", "output", "verify"):
        if key not in top:
            raise ConfigError(f"missing required key '{key}'", path=source, line=1)
    name = top["name"].as_str()
    if expected_name is not None and name != expected_name:
        raise top["name"].error(
            f"'{name}' does not match the file name '{expected_name}'",
            hint=f"a board's name is its file's name: write 'name: {expected_name}', or "
            f"rename the file {name}.yaml",
        )
    chips = tuple(n.as_choice(CHIPS) for n in top["chips"].as_list())
    if not chips:
        raise top["chips"].error("list at least one chip")
    flash_size = _size(top["flash_size"], "flash size") if "flash_size" in top else 4 << 20
    if flash_size not in FLASH_SIZES:
        raise top["flash_size"].error(
            f"{flash_size:,} bytes is not a flash size ESP32 chips come with",
            hint="one of 256KB, 512KB, 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB (esptool's)",
        )

    table_offset = DEFAULT_TABLE_OFFSET
    layout: PartitionTable | None = None
    layout_file = ""
    if "partition_table" in top:
        pt = top["partition_table"].as_mapping(("offset", "layout"))
        if "offset" in pt:
            table_offset = pt["offset"].as_int(minimum=0)
            if table_offset % 0x1000:
                raise pt["offset"].error(f"{table_offset:#x} is not 4 KiB aligned")
        if "layout" in pt:
            layout, layout_file = _layout(pt["layout"], offset=table_offset, flash_size=flash_size)

    filesystem = _parse_fs(top["filesystem"]) if "filesystem" in top else None
    output = _parse_output(top["output"])
    verify_node = top["verify"]
    vm = verify_node.as_mapping(("rules", "clock", "mbedtls", "hostname", "ca_parse"))
    for key in ("rules", "clock"):
        if key not in vm:
            raise verify_node.error(f"missing '{key}'")
    mbedtls = None
    if "mbedtls" in vm:
        raw = vm["mbedtls"].value  # "3.6", 3.6 (YAML reads it as a number) or "idf-5.4"
        text = str(raw) if isinstance(raw, (int, float)) else vm["mbedtls"].as_str()
        try:
            mbedtls = mbedtls_version_for(text)
        except InputError as e:
            raise vm["mbedtls"].error(e.message, hint=e.hint) from e
    verify = VerifyProfile(
        rules=vm["rules"].as_choice(VERIFY_RULES),  # type: ignore[arg-type]
        clock=vm["clock"].as_choice(CLOCK_MODES),  # type: ignore[arg-type]
        mbedtls=mbedtls,
        hostname=vm["hostname"].as_bool() if "hostname" in vm else True,
        ca_parse=vm["ca_parse"].as_choice(("skip", "fatal")) if "ca_parse" in vm else "skip",  # type: ignore[arg-type]
    )

    if output.form == "filesystem" and filesystem is None:
        raise top["output"].error("form 'filesystem' needs a 'filesystem' section")
    if output.form == "idf-bundle" and verify.rules == "mbedtls":
        raise vm["rules"].error(
            "an idf-bundle board verifies with the bundle callback: rules idf-bundle or "
            "idf-bundle-cross-signed"
        )
    if output.form != "idf-bundle" and verify.rules != "mbedtls":
        raise vm["rules"].error(f"rules '{verify.rules}' needs output form idf-bundle")
    if filesystem is not None and layout is not None:
        try:
            filesystem.select(layout)
        except PartitionTableError as e:
            raise top["filesystem"].error(
                f"does not match partition_table.layout: {e.message}"
            ) from e

    notes = _str_list(top["notes"]) if "notes" in top else ()
    firmware = parse_board_firmware(top["firmware"]) if "firmware" in top else None
    return Board(
        name=name,
        description=top["description"].as_str().strip() if "description" in top else "",
        framework=top["framework"].as_str() if "framework" in top else "",
        chips=chips,
        flash_size=flash_size,
        table_offset=table_offset,
        output=output,
        verify=verify,
        filesystem=filesystem,
        layout=layout,
        layout_file=layout_file,
        notes=notes,
        source=source,
        firmware=firmware,
    )


def _parse_fs(node: Node) -> FsTarget:
    m = node.as_mapping(
        ("type", "profile", "ca_path", "partitions", "subtype", "pick", "config_files", "platform")
    )
    for key in ("type", "profile", "ca_path"):
        if key not in m:
            raise node.error(f"missing '{key}'")
    fs_type = m["type"].as_choice(tuple(FS_PROFILE_NAMES))
    profile = m["profile"].as_choice(FS_PROFILE_NAMES[fs_type])
    partitions = _str_list(m["partitions"]) if "partitions" in m else ()
    subtypes = (
        tuple(n.as_choice(_FS_SUBTYPES) for n in m["subtype"].as_list()) if "subtype" in m else ()
    )
    if not partitions and not subtypes:
        raise node.error("name the partitions ('partitions') or their 'subtype'")
    if len(set(partitions)) != len(partitions):
        raise m["partitions"].error("a partition is listed twice")
    pick = m["pick"].as_choice(_PICKS) if "pick" in m else "all"
    if "pick" in m and partitions:
        raise m["pick"].error("'pick' applies to 'subtype' selection, not to named partitions")
    config_files = (
        tuple(_path_in_fs(n) for n in m["config_files"].as_list()) if "config_files" in m else ()
    )
    platform = _platform(m["platform"], fs_type, profile) if "platform" in m else None
    return FsTarget(
        fs_type=fs_type,
        profile=profile,
        ca_path=_path_in_fs(m["ca_path"]),
        partitions=partitions,
        subtypes=subtypes,
        pick=pick,  # type: ignore[arg-type]
        config_files=config_files,
        platform=platform,
    )


def _platform(node: Node, fs_type: str, profile: str) -> str:
    """A LittleFS platform (version) that agrees with the board's profile."""
    text = node.as_str()
    if fs_type != "littlefs":
        raise node.error("'platform' applies to LittleFS file systems")
    try:
        plat = resolve_platform(text, CONFIG_SPELLING)
    except ImageError as e:
        raise node.error(e.message, hint=e.hint) from e
    if plat.profile != profile:
        raise node.error(f"platform {plat.spec} uses the {plat.profile} profile, not {profile}")
    return plat.spec


def _parse_output(node: Node) -> BoardOutput:
    m = node.as_mapping()
    if "form" not in m:
        raise node.error("missing 'form' (filesystem, c or idf-bundle)")
    form = m["form"].as_choice(OUTPUT_FORMS)
    m = node.as_mapping(("form", "path", *_OUTPUT_OPTIONS[form]))
    options: dict[str, str | int | bool] = {}
    for key, n in m.items():
        if key in ("form", "path"):
            continue
        v = n.value
        if isinstance(v, float) and key != "max_certs":
            raise n.number_error()  # idf_version: 5.10, which YAML reads as 5.1
        if not isinstance(v, str | int | bool):
            raise n.error("expected a scalar value (quote versions: '5.4')")
        options[key] = v
    if form == "idf-bundle":
        try:
            choose_bundle_format(
                idf_version=str(options["idf_version"]) if "idf_version" in options else None,
                bundle_format=str(options["bundle_format"]) if "bundle_format" in options else None,
                spelling=CONFIG_SPELLING,
            )
        except InputError as e:
            raise node.error(e.message, hint=e.hint) from e
    path = m["path"].as_str() if "path" in m else None
    return BoardOutput(form=form, path=path, options=options)  # type: ignore[arg-type]
