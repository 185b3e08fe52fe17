"""An interrupt held while littlefs calls back (esp_cabundle._shield): littlefs is made
to unwind at once (no more reads of a unit's flash over serial after Ctrl-C), and only
the main thread, where signal handlers run, takes it (a station's worker thread took the
main thread's Ctrl-C as its unit's failure)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from esp_cabundle import _shield
from esp_cabundle.fs.lfs_device import Device


@pytest.fixture
def held() -> Iterator[None]:
    _shield.defer("SIGTERM")
    try:
        yield
    finally:
        _shield._PENDING[0] = None


def test_a_held_interrupt_fails_every_store_access_at_once(held: None) -> None:
    calls: list[int] = []
    device = Device(store=object(), block_size=4096)  # type: ignore[arg-type]
    assert device.call(lambda n: calls.append(n), 1) is None
    assert calls == []  # the store (a unit's flash over serial) is not touched
    with pytest.raises(KeyboardInterrupt) as raised:
        device.check()
    assert getattr(raised.value, "signal_name", None) == "SIGTERM"  # the signal held
    assert not _shield.pending()  # raised once


def test_only_the_main_thread_takes_a_held_interrupt(held: None) -> None:
    seen: list[object] = []

    def worker() -> None:
        seen.append(_shield.pending())
        try:
            _shield.raise_deferred()
            seen.append("not raised")
        except KeyboardInterrupt:
            seen.append("raised")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [False, "not raised"]
    assert _shield.pending()  # still the main thread's
    with pytest.raises(KeyboardInterrupt):
        _shield.raise_deferred()
