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
    """The composed YAML node tree of ``text`` (None for an empty document).

    Refuses nesting deeper than :data:`~.limits.MAX_YAML_DEPTH` and more than
    :data:`~.limits.MAX_YAML_INPUT` bytes; :func:`~.config.to_nodes` then refuses
    recursive aliases, aliases that expand past :data:`~.limits.MAX_YAML_ALIASED`
    values (a few hundred bytes can otherwise expand without bound) and tags beyond
    plain scalars. Every error is a ConfigError naming ``where`` and the line."""
    import yaml

    from .limits import MAX_YAML_INPUT, check_size

    check_size(
        len(text.encode("utf-8", "surrogatepass")),
        MAX_YAML_INPUT,
        what="YAML file",
        path=where,
        error=ConfigError,
    )
    try:
        root = yaml.compose(text, Loader=_bounded_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"not valid YAML: {problem}", path=where, line=line) from e
    except RecursionError as e:  # pragma: no cover - the depth cap comes first
        raise ConfigError("not valid YAML: nested too deeply", path=where) from e
    return root


def _bounded_loader() -> type:
    import yaml

    from .limits import MAX_YAML_DEPTH

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
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def compose_nodes(text: str, where: str, *, what: str = "file") -> Node:
    """Parse ``text`` (from ``where``) into a :class:`Node` tree; ConfigError on bad YAML
    or an empty document."""
    from .config import to_nodes

    root = compose_yaml(text, where)
    if root is None:
        raise ConfigError(f"empty {what}", path=where)
    return to_nodes(root, "", where)
