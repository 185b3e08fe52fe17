"""``push``'s unit ids, from ``--device`` and ``--devices FILE``: each checked where it
was given, and an id given twice said (it is taken once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InputError
from ..file_kinds import shell_word
from ..fileio import read_input
from ..limits import MAX_DEVICES_INPUT
from ..push.mqtt import check_device_id
from ..text import decoded_utf8, plural, printable
from ..ui import note

__all__ = ["device_ids", "duplicates_note"]


# What a missing --devices file holds, and how to give ids without one.
_DEVICES_FILE_HINT = (
    "it lists the units' device ids, one a line (# starts a comment), e.g. "
    "printf 'esp32-01\\nesp32-02\\n' > {}; or give each with --device ID"
)


def device_ids(opts: dict[str, Any]) -> list[str]:
    """``--device`` ids and those of ``--devices FILE`` (UTF-8, a BOM ignored, one per
    line, ``#`` comments); an id with a control character or a space is refused (over
    MQTT, one its topics cannot hold), each with its file:line, and so is a file that
    lists none (an export that came out empty is a slip, not "no units"). An id given
    twice is taken once, as before, and said once on stderr (:func:`duplicates_note`)."""
    ids = [(d, "--device") for d in opts["devices"]]
    if opts["devices_file"] is not None:
        path = opts["devices_file"]
        data = read_input(
            path,
            what="devices file",
            hint=_DEVICES_FILE_HINT.format(shell_word(str(path))),
            max_bytes=MAX_DEVICES_INPUT,
        )
        text = decoded_utf8(data, what="the devices file", path=str(path), strip_bom=True)
        listed = len(ids)
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append((line, f"{path}:{n}"))
        if len(ids) == listed:
            raise InputError(
                f"{path} lists no unit ids"
                + (" (it is empty)" if not text.strip() else " (only comments and blank lines)"),
                hint="one device id per line (the units' device.id); # starts a comment",
            )
    out: list[tuple[str, str]] = []
    for uid, where in ids:
        uid = uid.strip()
        bad = next((c for c in uid if not c.isprintable() or c.isspace()), None)
        if not uid or bad is not None or len(uid) > 128:
            shown = repr(uid)[1:-1][:60]
            rule = "printable characters without spaces, at most 128"
            raise InputError(
                f"{where}: '{shown}' is not a device id"
                + (f" (it holds {bad!r})" if bad is not None else "")
                + (f" ({len(uid)} characters)" if len(uid) > 128 else ""),
                # The hint fits where the id came from: a flag takes one, a file one a line.
                hint=f"--device takes one unit's device.id: {rule}; give --device once per unit"
                if where == "--device"
                else f"one device id per line: the units' device.id, {rule}",
            )
        if opts["mqtt_url"]:  # MQTT's rule too, said where the id came from as the above
            try:
                check_device_id(uid)
            except InputError as e:
                raise InputError(f"{where}: {e.message}", hint=e.hint) from None
        out.append((uid, where))
    said = duplicates_note(out)
    if said is not None:
        note(said, quiet=opts["quiet"] or opts["as_json"], wrap=True)
    return [uid for uid, _ in out]


def duplicates_note(ids: Sequence[tuple[str, str]], *, shown: int = 10) -> str | None:
    """The note naming ids given more than once (``ids``: each id with where it came
    from, ``--device`` or FILE:LINE), each with where: the campaign takes a unit once,
    so a repeated id was merged without a word, and a list pasted twice or an id typed
    for another went unseen. None when each id is given once; the first ``shown`` ids
    named, then how many more."""
    places: dict[str, list[str]] = {}
    for uid, where in ids:
        places.setdefault(uid, []).append(where)
    twice = [(uid, wheres) for uid, wheres in places.items() if len(wheres) > 1]
    if not twice:
        return None
    named = [f"{printable(uid)} ({_places(wheres)})" for uid, wheres in twice[:shown]]
    more = f", and {len(twice) - shown} more" if len(twice) > shown else ""
    return (
        f"note: {plural(len(twice), 'unit id')} given more than once, each taken once: "
        f"{'; '.join(named)}{more}"
    )


# The file lines named for one id: a file listing one id on every line (an export whose
# id column came out the same) named each of up to 2 million lines in one note.
_LINES_SHOWN = 5


def _places(wheres: list[str]) -> str:
    """Where an id was given: its first file lines (then how many more), and --device
    with its count."""
    flags = wheres.count("--device")
    lines = [w for w in wheres if w != "--device"]
    flag = ["--device" if flags == 1 else f"--device {flags} times"] if flags else []
    more = len(lines) - _LINES_SHOWN
    rest = [f"and {more:,} more lines"] if more > 0 else []
    return ", ".join(flag + lines[:_LINES_SHOWN] + rest)
