"""Names that moved between the Python versions the package supports (3.10 and later).

``importlib.abc.Traversable`` is deprecated since 3.12 and removed in 3.14; its home
since 3.11 is ``importlib.resources.abc``.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # 3.10, where importlib.abc's is the current name
    from importlib.abc import Traversable

__all__ = ["Traversable"]
