"""What a fleet link provides: the units it reaches, and a channel to each.

Transports (mDash REST, MQTT, HTTP, WebSocket) differ only here; the campaign is
written once against :class:`Transport` and :class:`~.rpc.RpcChannel`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from .rpc import RpcChannel

__all__ = ["Traffic", "Transport", "UnitRef"]


@dataclass(frozen=True, slots=True)
class UnitRef:
    """A unit a transport can reach; ``online`` is None when the transport cannot tell
    without asking the unit."""

    id: str
    online: bool | None = None


@dataclass
class Traffic:
    """Bytes of RPC frames sent and received (for the benchmark's bytes per unit)."""

    sent: int = 0
    received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, sent: int, received: int) -> None:
        with self._lock:
            self.sent += sent
            self.received += received


class Transport(Protocol):
    """A fleet link: ``units()`` lists what it reaches, ``channel(id)`` talks to one."""

    name: str  # "mdash", "mqtt", "http", "ws": recorded in the ledger
    frame_budget: int  # the most bytes one request or answer frame may take
    traffic: Traffic

    def units(self) -> list[UnitRef]: ...

    def channel(self, unit_id: str) -> RpcChannel: ...

    def close(self) -> None: ...
