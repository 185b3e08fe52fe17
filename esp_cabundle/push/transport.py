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
    without asking the unit. ``address`` is where it is reached when that is not its id
    (a LAN unit's URL; its id is the device id it reports, or the URL until it answers)."""

    id: str
    online: bool | None = None
    address: str | None = None
    # The protocol this unit is reached by, where one transport speaks more than one
    # (``--rpc`` takes http:// and ws:// URLs side by side); None: the transport's name.
    via: str | None = None

    def transport(self, transport_name: str) -> str:
        """What the ledger and reports call the way this unit is reached."""
        return self.via or transport_name


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

    def notes(self) -> list[str]:
        """What the last listing merged or set aside (the same unit at two URLs)."""
        ...

    def channel(self, unit_id: str, address: str | None = None) -> RpcChannel:
        """A channel to ``unit_id``, reached at ``address`` when the listing gave one."""
        ...

    def close(self) -> None: ...
