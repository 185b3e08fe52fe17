"""How the caller's user names the options that a library hint points to.

An error's hint says what to change. A script calling the library changes a parameter
(``locked=True``, ``check_targets=False``); a CLI user changes a flag (``--locked``,
``--no-check``). The functions whose hints name an option take ``spelling`` (default
:data:`PYTHON`: the library's own parameters and fields); the CLI passes its own
spelling (:data:`CLI_SPELLING`), so its messages name its flags while a script is never
told of a flag it cannot pass. One value carries every
option, so a call passes it on whole rather than one name per hint.

A shell's words are quoted here too (:func:`shell_word`, which file_kinds re-exports):
this module imports nothing of the package, so errors.py and a Spelling's own quote
can use it (importing file_kinds, either would close an import circle).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "BOARD_SPELLING",
    "CLI_SPELLING",
    "CONFIG_SPELLING",
    "PYTHON",
    "Spelling",
    "bare",
    "set_to",
    "shell_join",
    "shell_word",
]


class Spelling(NamedTuple):
    """Each option as the caller's user writes it; ``{}`` marks where a value goes.

    A NamedTuple, not a dataclass: every command imports it, and a frozen dataclass of
    this many fields costs ~1 ms to make at import, a tuple class a tenth of that (issue
    13 measures build against gen_crt_bundle.py whole-process). Change one with
    ``_replace``."""

    no_check: str  # judge no target or connection
    allow: str  # relax the policies named in {} (comma-separated)
    service_until: str  # the devices' end of service
    max_bytes: str  # the size budget of what a build writes
    selection: str  # build a CA from presets and roots
    build: str  # run a build (the phrase before "without <locked>")
    locked: str  # require the lock file's roots
    no_lock: str  # build without reading or writing the lock file
    profile: str  # a file-system image's profile
    ca_path: str  # where an image holds the CA file
    offset: str  # where a partition starts in a file
    size: str  # a partition's size
    # fs, flash, formats
    fs_type: str  # which file system an image holds
    platform: str  # the LittleFS platform version the units run
    disk_version: str  # a LittleFS image's on-disk version
    pack: str  # make a new image
    repack: str  # make a new image of the on-disk version in {}
    # check, push, restore
    until: str  # the horizon checked to, {} the date
    at: str  # the date checked, {} the date
    bundle: str  # the trust set judged, read from the file {} (bundle_for quotes it)
    device: str  # the device profile named {} (device_for quotes it)
    chain: str  # a server's chain read from a file
    pulled: str  # what saves a chain as a server sends it
    host: str  # a chain captured from a server
    tls_ca: str  # the CA file that TLS links verify their server with
    mqtt: str  # a link through an MQTT broker
    unit_ids: str  # the ids of the units a broker reaches
    api_key: str  # where the mDash API key comes from
    mdash_url: str  # the mDash API's address
    devices: str  # the units of an mDash account to reach
    list_units: str  # what lists every unit of an account, writing nothing
    # boards, catalog, formats
    board: str  # the board a unit runs (its partitions, its file system)
    boards: str  # what lists the boards
    inspect: str  # what shows what a unit or a dump holds
    root_file: str  # a root given as a file
    idf_filter: str  # what reads ESP-IDF's cmn_crt_authorities.csv
    # round 4
    profile_off: str  # open an image as its bytes say, not as the profile given
    geometry: str  # where a partition starts and how big it is ("check {}")
    find_root: str  # what finds a root's alias or fingerprint
    compiled: str  # what makes a CA in a firmware's compiled-in form
    # round 5: formats, push links, virtual units
    c_name: str  # the C output's variable name
    c_style: str  # the C output's shape (s_pem, array)
    pem: str  # ask for the PEM output
    max_certs: str  # the ESP-IDF bundle's most roots
    new_layout: str  # give the v2 bundle layout by hand
    frame_size: str  # the RPC frame budget
    in_place: str  # write the CA file directly, with no staged copy
    mqtt_url: str  # the MQTT broker's URL
    rpc_urls: str  # the units' RPC URLs
    dump: str  # start a virtual unit from a whole-flash dump
    lay_out: str  # lay a virtual unit out for a board
    # round 6: virtual units, partition tables, chains
    read_all: str  # what reads a unit's whole flash into a dump
    mqtt_password: str  # where the MQTT broker's password comes from
    # round 7: partition tables, flashing
    table_offset: str  # say where a moved partition table sits
    hostname: str  # the server name a chain is judged for
    # round 8: flashing, restoring, the journal
    flash: str  # what updates a unit's CA file, journaling it first
    journal_dir: str  # where the journal is kept
    journal_list: str  # what shows the journal's entries
    other_journal: str  # undo first an update journaled in another directory
    force: str  # write the saved sectors back whatever the file system holds now
    restore: str  # what undoes a unit's newest journaled update
    again: str  # run a stopped update once more (it finishes from the journal)
    restore_port: str  # that, for the unit on the port {} (restore_for quotes it)
    inspect_unit: str  # what shows what the unit on the port {} holds (inspect_for)
    list_fs: str  # what lists the file system at an offset of the file {} (list_fs_for)
    # round 9: a unit of another board
    board_again: str  # the same update with the board {} (board_again_for quotes it)
    # round 10: firmware versions
    idf_version: str  # the firmware version an idf-bundle output is for, {} the version
    # Said, not guessed from a word's shape: the caller is the CLI, so a hint may name a
    # command to run ('esp-cabundle chains pull') where a script is shown the call to make.
    cli: bool = False
    # The journal :meth:`located` put in :attr:`again` and :attr:`restore_port` (its words,
    # "" for none), so :meth:`restore_from` can name another one there.
    journal_at: str = ""

    def quote(self, value: str) -> str:
        """``value`` (a port, a path) as one literal of the caller's language, to put in
        a ``{}`` of a command or a call: a port such as ``rfc2217://host:4000?ign_set_control``
        must reach the program whole, not globbed by zsh nor cut at a quote.

        Python: its repr. A shell: as is when nothing in it is special; else in double
        quotes, since the hints set a command off in single quotes ('esp-cabundle restore
        --port "..."') and the command stays the text between them; shlex's single
        quotes only for the characters a shell still expands inside double quotes, and
        :func:`shell_word`'s ``$'...'`` for bytes that were not UTF-8 or a control
        character (quoted as is, the escape that shows them named another file)."""
        if not self.cli:
            return repr(value)
        if shlex.quote(value) == value:
            return value
        if not value.isprintable():
            return shell_word(value)
        if any(c in value for c in '"$`\\!'):
            return shlex.quote(value)
        return f'"{value}"'

    def restore_for(self, port: str) -> str:
        """:attr:`restore_port` for the unit on ``port``, the port quoted."""
        return self.restore_port.format(self.quote(port))

    def located(self, journal_dir: str | os.PathLike[str] | None, board_file: str = "") -> Spelling:
        """These words, the rerun (:attr:`again`) and the restore (:attr:`restore_port`)
        naming the journal ``journal_dir`` a flash or restore was given (absolute), and
        ``board_file`` (a board given by path, which the journal keeps by name only):
        run as printed, from any directory, they read that journal, not the default.
        None: ``$ESP_CABUNDLE_JOURNAL`` when set (the journal the run used), since a shell
        without that variable would look in the default journal and find nothing."""
        extra = []
        if journal_dir is None:
            journal_dir = os.environ.get("ESP_CABUNDLE_JOURNAL") or None
        if journal_dir is not None:
            extra.append(self._journal_words(self.quote(os.path.abspath(journal_dir))))
        if board_file:
            board = self.quote(os.path.abspath(board_file))
            extra.append(f"--board {board}" if self.cli else f"board=load_board({board})")
        if not extra:
            return self
        said = " ".join(extra) if self.cli else ", ".join(extra)
        return self._replace(
            again=f"{self.again} (with {said})",
            restore_port=self._after_port(self.restore_port, said),
            journal_at=extra[0] if journal_dir is not None else self.journal_at,
        )

    def restore_from(self, port: str, journal: str) -> str:
        """:meth:`restore_for` reading the journal said as ``journal`` (words, such as
        ``DIR``: put as is) instead of the one :meth:`located` named; a board file it
        named stays, so the line still loads the right board."""
        said = self._journal_words(journal)
        line = self.restore_port
        if self.journal_at:
            line = line.replace(_braced(self.journal_at), _braced(said), 1)
        else:
            line = self._after_port(line, said)
        return line.format(self.quote(port))

    def _journal_words(self, where: str) -> str:
        """``--journal-dir WHERE`` (``journal_dir=WHERE`` for a script)."""
        return f"{self.journal_dir} {where}" if self.cli else f"{self.journal_dir}{where}"

    def _after_port(self, line: str, said: str) -> str:
        """``line`` with ``said`` put after its port's ``{}`` (as a word, or an argument)."""
        return line.replace("{}", ("{} " if self.cli else "{}, ") + _braced(said), 1)

    def journal_list_in(self, journal: str) -> str:
        """:attr:`journal_list` for the journal said as ``journal`` (words, put as is),
        to run as printed: a command, inside its closing quote."""
        if not self.cli:
            return self.journal_list
        return f"{self.journal_list[:-1]} {self.journal_dir} {journal}{self.journal_list[-1]}"

    def bundle_for(self, path: str) -> str:
        """:attr:`bundle` for the trust set read from ``path``, the path quoted."""
        return self.bundle.format(self.quote(path))

    def list_fs_for(self, path: str) -> str:
        """:attr:`list_fs` for the file at ``path``, the path quoted."""
        return self.list_fs.format(self.quote(path))

    def device_for(self, name: str) -> str:
        """:attr:`device` for the device profile ``name``, the name quoted (a profile
        spec such as ``mbedtls+clock=synced`` or a file's path reaches the caller whole)."""
        return self.device.format(self.quote(name))

    def table_offset_at(self, offset: int) -> str:
        """:attr:`table_offset` with the offset filled in where it has a place for it."""
        return self.table_offset.replace("...", f"{offset:#x}")

    def board_again_for(self, name: str) -> str:
        """:attr:`board_again` for the board ``name``, the name quoted."""
        return self.board_again.format(self.quote(name))

    def inspect_for(self, port: str) -> str:
        """:attr:`inspect_unit` for the unit on ``port``, the port quoted."""
        return self.inspect_unit.format(self.quote(port))


PYTHON = Spelling(
    no_check="check_targets=False",
    allow="Policy(allow=...) naming {}",
    service_until="Policy(service_until=...)",
    max_bytes="Policy(max_bytes=...)",
    selection="BundleSpec(presets=..., roots=...)",
    build="build (build_bundle, write_build)",
    locked="locked=True",
    no_lock="lock_path=None",
    profile="profile=",
    ca_path="ca_path=",
    offset="offset=",
    size="size=",
    # fs, flash, formats
    fs_type="fs_type=",
    platform="platform=",
    disk_version="disk_version=",
    pack="pack_ca",
    repack="make a new image with pack_ca or pack_image (disk_version= for {})",
    # check, push, restore
    until="until={}",
    at="at={}",
    bundle="load_trust_set({})",
    device="device=parse_device_profile({})",
    chain="load_chain_file()",
    pulled="capture_chain returns it",
    host="capture_chain()",
    tls_ca="ca_file=",
    mqtt="MqttTransport",
    unit_ids="device_ids=",
    api_key="api_key=",
    mdash_url="base_url=",
    devices="devices=",
    list_units="MdashTransport.units()",
    # boards, catalog, formats
    board="board",
    boards="list_boards()",
    inspect="inspect_bytes",
    root_file="BundleSpec(roots=['path/to/root.pem'])",
    idf_filter="load_cmn_filter",
    # round 4
    profile_off="omit profile= to open it as it is",
    geometry="size=/offset=",
    find_root="Catalog.load().search(QUERY)",
    compiled="build_bundle (an OutputSpec per file)",
    # round 5
    c_name="name=",
    c_style="style=",
    pem="OutputSpec('pem', path)",
    max_certs="max_certs=",
    new_layout="bundle_format='v2'",
    frame_size="frame_size=",
    in_place="in_place=True",
    mqtt_url="url=",
    rpc_urls="urls=",
    dump="dump_image(FLASH_BYTES)",
    lay_out="board_image(load_board(NAME))",
    # round 6
    read_all="unit = open_unit(PORT); unit.read(0, unit.size)",
    mqtt_password="the URL's user:password@, or MqttUrl(password=...)",
    # round 7
    table_offset="read_partition_table(flash, offset=...), or 'partition_table: "
    "{offset: ...}' in a board file given to load_board(PATH)",
    hostname="hostname=",
    # round 8
    flash="flash_unit",
    journal_dir="journal_dir=",
    journal_list="the journal's directory (a folder per MAC, a JSON file per update)",
    other_journal="(flash_unit(..., journal_dir=...)), undo that one first: "
    "restore_unit(PORT, journal_dir=...) with that journal",
    force="force=True",
    restore="restore_unit",
    again="call flash_unit again",
    restore_port="restore_unit({})",
    inspect_unit="inspect_bytes(unit.read(0, unit.size), source={0}) with unit = open_unit({0})",
    list_fs="open_image(data[0x290000:0x290000 + 0x160000]).files()",
    # round 9
    board_again="use load_board({})",
    idf_version="idf_version='{}'",
)


# The flags the library's hints name when the CLI calls it (commands.options passes it on;
# a script is told of the parameters instead: PYTHON).
CLI_SPELLING = Spelling(
    no_check="--no-check",
    allow="--allow {}",
    service_until="--service-until",
    max_bytes="--max-bytes",
    selection="--preset/--root",
    build="run 'esp-cabundle build'",
    locked="--locked",
    no_lock="--no-lock",
    profile="--profile",
    ca_path="--ca-path",
    offset="--offset",
    size="--size",
    # fs, flash, formats
    fs_type="--fs",
    platform="--platform",
    disk_version="--disk-version",
    pack="'esp-cabundle pack'",
    repack="make a new image with 'esp-cabundle pack --disk-version {}'",
    # check, push, restore
    until="--until {}",
    at="--at {}",
    bundle="--bundle {}",
    device="--device {}",
    chain="--chain",
    pulled="'esp-cabundle chains pull' saves it",
    host="--host",
    tls_ca="--tls-ca",
    mqtt="--mqtt",
    unit_ids="--device ID or --devices FILE",
    api_key="MDASH_API_KEY or --api-key-file",
    mdash_url="the --mdash URL",
    devices="--device/--devices",
    list_units="push --dry-run",
    # boards, catalog, formats
    board="--board",
    boards="esp-cabundle boards",
    inspect="esp-cabundle inspect",
    root_file="--root path/to/root.pem",
    idf_filter="--idf-filter",
    # round 4
    profile_off="omit --profile to open it as it is",
    geometry="--size/--offset",
    find_root="run 'esp-cabundle roots QUERY'",
    compiled="'esp-cabundle build'",
    # round 5
    c_name="--c-name",
    c_style="--c-style",
    pem="--format pem",
    max_certs="max_certs: on the idf-bundle output in cabundle.yaml",
    new_layout="'bundle_format: v2' on the output in cabundle.yaml",
    frame_size="--frame-size",
    in_place="--in-place",
    mqtt_url="--mqtt",
    rpc_urls="--rpc",
    dump="--dump FILE",
    lay_out="--board NAME",
    # round 6
    read_all="esp-cabundle read --port PORT --all -o dump.bin",
    mqtt_password="MQTT_PASSWORD or --mqtt-password-file",
    # round 7
    table_offset="'partition_table: {offset: ...}' in a board file given as --board FILE "
    "(flash, restore, inspect), or 'read --table-offset'",
    hostname="--hostname",
    # round 8
    flash="esp-cabundle flash",
    journal_dir="--journal-dir",
    journal_list="'esp-cabundle journal list'",
    other_journal="(flash --journal-dir), undo that one first: restore --journal-dir with "
    "that journal",
    force="--force",
    restore="'esp-cabundle restore'",
    again="run the same command again",
    restore_port="'esp-cabundle restore --port {}'",
    inspect_unit="esp-cabundle inspect --port {}",
    list_fs="esp-cabundle fs ls {} --offset 0x290000 --size 1408K",
    # round 9 (a command that knows the line typed gives it, mended: flash)
    board_again="run the same command again with --board {}",
    idf_version="--idf-version {}",
    cli=True,
)


# The commands that edit the file system of a unit or a dump (flash, update-dump,
# restore) have no --profile, --size or --offset: the board names the profile, the
# unit's own partition table the partitions. Their hints name what their user changes.
BOARD_SPELLING = CLI_SPELLING._replace(
    profile="--board (its filesystem: profile:)",
    offset="the unit's partition table",
    size="the unit's partition table",
    profile_off="pick the --board whose filesystem: profile: made this file system "
    "(esp-cabundle boards)",
    geometry="the image in this partition (write one made with 'esp-cabundle pack --size' "
    "the partition's size)",
)


# An entry of cabundle.yaml is changed by its keys, whichever command or script loads it
# (load_config takes no spelling of its caller's): an image output's profile:, platform:
# (its only say in the on-disk version), size:, ca_path:; a C output's name: and style:; an ESP-IDF
# bundle's max_certs:. The rest is the library's.
CONFIG_SPELLING = PYTHON._replace(
    profile="profile:",
    ca_path="ca_path:",
    size="size:",
    platform="platform:",
    disk_version="platform:",
    c_name="name:",
    c_style="style:",
    pem="format: pem",
    max_certs="max_certs:",
    new_layout="'bundle_format: v2'",
    idf_version="idf_version: '{}'",
)


def _braced(text: str) -> str:
    """``text`` put in a format string as is (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def set_to(option: str, value: str | int) -> str:
    """``option`` given ``value`` as its user writes it: a flag and a word
    (``--profile esp-idf``), or a parameter and a Python literal (``profile='esp-idf'``);
    a number (an offset, a size) in hex either way."""
    text = f"{value:#x}" if isinstance(value, int) else value
    if not option.endswith("="):
        return f"{option} {text}"
    return option + (text if isinstance(value, int) else repr(text))


def bare(option: str) -> str:
    """The option without its value (``--bundle {}`` -> ``--bundle``, ``until={}`` ->
    ``until=``), for a hint that names the knob but no value to give it."""
    return option.replace(" {}", "").replace("'{}'", "").replace("{}", "")


def shell_word(word: str) -> str:
    """``word`` quoted so that a shell gives back its exact bytes: ``shlex.quote``, or,
    for a word holding bytes that were not UTF-8 (surrogate escapes) or a control
    character, bash's ``$'...'`` form with each such byte as ``\\xNN``. In plain quotes
    the escape that makes it printable (``'o\\xff.bin'``) named a different file."""
    if word.isprintable():
        return shlex.quote(word)
    out = []
    for ch in word:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:  # bash's $'\xNN' is one byte: each byte of the character, as the OS has it
            out.extend(f"\\x{b:02x}" for b in os.fsencode(ch))
    return "$'" + "".join(out) + "'"


def shell_join(words: Iterable[str]) -> str:
    """``shlex.join`` with each word quoted by :func:`shell_word`."""
    return " ".join(shell_word(w) for w in words)
