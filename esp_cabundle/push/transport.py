"""What a fleet link provides: the units it reaches, and a channel to each.

Transports (mDash REST, MQTT, HTTP, WebSocket) differ only here; the campaign is
written once against :class:`Transport` and :class:`~.rpc.RpcChannel`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..errors import UnitUnreachable
from .rpc import FrameShape, RpcChannel

__all__ = [
    "LinkLost",
    "Probing",
    "SilentChannel",
    "Traffic",
    "Transport",
    "UnitRef",
    "silent_units",
]


class LinkLost(UnitUnreachable):
    """The link every unit is reached through is gone (the MQTT broker), not the unit:
    a pass stops, and no unit not yet begun is charged for it (one mid-update keeps the
    attempt already counted, and its state). ``link`` names it ("MQTT broker"), ``at``
    is when it was lost (UTC)."""

    def __init__(self, message: str, *, link: str, at: datetime) -> None:
        super().__init__(message)
        self.link = link
        self.at = at


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


@runtime_checkable
class Probing(Protocol):
    """A transport whose units cannot be listed as on or off (a broker keeps no list):
    one call to many units at once tells, instead of one timeout per silent unit."""

    def probe(
        self,
        ids: Sequence[str],
        method: str,
        params: Mapping[str, object],
        *,
        timeout: float,
        stop: threading.Event | None = None,
    ) -> dict[str, UnitUnreachable]:
        """Call ``method`` on every unit in ``ids`` at once; the ones that did not answer
        within ``timeout``, with the error a call to each would have raised. LinkLost
        when the link itself goes; ``stop`` set: the wait ends, none called silent."""
        ...


class SilentChannel:
    """The channel of a unit that did not answer a probe: its first call fails
    as the probe's did, so it is recorded as any unit whose first call goes unanswered."""

    shape: FrameShape = "args"
    src: str | None = None

    def __init__(self, unit_id: str, error: UnitUnreachable) -> None:
        self.unit_id = unit_id
        self._error = error

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        raise self._error

    def close(self) -> None:
        pass


def silent_units(
    units: Iterable[tuple[Transport, UnitRef]],
    method: str,
    *,
    timeout: float,
    stop: threading.Event | None = None,
) -> dict[tuple[str, str], UnitUnreachable]:
    """Of ``units``, those a :class:`Probing` transport found silent (``method`` to all
    of a transport's units at once, one ``timeout`` per transport), each with the error
    a call would have raised, by (transport name, unit id): a unit silent over one link
    may answer over another. LinkLost when a link went meanwhile; {} once ``stop`` is
    set (an interrupted wait says nothing of the units)."""
    by_transport: dict[int, tuple[str, Probing, list[str]]] = {}
    for t, ref in units:
        if isinstance(t, Probing):
            by_transport.setdefault(id(t), (t.name, t, []))[2].append(ref.id)
    silent: dict[tuple[str, str], UnitUnreachable] = {}
    for name, prober, ids in by_transport.values():
        found = prober.probe(ids, method, {}, timeout=timeout, stop=stop)
        silent.update(((name, uid), e) for uid, e in found.items())
        if stop is not None and stop.is_set():
            return {}
    return silent
