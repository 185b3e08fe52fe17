"""YAML as Node trees that remember lines: package data (boards, firmware, roadmaps)
and, for its YAML errors, cabundle.yaml.

Shipped data files are validated like user configs, so an error in one names the file,
the line and the key instead of failing somewhere far from the mistake.
"""

from __future__ import annotations

from typing import Any

from .config import Node
from .errors import ConfigError

__all__ = ["compose_nodes", "compose_yaml"]


def compose_yaml(text: str, where: str) -> Any:
    """The composed YAML node tree of ``text`` (None for an empty document);
    ConfigError naming ``where`` and the line when it is not valid YAML."""
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"not valid YAML: {problem}", path=where, line=line) from e


def compose_nodes(text: str, where: str, *, what: str = "file") -> Node:
    """Parse ``text`` (from ``where``) into a :class:`Node` tree; ConfigError on bad YAML
    or an empty document."""
    from .config import to_nodes

    root = compose_yaml(text, where)
    if root is None:
        raise ConfigError(f"empty {what}", path=where)
    return to_nodes(root, "", where)
