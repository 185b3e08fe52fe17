"""YAML package data (boards, firmware, roadmaps) as Node trees that remember lines.

Shipped data files are validated like user configs, so an error in one names the file,
the line and the key instead of failing somewhere far from the mistake.
"""

from __future__ import annotations

from .config import Node
from .errors import ConfigError

__all__ = ["compose_nodes"]


def compose_nodes(text: str, where: str, *, what: str = "file") -> Node:
    """Parse ``text`` (from ``where``) into a :class:`Node` tree; ConfigError on bad YAML
    or an empty document."""
    import yaml

    from .config import to_nodes

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"not valid YAML: {problem}", path=where, line=line) from e
    if root is None:
        raise ConfigError(f"empty {what}", path=where)
    return to_nodes(root, "", where)
