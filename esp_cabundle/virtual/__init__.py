"""A virtual ESP32 that speaks esptool's serial protocol over TCP: to rehearse at the
bench, to test station scripts, and for the test suite (``esp-cabundle virtual-unit``
starts one with a board's layout or a dump).

Real esptool (its Python API and its CLI) connects to it with a ``socket://127.0.0.1:PORT``
URL and cannot tell it from a unit held in download mode, for everything the project
does: connect, chip detection, stub upload, flash id, read, erase, write (plain and
deflated), MD5, baud change and security information. The flash is a byte array with
NOR semantics, the link counts every byte, and faults can be injected at any point, so
tests can prove what reaches the unit and what survives a cut.

Written from esptool 5.6's loader (``esptool/loader.py``, ``cmds.py``, ``targets/``): the
commands and registers it sends, and the replies it accepts. No code from other
projects.

Commands implemented (opcode, ROM ``R`` / stub ``S``):

- 0x08 SYNC (R: eight replies, value 0x20120707; S: value 0, so esptool sees a stub)
- 0x0A READ_REG, 0x09 WRITE_REG (R, S): a register file with per-chip eFuse words (MAC,
  chip revision and package, flash-encryption counter, key purposes, secure boot), the
  chip-detect magic at 0x40001000, UART_CLKDIV (follows the baud rate), and the SPI1
  controller: writing ``SPI_CMD_USR`` runs the user command in ``SPI_USR2`` (RDID 0x9F,
  RDSFDP 0x5A, RDSR 0x05/0x35/0x15, WREN/WRDI/WRSR/reset/power-down accepted) and puts the
  answer in ``SPI_W0`` masked to ``SPI_MISO_DLEN`` bits
- 0x14 GET_SECURITY_INFO (ESP32-S3/C3: 20 bytes, flash-crypt count from the configured
  flash-encryption state, chip id 9/5; ESP32 ROM: unknown command, as on the real chip)
- 0x05/0x07/0x06 MEM_BEGIN/DATA/END (checksums checked; MEM_END with an entry point
  answers ``OHAI`` and switches to stub behaviour: the stub is not executed)
- 0x0D SPI_ATTACH, 0x0B SPI_SET_PARAMS (in ROM mode flash beyond the set size, 2 MiB until
  set, is refused, as esptool's own comment on the ROM says)
- 0x02/0x03/0x04 FLASH_BEGIN/DATA/END and 0x10/0x11/0x12 FLASH_DEFL_BEGIN/DATA/END (zlib):
  ROM erases the whole region at BEGIN; the stub erases each sector when the write reaches
  it; sequence numbers and checksums are checked; END with "run" leaves the ROM for the
  application (the unit stops answering), END with "reboot" leaves the stub for the ROM
- 0x13 SPI_FLASH_MD5 (R: 32 lowercase hex characters; S: 16 raw bytes)
- 0xD2 READ_FLASH (S: 4 KiB packets, at most ``max_unacked`` unacknowledged, then the MD5
  frame; it waits for acknowledgements without any timeout, since esptool reads a
  ``socket://`` port one byte at a time)
- 0x0E READ_FLASH_SLOW (R: 64 bytes a command; esptool 5.6 sends it to every ESP32-family
  ROM)
- 0xD1 ERASE_REGION, 0xD0 ERASE_FLASH (S; ROM answers "invalid command")
- 0x0F CHANGE_BAUDRATE (R, S; the new rate only changes UART_CLKDIV, TCP has no baud)
- anything else: ROM status 0x01/0x05 ("invalid message"), stub 0xFF00 ("not implemented")

The flash: erasing sets a 4 KiB sector to 0xFF; programming ANDs the new bytes into the
old ones, so a write without an erase corrupts exactly as NOR flash does. Counters: bytes
in each direction, sectors erased, sectors programmed (each sector a write session starts
programming counts once), connections and commands. Faults (:meth:`VirtualESP32.arm_cut`):
cut the link after N more bytes in or out, or when the (N+1)th sector write begins, leaving
that sector torn (half programmed after its erase, or half erased): the in-flight command
gets no answer. A cut is one-shot; the unit then accepts a new connection, as a unit does
after its cable is plugged back in. Pauses (:meth:`VirtualESP32.arm_pause`) hold the
unit at such a point (a sector write about to begin, a command arriving) until the test
releases it, so a test can act (send a signal to a flashing process) at an exact point.

Transports: ``socket://`` (raw TCP, as ser2net gives) and ``rfc2217://`` (pyserial's
RFC 2217 PortManager handles the telnet side). Over RFC 2217 the RTS/DTR lines drive the
two-transistor auto-reset circuit of dev boards (EN low while RTS is asserted and DTR is
not, GPIO0 low in the opposite case, pulses on EN under 5 ms filtered as by its RC): a
reset with GPIO0 low boots the ROM loader (it prints its ``boot:0x3 ... waiting for
download`` banner), otherwise the firmware; ``auto_reset=False`` is a board without
the circuit. ``stats.boots`` records each boot.

Limits of its faithfulness (on purpose, or because the real behaviour is not documented):

- Each TCP connection is a power-on (in ``mode``: download, or ``app``, a unit running its
  firmware that prints log text and no SLIP, or ``silent``, nothing answers); the flash
  persists across connections. Over ``socket://`` RTS/DTR do not travel, so resets are
  invisible.
- No timing: erases and writes are instant; the stub answers a block after writing it
  (the real stub answers first and writes while the next block arrives).
- The ROM's exact reply to an unknown opcode (esptool expects possibly several, with a
  different opcode) is simplified to one reply with status 0x01/0x05.
- Flash beyond the chip's size is an error here; a real chip wraps addresses around.
- Flash encryption only changes the eFuse/security-info state: the flash holds whatever
  was loaded (a real encrypted unit holds ciphertext and decrypts on the fly).
- No secure boot, secure download mode, USB-JTAG, NAND, encrypted writes or SDC commands.
"""

from __future__ import annotations

from .chips import CHIPS, ChipProfile
from .link import LinkStats, Pause
from .unit import VirtualESP32

__all__ = ["CHIPS", "ChipProfile", "LinkStats", "Pause", "VirtualESP32"]
