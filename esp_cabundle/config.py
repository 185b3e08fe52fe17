"""``cabundle.yaml``: parsed into validated values, with errors that name file and line.

Top-level keys handled here: ``preset``, ``roots``, ``exclude``, ``service_until``,
``max_bytes``, ``allow``, ``outputs``. Other parts of the tool register their own
sections in ``SECTIONS`` (``"key": "module:function"``); each function receives a
:class:`Node` and returns a validated value stored in ``Config.sections``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .bundle import POLICY_NAMES, BundleSpec, Policy
from .dates import as_datetime
from .errors import ConfigError, InputError
from .images import IMAGE_FORMATS

__all__ = [
    "CONFIG_NAME",
    "SECTIONS",
    "Config",
    "Node",
    "OutputSpec",
    "find_config",
    "load_config",
    "outputs_outside",
    "parse_config",
    "read_yaml_text",
    "to_nodes",
]

CONFIG_NAME = "cabundle.yaml"

# Sections other modules validate: key -> "module:function(node) -> value".
SECTIONS: dict[str, str] = {
    "idf_filter": "esp_cabundle.formats.idf_bundle:config_idf_filter",
    "targets": "esp_cabundle.check:parse_targets",
    "device": "esp_cabundle.check:parse_device",
}

_CORE_KEYS = ("preset", "roots", "exclude", "service_until", "max_bytes", "allow", "outputs")


class Node:
    """A YAML value with the line it came from, for errors users can jump to."""

    def __init__(self, value: Any, line: int, path: str, where: str) -> None:
        self.value = value
        self.line = line
        self.path = path  # e.g. "outputs[1].format"
        self.where = where  # the file
        self.key_line = line  # for mapping values: the line of their key

    def error(self, message: str, *, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.path}: {message}", path=self.where, line=self.line, hint=hint)

    # --- typed accessors -------------------------------------------------------------
    def as_str(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error(f"expected a non-empty string, got {_kind(self.value)}")
        return self.value

    def as_int(self, *, minimum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {_kind(self.value)}")
        if minimum is not None and self.value < minimum:
            raise self.error(f"must be at least {minimum}, got {self.value}")
        return self.value

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
        raise self.error(f"expected a date YYYY-MM-DD, got {v!r}")

    def as_list(self) -> list[Node]:
        """A list; a single scalar is accepted as a one-item list."""
        if isinstance(self.value, list):
            return self.value
        if isinstance(self.value, dict):
            raise self.error("expected a list, got a mapping")
        return [self]

    def as_mapping(self, allowed: tuple[str, ...] | None = None) -> dict[str, Node]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        m: dict[str, Node] = self.value
        if allowed is not None:
            for k, n in m.items():
                if k not in allowed:
                    raise n.key_error(k, allowed)
        return m

    def key_error(self, key: str, allowed: tuple[str, ...]) -> ConfigError:
        import difflib

        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(allowed)}"
        parent = self.path.rsplit(".", 1)[0] if "." in self.path else ""
        where = f"in {parent}: " if parent and parent != key else ""
        return ConfigError(
            f"{where}unknown key '{key}'", path=self.where, line=self.key_line, hint=hint
        )

    def as_choice(self, choices: tuple[str, ...]) -> str:
        s = self.as_str()
        if s not in choices:
            raise self.error(f"'{s}' is not one of: {', '.join(choices)}")
        return s

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


def _scalar(node: Any, where: str) -> Any:
    import yaml

    from .limits import MAX_NUMBER_DIGITS

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
        return yaml.constructor.SafeConstructor().construct_object(node)
    except (ValueError, OverflowError, TypeError, yaml.YAMLError) as e:
        raise ConfigError(
            f"{node.value!r} is not {_KINDS.get(kind, 'a valid ' + kind)} ({e})",
            path=where,
            line=line,
            hint="quote it to keep it as a string" if kind != "str" else None,
        ) from e


class _Walk:
    """Where :func:`to_nodes` is: the nodes on the current path (a node met again there
    is a recursive alias), the nodes already built, and how many values aliases added."""

    def __init__(self) -> None:
        self.path: set[int] = set()
        self.seen: set[int] = set()
        self.aliased = 0


def to_nodes(node: Any, path: str, where: str, walk: _Walk | None = None) -> Node:
    """A composed YAML node tree -> Nodes that remember their lines.

    An alias makes the tree a graph; each value reached again through one counts
    towards :data:`~.limits.MAX_YAML_ALIASED`, and a cycle is refused, so a small file
    cannot expand without bound (billion laughs) or forever.
    """
    import yaml

    from .limits import MAX_YAML_ALIASED

    walk = walk or _Walk()
    line = node.start_mark.line + 1
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
        return Node(_scalar(node, where), line, path, where)
    if node.tag not in (_YAML + "map", _YAML + "seq"):
        raise ConfigError(f"tag {_tag_text(node.tag)} is not supported", path=where, line=line)
    walk.path.add(key)
    try:
        if isinstance(node, yaml.MappingNode):
            return Node(_mapping(node, path, where, walk), line, path, where)
        items = [to_nodes(v, f"{path}[{i}]", where, walk) for i, v in enumerate(node.value)]
        return Node(items, line, path, where)
    finally:
        walk.path.discard(key)


def _mapping(node: Any, path: str, where: str, walk: _Walk) -> dict[str, Node]:
    import yaml

    out: dict[str, Node] = {}
    for k, v in node.value:
        key_line = k.start_mark.line + 1
        key = _scalar(k, where) if isinstance(k, yaml.ScalarNode) else None
        if not isinstance(key, str):
            shown = "a list or mapping" if key is None else repr(key)
            raise ConfigError(f"keys must be strings, got {shown}", path=where, line=key_line)
        sub = f"{path}.{key}" if path else key
        if key in out:
            raise ConfigError(f"duplicate key '{sub}'", path=where, line=key_line)
        child = to_nodes(v, sub, where, walk)
        child.key_line = key_line
        if child.value is None:
            child.line = child.key_line
        out[key] = child
    return out


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One output file: format, path (relative to the config's directory) and options."""

    format: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    spec: BundleSpec
    outputs: tuple[OutputSpec, ...]
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.spec.base_dir

    def section(self, key: str, default: Any = None) -> Any:
        return self.sections.get(key, default)


_IMAGE_NEEDS = "a file-system image output needs a board, or its profile and size"
_IMAGE_HINT = "e.g. {format: spiffs, path: spiffs.bin, board: mdash-arduino}"


def _image_output(n: Node, fmt: str, options: dict[str, Any], base_dir: Path) -> Any:
    """An image entry's parameters, resolved now so a wrong board or size is an error at
    the entry's line (see :mod:`esp_cabundle.images`)."""
    from .images import image_output

    try:
        return image_output(fmt, options, base_dir)
    except InputError as e:
        raise n.error(e.message, hint=e.hint) from e


def outputs_outside(config: Config) -> tuple[OutputSpec, ...]:
    """The config's outputs whose path leaves its directory (absolute, or through '..'):
    a shared config must not write anywhere on the machine without being told so."""
    import os

    base = os.path.abspath(config.base_dir)
    return tuple(
        o for o in config.outputs if os.path.commonpath([base, os.path.abspath(o.path)]) != base
    )


def find_config(start: Path | None = None) -> Path | None:
    """``cabundle.yaml`` in the working directory, if there is one."""
    p = (start or Path.cwd()) / CONFIG_NAME
    return p if p.is_file() else None


def load_config(path: str | Path) -> Config:
    p = Path(path)
    return parse_config(read_yaml_text(p, what="config file"), path=p)


def read_yaml_text(path: Path, *, what: str) -> str:
    """A YAML file's text, read no further than the YAML size cap."""
    from .fileio import read_input
    from .limits import MAX_YAML_INPUT

    data = read_input(path, what=what, error=ConfigError, max_bytes=MAX_YAML_INPUT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read {what}: not UTF-8 (byte {e.start})", path=str(path)) from e


def _iter_sections() -> Iterator[tuple[str, Callable[[Node], Any]]]:
    for key, target in SECTIONS.items():
        mod, _, fn = target.partition(":")
        yield key, getattr(importlib.import_module(mod), fn)


def parse_config(text: str, *, path: Path) -> Config:
    """Validate a config text; every error carries the file and line."""
    from .yamlnodes import compose_yaml

    where = str(path)
    root = compose_yaml(text, where)
    base_dir = path.parent if str(path.parent) else Path(".")
    if root is None:
        return Config(path, BundleSpec(base_dir=base_dir), (), {})
    top = to_nodes(root, "", where)
    allowed = _CORE_KEYS + tuple(SECTIONS)
    m = top.as_mapping(allowed)

    presets: tuple[str, ...] = ()
    if "preset" in m:
        from .catalog import PRESETS

        presets = tuple(n.as_choice(tuple(PRESETS)) for n in m["preset"].as_list())
    roots = tuple(n.as_str() for n in m["roots"].as_list()) if "roots" in m else ()
    excludes = tuple(n.as_str() for n in m["exclude"].as_list()) if "exclude" in m else ()
    service_until = m["service_until"].as_date() if "service_until" in m else None
    max_bytes = m["max_bytes"].as_int(minimum=1) if "max_bytes" in m else None
    allow = (
        frozenset(n.as_choice(POLICY_NAMES) for n in m["allow"].as_list())
        if "allow" in m
        else frozenset()
    )
    policy = Policy(service_until=service_until, max_bytes=max_bytes, allow=allow)
    spec = BundleSpec(presets, roots, excludes, policy, base_dir)

    outputs: list[OutputSpec] = []
    if "outputs" in m:
        from .formats import FORMATS

        for n in m["outputs"].as_list():
            if isinstance(n.value, str):
                fmt = n.as_choice(tuple(FORMATS))
                if fmt in IMAGE_FORMATS:
                    raise n.error(_IMAGE_NEEDS, hint=_IMAGE_HINT)
                outputs.append(OutputSpec(fmt, base_dir / FORMATS[fmt].default_path))
                continue
            om = n.as_mapping()
            if "format" not in om:
                raise n.error("each output needs a 'format'")
            fmt = om["format"].as_choice(tuple(FORMATS))
            allowed_keys = ("format", "path", *FORMATS[fmt].options)
            om = n.as_mapping(allowed_keys)
            out_path = (
                Path(om["path"].as_str()) if "path" in om else Path(FORMATS[fmt].default_path)
            )
            options = {k: v.as_plain() for k, v in om.items() if k not in ("format", "path")}
            for k, v in options.items():
                if not isinstance(v, str | int | bool):
                    raise om[k].error("expected a scalar value")
            if fmt in IMAGE_FORMATS:
                options["image"] = _image_output(n, fmt, options, base_dir)
            outputs.append(OutputSpec(fmt, base_dir / out_path, options))

    sections: dict[str, Any] = {}
    for key, validate in _iter_sections():
        if key in m:
            sections[key] = validate(m[key])
    return Config(path, spec, tuple(outputs), sections)
