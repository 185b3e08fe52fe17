"""Every command's options, by the command's words (``fs put``), written out so that an
unknown option's error can say which commands have it without importing every command
module (a second on a cold start, for a typo). tests/test_option_table.py holds this
table to the commands themselves and prints it afresh when one changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["OPTIONS", "group_end", "holders", "options_of", "short_cluster"]

# Command -> the spellings of the options its --help shows (not a Refused one), in its
# order; "=" after one that takes a value (a flag or a count has none).
OPTIONS: dict[str, str] = {
    "boards": "--json --wide --debug",
    "build": (
        "-c= --config= --preset= --root= --exclude= --service-until= --max-bytes= "
        "--allow= --target= --no-check -f= --format= -o= --output= --c-name= "
        "--c-style= --idf-version= --idf-filter= --locked --lock --no-lock --dry-run "
        "--depfile= --allow-outside --at= --json --wide -q --quiet --debug"
    ),
    "chains": "--debug",
    "chains pull": "-c= --config= --target= --timeout= --json -q --quiet --debug",
    "chains show": (
        "--host= --server-name= -o= --output= --timeout= --at= --json --wide -q --quiet --debug"
    ),
    "check": (
        "--bundle= --host= --chain= --target= --hostname= --device= --board= --until= "
        "--roadmap= -c= --config= --timeout= --report= --at= --json -q --quiet "
        "--debug"
    ),
    "flash": (
        "-p= --port= --board= --bundle= -c= --config= --preset= --root= --exclude= "
        "--service-until= --max-bytes= --allow= --target= --no-check --at= --dry-run "
        "--journal-dir= --log= --log-format= -b= --baud= --before= --after= -v "
        "--verbose --json -q --quiet --debug"
    ),
    "fs": "--debug",
    "fs ls": "--partition= --offset= --size= --fs= --profile= --json -q --quiet --debug",
    "fs cat": "--partition= --offset= --size= --fs= --profile= -o= --output= --debug",
    "fs put": (
        "--partition= --offset= --size= --fs= --profile= --platform= --disk-version= --mtime= "
        "--board= -c= --config= --service-until= --max-bytes= --allow= --target= "
        "--no-check --at= --json -q --quiet --debug"
    ),
    "fs rm": (
        "--partition= --offset= --size= --fs= --profile= --platform= --disk-version= --board= "
        "--json -q --quiet --debug"
    ),
    "init": (
        "--board= --preset= --target= --service-years= --service-until= -o= --output= "
        "--force -y --yes --at= --json -q --quiet --debug"
    ),
    "inspect": (
        "--fail-on= --fail-within= -p= --port= --board= -c= --config= --no-apps -b= "
        "--baud= --before= --after= --at= --all --json --wide -q --quiet --debug"
    ),
    "journal": "--debug",
    "journal list": "--journal-dir= --mac= --json --wide -q --quiet --debug",
    "journal prune": (
        "--older-than= --unfinished --dry-run --journal-dir= --mac= --json -q --quiet --debug"
    ),
    "pack": (
        "--board= --fs= --profile= --platform= --disk-version= --size= --from-dir= "
        "--follow-symlinks --bundle= -c= --config= --preset= --root= --exclude= "
        "--service-until= --max-bytes= --allow= --target= --no-check --ca-path= "
        "--mtime= -o= --output= --at= --json -q --quiet --debug"
    ),
    "push": (
        "--mdash= --api-key-file= --mqtt= --mqtt-password-file= --tls-ca= --device= "
        "--devices= --rpc= --board= --bundle= -c= --config= --preset= --root= "
        "--exclude= --service-until= --max-bytes= --allow= --target= --at= --server= "
        "--ledger= --concurrency= --timeout= --frame-size= --in-place --reboot "
        "--reconnect-timeout= --watch --until= --poll= --dry-run --json --wide -q "
        "--quiet --debug"
    ),
    "push status": "--ledger= --json --csv --all --wide --debug",
    "read": (
        "-p= --port= --partition= --all -o= --output= --force --table-offset= -b= "
        "--baud= --before= --after= --json -q --quiet --debug"
    ),
    "restore": (
        "-p= --port= --board= --journal-dir= --dry-run --force --log= --log-format= "
        "-b= --baud= --before= --after= -v --verbose --json -q --quiet --debug"
    ),
    "roots": "--presets --all --at= --json --wide --debug",
    "update-dump": (
        "--board= --platform= --bundle= -c= --config= --preset= --root= --exclude= "
        "--service-until= --max-bytes= --allow= --target= --no-check -o= --output= "
        "--at= --json -q --quiet --debug"
    ),
    "virtual-unit": (
        "--board= --dump= --chip= --mac= --listen= --rfc2217 --rpc= --mdash= --id= "
        "--ca-file= --fs-image= --save-fs= --api-key-file= --debug"
    ),
}


def options_of(command: str) -> dict[str, bool]:
    """``command``'s options (its words: ``fs put``), each with whether it takes a value;
    empty for no such command."""
    words = OPTIONS.get(command, "").split()
    return {w.rstrip("="): w.endswith("=") for w in words}


def holders(option: str) -> list[str]:
    """The commands that have ``option`` (any spelling), in the table's order."""
    return [c for c in OPTIONS if option in options_of(c)]


def group_end(command: str, words: Sequence[str]) -> int | None:
    """Where in ``words`` (those after group ``command``'s name) a ``--`` ends only the
    group's options, as click reads a group's line: typed before its subcommand's name
    (``push -- status --json``: --json is status's), not taken as an option's value;
    None if no ``--`` does (``push status -- x``: that one is status's)."""
    if not any(path.startswith(f"{command} ") for path in OPTIONS):
        return None  # no group: its -- ends its options
    takes = options_of(command)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return i if i + 1 < len(words) else None
        if not word.startswith("-") or word == "-":
            return None  # the subcommand's name: a -- after it is the subcommand's
        i += 1 + _takes_next(word, takes)
    return None


def _takes_next(word: str, takes: Mapping[str, bool]) -> bool:
    """Option ``word`` takes the next word for its value (``--ledger``, a cluster ``-qc``
    ending in an option that takes one; not ``--ledger=x``, ``-cx`` nor ``-zc``, a
    cluster with a letter naming no option: click fails it there)."""
    if word in takes:
        return takes[word]
    read = None if word.startswith("--") else short_cluster(word, takes)
    return read is not None and read[1] is not None and not read[2]


def short_cluster(word: str, takes: Mapping[str, bool]) -> tuple[list[str], str | None, str] | None:
    """``word`` (``-qo x``) read as click reads a cluster of short options (``takes``:
    each option with whether it takes a value): its flags (``-q``), the option taking a
    value (``-o``) if one does, and the word's rest after it (that value, when not
    empty); None when ``word`` is no cluster or a letter names none of ``takes``. The one
    rule for a cluster: :func:`._usage.cluster` reads click's options by it."""
    if len(word) < 2 or word[0] != "-":
        return None
    flags: list[str] = []
    for j, char in enumerate(word[1:], 2):
        name = f"-{char}"
        if name not in takes:
            return None
        if takes[name]:
            return flags, name, word[j:]
        flags.append(name)
    return flags, None, ""
