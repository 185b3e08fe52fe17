"""YAML as :class:`Node` trees that remember their lines: ``cabundle.yaml``, board files
and the package's own data (firmware, roadmaps) are read through here.

Shipped data files are validated like user configs, so an error in one names the file,
the line and the key instead of failing somewhere far from the mistake. PyYAML is loaded
only when a file is read (``build`` without a config never pays for it); it composes
the node tree with bounded depth, and :func:`to_nodes` bounds aliases and refuses every
tag beyond plain scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .dates import as_datetime, likely_date, now
from .errors import ConfigError, InputError
from .fileio import read_input
from .limits import (
    MAX_NUMBER_DIGITS,
    MAX_YAML_ALIASED,
    MAX_YAML_DEPTH,
    MAX_YAML_INPUT,
    check_size,
)
from .text import decoded_utf8, suggest

__all__ = ["Node", "Origin", "compose_nodes", "compose_yaml", "read_yaml_text", "to_nodes"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a config wrote a value (``roots[1]`` on line 3 of ``cabundle.yaml``), kept
    with the value so an error found only when it is used (a root not in the catalog, a
    chain file missing) names that line."""

    path: str
    line: int
    key: str

    def error(self, message: str, *, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.key}: {message}", path=self.path, line=self.line, hint=hint)


class Node:
    """A YAML value with the line it came from, for errors users can jump to."""

    def __init__(self, value: Any, line: int, path: str, where: str) -> None:
        self.value = value
        self.line = line
        self.path = path  # e.g. "outputs[1].format"
        self.where = where  # the file
        self.key_line = line  # for mapping values: the line of their key
        self.text: str | None = None  # a scalar as written: 5.10, which YAML reads as 5.1
        # written as an alias (``*p``): ``line`` is where it is used, this where its
        # anchor (``&p``) wrote the value
        self.alias: tuple[str, int] | None = None

    def error(self, message: str, *, hint: str | None = None) -> ConfigError:
        where = f"{self.path}: " if self.path else ""  # "": the whole document
        if self.alias is not None:
            name, line = self.alias
            message += f" (alias *{name}: its value is written on line {line})"
        return ConfigError(where + message, path=self.where, line=self.line, hint=hint)

    def number_error(self) -> ConfigError:
        """A number (5.10) where text was meant: said as written, since YAML's reading
        (5.1) names another version, with the line that keeps it as text."""
        text = self.text if self.text is not None else str(self.value)
        number = "a number" if text == str(self.value) else f"the number {self.value}"
        return self.error(
            f"YAML reads {text} as {number}, not as the text {text}",
            hint=f"quote it: {_line(self.path, repr(text))}",
        )

    def origin(self) -> Origin:
        """Where this value was written, for an error found when it is used."""
        return Origin(self.where, self.line, self.path)

    # --- typed accessors -------------------------------------------------------------
    def _word_as_bool(self, wanted: str) -> ConfigError | None:
        """``yes``, ``no``, ``on``, ``off`` (YAML 1.1 booleans) where ``wanted`` was
        expected: said as written, with the quoting that keeps the text (``no`` is
        Norway's country code as well as false)."""
        text = self.text
        if not isinstance(self.value, bool) or not text or text.lower() in ("true", "false"):
            return None
        return self.error(
            f"expected {wanted}, but YAML 1.1 reads {text} as the boolean "
            f"{str(self.value).lower()}",
            hint=f"quote it to keep it as text: {_line(self.path, repr(text))}"
            if wanted == "a string"
            else f"write {wanted} there, or true/false only where a boolean is meant",
        )

    def as_str(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self._word_as_bool("a string") or self.error(
                f"expected a non-empty string, got {_kind(self.value)}"
            )
        return self.value

    def as_file_name(self) -> str:
        """A string naming a file on this computer. A NUL (YAML's ``"\\0"`` escape) is
        refused here, with its line: no file name holds one, and the OS calls that would
        meet it later (realpath, open) raise ValueError, not an error of ours."""
        text = self.as_str()
        if "\x00" in text:
            raise self.error(
                "a file name cannot hold a NUL byte", hint="remove the \\0 from the name"
            )
        return text

    def as_int(self, *, minimum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self._word_as_bool("an integer") or self.error(
                f"expected an integer, got {_kind(self.value)}"
            )
        if minimum is not None and self.value < minimum:
            raise self.error(f"must be at least {minimum}, got {self.value}")
        return self.value

    def as_size(self, *, minimum: int | None = None) -> int:
        """A byte count written as the flags take it: ``16384``, ``0x4000``, ``16K``."""
        if not isinstance(self.value, str):
            return self.as_int(minimum=minimum)
        from .sizes import parse_size  # deferred: only a size written as text

        try:
            size = parse_size(self.value, what="the size")
        except InputError as e:
            raise self.error(e.reason) from None
        if minimum is not None and size < minimum:
            raise self.error(f"must be at least {minimum}, got {size}")
        return size

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_kind(self.value)}")
        return self.value

    def as_date(self) -> datetime:
        v = self.value
        if isinstance(v, datetime | date):
            return as_datetime(v)
        if isinstance(v, str):
            try:
                return as_datetime(date.fromisoformat(v.strip()))
            except ValueError:
                pass
        fixed = likely_date(v.strip()) if isinstance(v, str) else None
        if fixed is not None:
            hint = "write " + _line(self.path, fixed)
        else:  # a year from today, as the CLI's date options suggest (an end is ahead)
            example = (now() + timedelta(days=365)).date().isoformat()
            hint = "a date is YYYY-MM-DD, e.g. " + _line(self.path, example)
        raise self.error(f"expected a date YYYY-MM-DD, got {v!r}", hint=hint)

    def as_list(self) -> list[Node]:
        """A list; a single scalar is accepted as a one-item list."""
        if isinstance(self.value, list):
            return self.value
        if isinstance(self.value, dict):
            raise self.error("expected a list, got a mapping")
        return [self]

    def as_mapping(self, allowed: tuple[str, ...] | None = None) -> dict[str, Node]:
        if not isinstance(self.value, dict) and not self.path:
            hint = [f"its keys: {', '.join(allowed)}"] if allowed else []
            if isinstance(self.value, list):
                hint.append("write 'key: value' lines, not '- ' list items")
            raise self.error(
                "the top level must be a mapping ('key: value' lines), got " + _kind(self.value),
                hint="; ".join(hint) or None,
            )
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        m: dict[str, Node] = self.value
        if allowed is not None:
            for k, n in m.items():
                if k not in allowed:
                    raise n.key_error(k, allowed)
        return m

    def key_error(self, key: str, allowed: tuple[str, ...]) -> ConfigError:
        hint = suggest(key, allowed) or f"known keys: {', '.join(allowed)}"
        parent = self.path.removesuffix(key).removesuffix(".")  # a key may hold a '.'
        where = f"in {parent}: " if parent and parent != key else ""
        return ConfigError(
            f"{where}unknown key '{key}'", path=self.where, line=self.key_line, hint=hint
        )

    def as_choice(self, choices: tuple[str, ...]) -> str:
        s = self.as_str()
        if s not in choices:
            # the CLI's words for a mistyped name (--preset defualt), at this line
            raise self.error(f"'{s}' is not one of: {', '.join(choices)}", hint=suggest(s, choices))
        return s

    def as_choices(self, choices: tuple[str, ...]) -> list[str]:
        """Comma-separated names, each one of ``choices`` (``allow: not-ca,expired``, as
        the CLI's ``--allow`` takes them and its hints write them)."""
        text = self.as_str()
        names = [part.strip() for part in text.split(",")]
        for name in names:
            if name not in choices:
                shown = f"'{name}' (in '{text}')" if name != text else f"'{name}'"
                raise self.error(
                    f"{shown} is not one of: {', '.join(choices)}", hint=suggest(name, choices)
                )
        return names

    def as_plain(self) -> Any:
        """The value with all Node wrappers removed."""
        return _plain(self)


def _plain(n: Any) -> Any:
    if isinstance(n, Node):
        return _plain(n.value)
    if isinstance(n, list):
        return [_plain(x) for x in n]
    if isinstance(n, dict):
        return {k: _plain(v) for k, v in n.items()}
    return n


def _kind(v: Any) -> str:
    if isinstance(v, Node):
        v = v.value
    if v is None:
        return "nothing"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return f"{type(v).__name__} {v!r}"


# The only tags a value may carry (explicitly or as YAML resolves plain scalars): no
# Python objects, no custom tags, no sets or binary.
_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t: t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_KINDS = {"int": "an integer", "float": "a number", "bool": "a boolean", "timestamp": "a date"}


def _tag_text(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _line(path: str, value: str) -> str:
    """The line to write for a value instead: ``service_until: 2034-12-31``, the key as
    the file has it (a list item has none)."""
    key = path.rpartition(".")[2]
    return f"{key}: {value}" if key and not key.endswith("]") else value


def _scalar_hint(kind: str, text: str, path: str) -> str | None:
    """What to do about a plain scalar YAML could not read as ``kind``: for a day not in
    the calendar (2034-31-12), the line with the date likely meant first (quoting it
    alone only moves the error to the key that wants a date); any value may have been
    meant as text. Which keys take a date is not known here."""
    if kind == "str":
        return None
    quote = "quote it to keep it as a string"
    fixed = likely_date(text) if kind == "timestamp" else None
    return f"write {_line(path, fixed)} (or {quote})" if fixed is not None else quote


def _scalar(node: Any, where: str, path: str = "") -> Any:
    import yaml

    line = node.start_mark.line + 1
    kind = _SCALAR_TAGS.get(node.tag)
    if kind is None:
        raise ConfigError(
            f"tag {_tag_text(node.tag)} is not supported",
            path=where,
            line=line,
            hint="values are plain strings, numbers, booleans and dates; quote a string "
            "that starts with '!'",
        )
    if kind in ("int", "float") and len(node.value) > MAX_NUMBER_DIGITS:
        raise ConfigError(
            f"number too long: {len(node.value)} characters (at most {MAX_NUMBER_DIGITS})",
            path=where,
            line=line,
        )
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node)
    except (ValueError, OverflowError, TypeError, yaml.YAMLError) as e:
        raise ConfigError(
            f"{path + ': ' if path else ''}{node.value!r} is not "
            f"{_KINDS.get(kind, 'a valid ' + kind)} ({e})",
            path=where,
            line=line,
            hint=_scalar_hint(kind, node.value, path),
        ) from e
    if kind in ("int", "float") and node.style is None:
        _refuse_yaml11_number(node.value, value, where=where, line=line, path=path)
    return value


def _refuse_yaml11_number(text: str, value: Any, *, where: str, line: int, path: str) -> None:
    """A plain number YAML 1.1 (PyYAML) reads unlike anyone writing it means: ``190:20:30``
    as the base-60 number 685230, ``010`` as the octal 8. Refused, said as written."""
    digits = text.lstrip("+-")
    if ":" in text:
        how, meant = "the base-60 (sexagesimal) number", "without ':'"
    elif len(digits) > 1 and digits[0] == "0" and digits[1].isdigit() and "." not in digits:
        how, meant = "the octal number", "without the leading 0"
    else:
        return
    raise ConfigError(
        f"{path + ': ' if path else ''}YAML 1.1 reads {text} as {how} {value}",
        path=where,
        line=line,
        hint=f"write the number meant in decimal ({meant}), or quote it to keep it as "
        f"text: {_line(path, repr(text))}",
    )


class _Walk:
    """Where :func:`to_nodes` is: the nodes on the current path (a node met again there
    is a recursive alias), the nodes already built, and how many values aliases added."""

    def __init__(self) -> None:
        self.path: set[int] = set()
        self.seen: set[int] = set()
        self.aliased = 0


def to_nodes(
    node: Any,
    path: str,
    where: str,
    walk: _Walk | None = None,
    alias: tuple[str, int] | None = None,
) -> Node:
    """A composed YAML node tree -> Nodes that remember their lines.

    An alias makes the tree a graph; each value reached again through one counts
    towards :data:`~.limits.MAX_YAML_ALIASED`, and a cycle is refused, so a small file
    cannot expand without bound (billion laughs) or forever. ``alias``: ``node`` was
    written as an alias, its name and the line it is used on (see :func:`_alias_at`):
    the value's line is that one, not the anchor's.
    """
    import yaml

    walk = walk or _Walk()
    line = node.start_mark.line + 1 if alias is None else alias[1]
    key = id(node)
    if key in walk.path:
        raise ConfigError(
            f"{path}: recursive alias (a value contains itself)", path=where, line=line
        )
    if key in walk.seen:
        walk.aliased += 1
        if walk.aliased > MAX_YAML_ALIASED:
            raise ConfigError(
                f"aliases expand to more than {MAX_YAML_ALIASED:,} values",
                path=where,
                line=line,
                hint="write the values out, or alias fewer of them",
            )
    walk.seen.add(key)
    if isinstance(node, yaml.ScalarNode):
        scalar = Node(_scalar(node, where, path), line, path, where)
        scalar.text = node.value
        return _aliased(scalar, node, alias)
    if node.tag not in (_YAML + "map", _YAML + "seq"):
        raise ConfigError(f"tag {_tag_text(node.tag)} is not supported", path=where, line=line)
    walk.path.add(key)
    try:
        if isinstance(node, yaml.MappingNode):
            return _aliased(Node(_mapping(node, path, where, walk), line, path, where), node, alias)
        items = [
            to_nodes(v, f"{path}[{i}]", where, walk, _alias_at(node, i))
            for i, v in enumerate(node.value)
        ]
        return _aliased(Node(items, line, path, where), node, alias)
    finally:
        walk.path.discard(key)


def _aliased(out: Node, node: Any, alias: tuple[str, int] | None) -> Node:
    if alias is not None:
        out.alias = (alias[0], node.start_mark.line + 1)
    return out


def _alias_at(parent: Any, index: object) -> tuple[str, int] | None:
    """The alias (its name, the 1-based line it is used on) written as ``parent``'s
    item ``index`` (a list's position, a mapping value's key node), or None. PyYAML
    hands back the anchored node itself for an alias, its line the anchor's: the
    loader keeps each use's (:func:`_bounded_loader`)."""
    uses: dict[object, tuple[str, int]] = getattr(parent, _ALIAS_USES, {})
    return uses.get(index if isinstance(index, int) else id(index))


def _mapping(node: Any, path: str, where: str, walk: _Walk) -> dict[str, Node]:
    import yaml

    out: dict[str, Node] = {}
    for k, v in node.value:
        key_line = k.start_mark.line + 1
        scalar = isinstance(k, yaml.ScalarNode)
        if scalar and k.tag == _YAML + "merge":
            # ``<<: *base`` was "tag !!merge is not supported", with a hint to quote a
            # '!' the file does not hold: a merge key is said as one.
            raise ConfigError(
                f"{path + ': ' if path else ''}merge key '<<' is not supported",
                path=where,
                line=key_line,
                hint="write this mapping's keys out; an alias (*name) may stand for a "
                "whole value (a list item, a key's value)",
            )
        key = _key(k, where) if scalar else None
        if not isinstance(key, str):
            if not scalar:
                shown = "a list or mapping"
            else:
                shown = "nothing (an empty key)" if key is None else repr(key)
            raise ConfigError(f"keys must be strings, got {shown}", path=where, line=key_line)
        sub = f"{path}.{key}" if path else key
        if key in out:
            raise ConfigError(f"duplicate key '{sub}'", path=where, line=key_line)
        child = to_nodes(v, sub, where, walk, _alias_at(node, k))
        child.key_line = key_line
        if child.value is None:
            child.line = child.key_line
        out[key] = child
    return out


def _key(node: Any, where: str) -> Any:
    """A mapping key: a plain one is a name, taken as written. YAML 1.1 would read
    ``010`` as 8 and ``1:30`` as 90, refused as values are, though no key of these files
    is a number: a fixed key set says "unknown key '010'", a free one keeps the name."""
    if node.style is None and node.value and _SCALAR_TAGS.get(node.tag) is not None:
        return node.value
    return _scalar(node, where)


def read_yaml_text(path: Path, *, what: str, hint: str | None = None) -> str:
    """A YAML file's text, read no further than the YAML size cap; ``hint``: how to make
    a missing one (a name near it, beside it, is said instead)."""
    data = read_input(path, what=what, error=ConfigError, hint=hint, max_bytes=MAX_YAML_INPUT)
    wording = "cannot read {what}: not UTF-8 at {at}"
    return decoded_utf8(data, what=what, path=str(path), error=ConfigError, wording=wording)


def _line_column(before: str) -> tuple[int, int]:
    """The 1-based line and column just after ``before``, the text ahead of a fault."""
    line_start = before.rfind("\n") + 1
    return before.count("\n") + 1, len(before) - line_start + 1


def _reader_fault(text: str, error: Any) -> tuple[int, str]:
    """PyYAML's refusal of a character as the line and words a config author reads.

    The reader error carries no mark, only a position in the text, and its message
    shows PyYAML internals (``"<unicode string>"``), so both are rebuilt here."""
    position = min(max(int(getattr(error, "position", 0)), 0), len(text))
    line, column = _line_column(text[:position])
    code = getattr(error, "character", None)
    code = ord(code) if isinstance(code, str) else int(code or 0)
    kind = "control character" if code < 0x20 or 0x7F <= code < 0xA0 else "character"
    return line, (
        f"not valid YAML: {kind} U+{code:04X} at column {column} is not allowed "
        "(YAML takes printable text, tabs and line ends only)"
    )


def compose_yaml(text: str, where: str) -> Any:
    """The composed YAML node tree of ``text`` (None for an empty document).

    Refuses nesting deeper than :data:`~.limits.MAX_YAML_DEPTH` and more than
    :data:`~.limits.MAX_YAML_INPUT` bytes; :func:`to_nodes` then refuses
    recursive aliases, aliases that expand past :data:`~.limits.MAX_YAML_ALIASED`
    values (a few hundred bytes can otherwise expand without bound) and tags beyond
    plain scalars. Every error is a ConfigError naming ``where`` and the line."""
    import yaml

    check_size(
        len(text.encode("utf-8", "surrogatepass")),
        MAX_YAML_INPUT,
        what="YAML file",
        path=where,
        error=ConfigError,
    )
    try:
        root = yaml.compose(text, Loader=_bounded_loader())
    except yaml.reader.ReaderError as e:
        fault_line, message = _reader_fault(text, e)
        raise ConfigError(message, path=where, line=fault_line) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        hint = None
        if "'\\t'" in problem:
            hint = (
                "YAML indents with spaces only: replace the tab that starts the line with "
                "spaces (a tab after the indentation is fine, in a partition layout too)"
            )
        raise ConfigError(f"not valid YAML: {problem}", path=where, line=line, hint=hint) from e
    except RecursionError as e:  # pragma: no cover - the depth cap comes first
        raise ConfigError("not valid YAML: nested too deeply", path=where) from e
    return root


_ALIAS_USES = "esp_cabundle_alias_uses"  # a composed node's attribute: see _alias_at


def _bounded_loader() -> type:
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event: Any = self.peek_event()  # type: ignore[no-untyped-call]
            mark: Any = event.start_mark
            self.depth += 1
            try:
                if self.depth > MAX_YAML_DEPTH:
                    raise yaml.composer.ComposerError(
                        None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark
                    )
                if parent is not None and index is not None and isinstance(event, yaml.AliasEvent):
                    # PyYAML returns the anchored node, its marks the anchor's: where
                    # this use is written is kept on the parent (:func:`_alias_at`)
                    uses = parent.__dict__.setdefault(_ALIAS_USES, {})
                    at = index if isinstance(index, int) else id(index)
                    uses[at] = (event.anchor, mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def compose_nodes(text: str, where: str, *, what: str = "file") -> Node:
    """Parse ``text`` (from ``where``) into a :class:`Node` tree; ConfigError on bad YAML
    or an empty document."""
    root = compose_yaml(text, where)
    if root is None:
        raise ConfigError(f"empty {what}", path=where)
    return to_nodes(root, "", where)
