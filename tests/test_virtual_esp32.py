"""The virtual ESP32 against real esptool: its Python API, its CLI in-process, and
``python -m esptool`` as a subprocess. What esptool writes must read back, verify by
MD5, and leave the flash exactly as NOR flash would."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import esptool
import pytest
import serial
from esptool.cmds import (
    attach_flash,
    detect_chip,
    detect_flash_size,
    erase_region,
    read_flash,
    run_stub,
    verify_flash,
    write_flash,
)
from esptool.util import FatalError, NotImplementedInROMError

from esp_cabundle.virtual import VirtualESP32
from esp_cabundle.virtual.protocol import SECTOR

MiB = 1 << 20
Start = Callable[..., VirtualESP32]


def pattern(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


@contextmanager
def esptool_session(unit: VirtualESP32, *, stub: bool = True, attach: bool = True) -> Iterator[Any]:
    esp = detect_chip(unit.url, 115200, "no-reset", connect_attempts=2)
    try:
        if stub:
            esp = run_stub(esp)
        if attach:
            attach_flash(esp)
        yield esp
    finally:
        close_quickly(esp._port)


def close_quickly(port: Any) -> None:
    """pyserial's socket close sleeps 0.3 s; the tests need no such grace."""
    port._socket.close()
    port._socket = None
    port.is_open = False


@pytest.mark.parametrize(
    ("chip", "size", "name", "description"),
    [
        ("esp32", 4 * MiB, "ESP32", "ESP32-D0WD-V3 (revision v3.0)"),
        ("esp32s3", 8 * MiB, "ESP32-S3", "ESP32-S3 (QFN56) (revision v0.2)"),
        ("esp32c3", 16 * MiB, "ESP32-C3", "ESP32-C3 (QFN32) (revision v0.4)"),
    ],
)
def test_esptool_detects_chip_mac_and_flash_size(
    virtual_esp32: Start, chip: str, size: int, name: str, description: str
) -> None:
    unit = virtual_esp32(chip, flash_size=size, mac="ac:67:b2:01:02:03")
    with esptool_session(unit, stub=False) as esp:
        detected = esp.CHIP_NAME
        assert detected == name
        assert esp.get_chip_description() == description
        assert esp.read_mac() == (0xAC, 0x67, 0xB2, 0x01, 0x02, 0x03)
        assert detect_flash_size(esp) == f"{size // MiB}MB"
        assert esp.get_crystal_freq() == 40


@pytest.mark.parametrize(
    ("chip", "compress"),
    [("esp32", True), ("esp32", False), ("esp32s3", True), ("esp32c3", False)],
)
def test_stub_write_read_verify(virtual_esp32: Start, chip: str, compress: bool) -> None:
    unit = virtual_esp32(chip)
    data = pattern(0x1000) + b"\x00" * 0x2800  # compressible, not all one value
    with esptool_session(unit) as esp:
        assert esp.IS_STUB
        write_flash(esp, [(0x10000, data)], compress=compress, no_compress=not compress)
        assert read_flash(esp, 0x10000, len(data)) == data
        verify_flash(esp, [(0x10000, data)])
    assert unit.read(0x10000, len(data)) == data
    used = "FLASH_DEFL_DATA" if compress else "FLASH_DATA"
    unused = "FLASH_DATA" if compress else "FLASH_DEFL_DATA"
    assert unit.stats.commands[used] > 0 and unit.stats.commands[unused] == 0


@pytest.mark.parametrize("compress", [True, False])
def test_rom_write_read_md5_without_stub(virtual_esp32: Start, compress: bool) -> None:
    unit = virtual_esp32("esp32")
    data = pattern(0x1800, seed=2)
    with esptool_session(unit, stub=False) as esp:
        assert not esp.IS_STUB
        write_flash(esp, [(0x20000, data)], compress=compress, no_compress=not compress)
        assert read_flash(esp, 0x20000, 0x200) == data[:0x200]  # READ_FLASH_SLOW, 64 B a time
        verify_flash(esp, [(0x20000, data)])  # ROM MD5: 32 hex characters
        assert esp.flash_md5sum(0x20000, len(data)) == __import__("hashlib").md5(data).hexdigest()
    assert unit.read(0x20000, len(data)) == data
    assert unit.stats.commands["READ_FLASH_SLOW"] == 8
    assert unit.stats.commands["MEM_END"] == 0  # no stub was loaded


@pytest.mark.parametrize("chip", ["esp32s3", "esp32c3"])
def test_rom_of_newer_chips(virtual_esp32: Start, chip: str) -> None:
    unit = virtual_esp32(chip)
    data = pattern(0x1000, seed=3)
    with esptool_session(unit, stub=False) as esp:
        write_flash(esp, [(0x30000, data)])
        verify_flash(esp, [(0x30000, data)])
        assert esp.read_flash(0x30000, 0x80) == data[:0x80]
        with pytest.raises(NotImplementedInROMError):  # esptool: erase_region is stub-only
            esp.erase_region(0x30000, 0x1000)
    assert unit.read(0x30000, 0x1000) == data


@pytest.mark.parametrize("stub", [True, False])
def test_erase_region(virtual_esp32: Start, stub: bool) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x40000, b"\x00" * 0x3000)
    with esptool_session(unit, stub=stub) as esp:
        erase_region(esp, 0x41000, 0x1000)
        with pytest.raises(FatalError, match="multiple of 4096"):
            erase_region(esp, 0x40800, 0x1000)
    assert unit.read(0x40000, 0x1000) == b"\x00" * 0x1000
    assert unit.read(0x41000, 0x1000) == b"\xff" * 0x1000
    assert unit.read(0x42000, 0x1000) == b"\x00" * 0x1000
    assert unit.stats.sectors_erased == 1


def test_stub_rejects_unaligned_erase_itself(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    with esptool_session(unit) as esp, pytest.raises(FatalError, match="Bad data length"):
        esp.erase_region(0x40800, 0x1000)


def test_partial_sector_write_erases_the_rest_of_the_sector(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x50000, b"\x00" * SECTOR)
    with esptool_session(unit) as esp:
        write_flash(esp, [(0x50100, b"\x5a" * 16)], no_compress=True)
    sector = unit.read(0x50000, SECTOR)
    assert sector == b"\xff" * 0x100 + b"\x5a" * 16 + b"\xff" * (SECTOR - 0x110)


def test_programming_without_erase_only_clears_bits(virtual_esp32: Start) -> None:
    """The ROM erases what FLASH_BEGIN says; blocks past it are ANDed into old data."""
    unit = virtual_esp32("esp32")
    unit.load(0x60000, b"\x0f" * 2 * SECTOR)
    with esptool_session(unit, stub=False, attach=False) as esp:
        esp.flash_set_parameters(4 * MiB)
        esp.check_command(
            "begin", esp.ESP_CMDS["FLASH_BEGIN"], struct.pack("<IIII", SECTOR, 2, SECTOR, 0x60000)
        )
        esp.flash_block(b"\xf3" * SECTOR, 0)
        esp.flash_block(b"\xf3" * SECTOR, 1)
    assert unit.read(0x60000, SECTOR) == b"\xf3" * SECTOR  # erased first
    assert unit.read(0x61000, SECTOR) == b"\x03" * SECTOR  # 0x0f & 0xf3


def test_counters(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    with esptool_session(unit) as esp:
        before = unit.stats.bytes_in
        write_flash(esp, [(0x70000, pattern(3 * SECTOR))], no_compress=True)
        assert unit.stats.bytes_in - before > 3 * SECTOR
        assert unit.stats.sectors_erased == 3
        assert unit.stats.sectors_programmed == 3
        out = unit.stats.bytes_out
        read_flash(esp, 0x70000, 2 * SECTOR)
        assert 2 * SECTOR < unit.stats.bytes_out - out < 2 * SECTOR + 200
    assert unit.stats.connections == 1


@pytest.mark.parametrize("chip", ["esp32s3", "esp32c3"])
@pytest.mark.parametrize("encrypted", [True, False])
def test_security_info(virtual_esp32: Start, chip: str, encrypted: bool) -> None:
    unit = virtual_esp32(chip, flash_encryption=encrypted)
    with esptool_session(unit, stub=False, attach=False) as esp:
        si = esp.get_security_info()
        assert si["chip_id"] == {"esp32s3": 9, "esp32c3": 5}[chip]
        assert si["flash_crypt_cnt"] == (1 if encrypted else 0)
        assert bool(esp.get_flash_encryption_enabled()) is encrypted
        assert not esp.get_secure_boot_enabled()


@pytest.mark.parametrize("encrypted", [True, False])
def test_esp32_flash_encryption_from_efuses(virtual_esp32: Start, encrypted: bool) -> None:
    unit = virtual_esp32("esp32", flash_encryption=encrypted)
    with esptool_session(unit, stub=False, attach=False) as esp:
        assert bool(esp.get_flash_encryption_enabled()) is encrypted
        with pytest.raises(FatalError):  # the ESP32 ROM has no GET_SECURITY_INFO
            esp.get_security_info(cache=False)


def test_rom_refuses_flash_beyond_its_default_size_until_told(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0x300000, b"\xa5" * 64)
    with esptool_session(unit, stub=False, attach=False) as esp:
        with pytest.raises(FatalError, match="Flash read error"):
            esp.read_flash_slow(0x300000, 64, None)
        esp.flash_set_parameters(4 * MiB)
        assert esp.read_flash_slow(0x300000, 64, None) == b"\xa5" * 64


def test_change_baud_reaches_the_uart_divider(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32s3")
    with esptool_session(unit, attach=False) as esp:
        esp.change_baud(921600)
        assert esp.read_reg(0x60000014) == 40_000_000 // 921600


@pytest.mark.parametrize(
    ("mode", "message"),
    [("app", "Invalid head of packet"), ("silent", "No serial data received")],
)
def test_unit_not_in_download_mode(virtual_esp32: Start, mode: str, message: str) -> None:
    unit = virtual_esp32("esp32", mode=mode)
    with pytest.raises(FatalError, match=message):
        detect_chip(unit.url, 115200, "no-reset", connect_attempts=1)


def test_each_connection_is_a_power_on_in_rom(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    for _ in range(2):
        with esptool_session(unit, attach=False) as esp:
            assert esp.IS_STUB
    assert unit.stats.connections == 2
    assert unit.stats.commands["MEM_END"] == 2  # the stub was uploaded each time


def test_cut_mid_read(virtual_esp32: Start) -> None:
    unit = virtual_esp32("esp32")
    with esptool_session(unit) as esp:
        unit.arm_cut(bytes_out=3 * SECTOR)
        with pytest.raises(serial.SerialException):
            esp.read_flash(0, 16 * SECTOR)
    assert unit.stats.cuts == 1
    with esptool_session(unit) as esp:  # plugged back in: the unit answers again
        assert esp.read_flash(0, SECTOR) == b"\xff" * SECTOR


@pytest.mark.parametrize(
    ("tear", "torn"),
    [
        ("program", lambda new, old: new[:0x800] + b"\xff" * 0x800),
        ("erase", lambda new, old: b"\xff" * 0x800 + old[0x800:]),
    ],
)
def test_cut_mid_write_leaves_a_torn_sector(
    virtual_esp32: Start, tear: str, torn: Callable[[bytes, bytes], bytes]
) -> None:
    unit = virtual_esp32("esp32")
    old = pattern(4 * SECTOR, seed=7)
    new = pattern(4 * SECTOR, seed=8)
    unit.load(0x80000, old)
    with esptool_session(unit) as esp:
        unit.arm_cut(sector_writes=2, tear=tear)  # type: ignore[arg-type]
        esp.flash_begin(len(new), 0x80000)
        with pytest.raises(serial.SerialException):
            esp.flash_block(new, 0)  # one 16 KiB stub block: four sectors
    assert unit.read(0x80000, 2 * SECTOR) == new[: 2 * SECTOR]
    third = slice(2 * SECTOR, 3 * SECTOR)
    assert unit.read(0x82000, SECTOR) == torn(new[third], old[third])
    assert unit.read(0x83000, SECTOR) == old[3 * SECTOR :]  # never reached
    assert unit.stats.sectors_programmed == 3


def test_esptool_reconnects_and_rewrites_after_a_cut(virtual_esp32: Start) -> None:
    """esptool's write_flash survives a replugged unit: proof the cut looks real to it."""
    unit = virtual_esp32("esp32")
    data = pattern(3 * SECTOR, seed=9)
    with esptool_session(unit) as esp:
        unit.arm_cut(sector_writes=1)
        write_flash(esp, [(0x90000, data)], no_compress=True)
    assert unit.read(0x90000, len(data)) == data
    assert unit.stats.cuts == 1 and unit.stats.connections == 2


@pytest.mark.parametrize("stub", [True, False])
def test_esptool_cli_in_process(virtual_esp32: Start, tmp_path: Path, stub: bool) -> None:
    unit = virtual_esp32("esp32")
    image = tmp_path / "image.bin"
    image.write_bytes(pattern(0x2000, seed=4))
    base = ["--port", unit.url, "--baud", "921600", "--after", "no-reset"]
    base += [] if stub else ["--no-stub"]
    esptool.main([*base, "write-flash", "0xA0000", str(image)])
    assert unit.read(0xA0000, 0x2000) == image.read_bytes()
    back = tmp_path / "back.bin"
    esptool.main([*base, "read-flash", "0xA0000", "0x400", str(back)])
    assert back.read_bytes() == image.read_bytes()[:0x400]
    if not stub:
        return  # the ROM's MD5 and erase are covered through the API above
    esptool.main([*base, "verify-flash", "0xA0000", str(image)])
    esptool.main([*base, "erase-region", "0xA1000", "0x1000"])
    assert unit.read(0xA1000, 0x1000) == b"\xff" * 0x1000
    assert unit.read(0xA0000, 0x1000) == image.read_bytes()[:0x1000]
    with pytest.raises(FatalError, match="Verification failed"):  # digests differ now
        esptool.main([*base, "verify-flash", "0xA0000", str(image)])


def test_python_m_esptool_subprocess(virtual_esp32: Start, tmp_path: Path) -> None:
    unit = virtual_esp32("esp32c3")
    image = tmp_path / "image.bin"
    image.write_bytes(pattern(0x3000, seed=5))
    r = subprocess.run(
        [sys.executable, "-m", "esptool", "--port", unit.url, "write-flash", "0xB0000", str(image)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ESP32-C3" in r.stdout and "Hash of data verified" in r.stdout
    assert unit.read(0xB0000, 0x3000) == image.read_bytes()
