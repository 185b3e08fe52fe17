"""The types of :func:`~esp_cabundle.push.campaign.run_campaign`'s arguments, checked at
its entry: one transport where a list of them goes, a broker's URL, a GatedCA where the
PushFile goes, a ledger's path or a bool for ``stop`` failed deep inside (``'MdashTransport'
object is not iterable``, ``'str' object has no attribute 'bind'``), some only after the
ledger was bound to the campaign (its CA, board and start written). Each refusal is an
:class:`~esp_cabundle.errors.ArgumentTypeError` whose hint is the call to make.

A str is never shown: where a transport goes it is likely a URL or an API key, which may
carry a password."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping

from ..arguments import ca_source_call, fspath_or, require_type
from ..errors import ArgumentTypeError
from ..gate import GatedCA
from .campaign_types import CampaignOptions, PushFile
from .ledger import Ledger
from .transport import Transport

__all__ = ["check_campaign_arguments"]

_CALL = "run_campaign(transports, push, ledger, options)"
_MAKE = "MqttTransport.from_url(url, ids) or MdashTransport(api_key)"


def check_campaign_arguments(
    transports: object,
    push: object,
    ledger: object,
    options: object,
    callbacks: Mapping[str, object],
    stop: object,
) -> tuple[Transport, ...]:
    """``transports`` as a tuple (a generator is read once, here: a watch lists units
    anew each pass, and a second pass found it empty); ``callbacks``: ``progress=`` and
    the others, by name, each a function or None."""
    listed = _transports(transports)
    _push(push)
    if isinstance(ledger, str | os.PathLike):
        hint = f"open it first: with Ledger({fspath_or(ledger)!r}) as ledger: {_CALL}"
    else:
        hint = f"open it first: with Ledger('campaign.db') as ledger: {_CALL}"
    require_type(ledger, Ledger, "run_campaign's ledger takes a Ledger", hint)
    hint = (
        "make it with CampaignOptions: CampaignOptions(**options)"
        if isinstance(options, dict)
        else "give CampaignOptions() (its defaults), or CampaignOptions(watch=True, ...)"
    )
    require_type(options, CampaignOptions, "run_campaign's options takes CampaignOptions", hint)
    for name, value in callbacks.items():
        if value is not None and not callable(value):
            raise ArgumentTypeError(
                f"run_campaign's {name}= takes a function or None, not {type(value).__name__}",
                hint=f"give a callable, or leave {name} out",
            )
    if stop is not None:
        require_type(
            stop,
            threading.Event,
            "run_campaign's stop= takes a threading.Event or None",
            "stop=threading.Event(), set to end the campaign (or leave stop out)",
        )
    return listed


def _transports(value: object) -> tuple[Transport, ...]:
    what = "run_campaign's transports takes a sequence of transports"
    if _is_transport(value):
        raise ArgumentTypeError(
            f"{what}, not one {type(value).__name__}",
            hint="give a list: run_campaign([transport], push, ledger, options)",
        )
    if isinstance(value, str | bytes | bytearray | os.PathLike) or not isinstance(value, Iterable):
        raise ArgumentTypeError(
            f"{what}, not {type(value).__name__}",
            hint="give a list: run_campaign([MqttTransport.from_url(url, ids)], push, ledger, "
            "options), or MdashTransport(api_key) in it",
        )
    items = tuple(value)
    for item in items:
        if not _is_transport(item):
            raise ArgumentTypeError(
                f"run_campaign's transports takes transports, not {type(item).__name__}",
                hint=f"make each with {_MAKE}",
            )
    return items  # each checked: a Transport's methods


def _is_transport(value: object) -> bool:
    """What the campaign calls on a transport (:class:`~.transport.Transport` is a
    protocol: a caller's own class is one if it has these; closing is the caller's)."""
    return all(callable(getattr(value, m, None)) for m in ("units", "notes", "channel"))


def _push(value: object) -> None:
    if isinstance(value, GatedCA):
        hint = "wrap it: run_campaign(transports, PushFile(ca), ledger, options)"
    else:
        source = ca_source_call(value) or "CaSource.build(spec)"
        hint = f"gate it first: PushFile(gate_ca({source}, board=board, at=now))"
    require_type(value, PushFile, "run_campaign's push takes a PushFile", hint)
