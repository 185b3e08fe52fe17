"""An immutable mapping that pickles and hashes, for the mapping fields of frozen values.

``types.MappingProxyType`` is read-only but neither pickles nor hashes, so a ``Board``
holding one could not cross to a worker process (a station pool) nor be a dict key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["FrozenMap"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only copy of a mapping; equal to any mapping with the same items, hashable
    when its values are."""

    __slots__ = ("_items",)
    _items: dict[K, V]

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        # A copy: the caller's dict, changed later, never changes this value.
        object.__setattr__(self, "_items", dict(items) if items is not None else {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._items,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"
