"""The commands a virtual ESP32 answers, as the ROM loader and esptool's flasher stub do:
registers and the SPI controller, RAM download of the stub, flash begin/data/end (plain
and deflated), MD5, reads, erases, baud changes. The link itself (framing, faults,
resets) is :class:`~.unit.VirtualESP32`, which these handlers are part of."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable

from .chips import JEDEC_CAPACITY, SFDP, ChipProfile
from .link import Fault, LinkCut, LinkStats, Pause, WriteSession
from .protocol import (
    CHANGE_BAUDRATE,
    ERASE_FLASH,
    ERASE_REGION,
    FLASH_BEGIN,
    FLASH_DATA,
    FLASH_DEFL_BEGIN,
    FLASH_DEFL_DATA,
    FLASH_DEFL_END,
    FLASH_END,
    GET_SECURITY_INFO,
    MEM_BEGIN,
    MEM_DATA,
    MEM_END,
    READ_FLASH,
    READ_FLASH_SLOW,
    READ_REG,
    ROM_CHECKSUM,
    ROM_DEFLATE,
    ROM_FLASH_READ,
    ROM_FLASH_WRITE,
    ROM_INVALID_MSG,
    ROM_RESULT_WRONG,
    ROM_SYNC_VALUE,
    SECTOR,
    SPI_ATTACH,
    SPI_CMD_USR,
    SPI_FLASH_MD5,
    SPI_SET_PARAMS,
    SPI_USR_ADDR,
    SPI_USR_MISO,
    STUB_BAD_CHECKSUM,
    STUB_BAD_DATA_LEN,
    STUB_FAILED_SPI_OP,
    STUB_INFLATE_ERROR,
    STUB_NOT_ENOUGH_DATA,
    STUB_NOT_IMPLEMENTED,
    STUB_NOT_IN_FLASH_MODE,
    STUB_TOO_MUCH_DATA,
    SYNC,
    WRITE_REG,
    XTAL_HZ,
    checksum,
    sectors,
)

__all__ = ["Commands"]


class Commands:
    """The opcode handlers of a unit; :class:`~.unit.VirtualESP32` gives them the link
    (:meth:`_send_frame`, :meth:`_read_frame`) and the state below."""

    chip: ChipProfile
    flash: bytearray
    flash_encryption: bool
    max_unacked: int | None
    stats: LinkStats
    _stub: bool
    _app: bool
    _baud: int
    _rom_flash_size: int
    _write: WriteSession | None
    _mem_expected: int
    _mem_seq: int
    _regs: dict[int, int]
    _pause: Pause | None
    _fault: Fault | None

    def _send_frame(self, payload: bytes) -> None:
        raise NotImplementedError

    def _read_frame(self) -> bytes:
        raise NotImplementedError

    def _hold(self, pause: Pause) -> None:
        raise NotImplementedError

    def _reset_session(self, *, download: bool | None = None) -> None:
        raise NotImplementedError

    def _update_clkdiv(self) -> None:
        self._regs[self.chip.uart_clkdiv] = XTAL_HZ // self._baud

    def _reply(self, op: int, value: int = 0, payload: bytes = b"", status: int = 0) -> None:
        """A response: header, payload, then status bytes (4 from the ROM, 2 from the stub)."""
        tail = bytes([status, 0]) if self._stub else bytes([1 if status else 0, status, 0, 0])
        body = payload + tail
        self._send_frame(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _fail(self, op: int, rom_code: int, stub_code: int, payload_len: int = 0) -> None:
        self._reply(op, payload=b"\x00" * payload_len, status=stub_code if self._stub else rom_code)

    def _dispatch(self, op: int, data: bytes, chk: int) -> None:
        # op: (handler, the data length it takes (None: the handler judges), which loader
        # answers it (None: both)). The other loader does not know the command; data of
        # another length is refused before the handler runs.
        known: dict[int, tuple[Callable[[int, bytes, int], None], int | None, str | None]] = {
            SYNC: (self._sync, None, None),
            READ_REG: (self._read_reg, 4, None),
            WRITE_REG: (self._write_reg, None, None),
            GET_SECURITY_INFO: (self._security_info, None, None),
            MEM_BEGIN: (self._mem_begin, 16, None),
            MEM_DATA: (self._mem_data, None, None),
            MEM_END: (self._mem_end, 8, None),
            SPI_ATTACH: (self._ack, None, None),
            SPI_SET_PARAMS: (self._spi_set_params, 24, None),
            FLASH_BEGIN: (self._flash_begin, None, None),
            FLASH_DEFL_BEGIN: (self._flash_begin, None, None),
            FLASH_DATA: (self._flash_data, None, None),
            FLASH_DEFL_DATA: (self._flash_data, None, None),
            FLASH_END: (self._flash_end, 4, None),
            FLASH_DEFL_END: (self._flash_end, 4, None),
            SPI_FLASH_MD5: (self._md5, 16, None),
            READ_FLASH: (self._read_flash, 16, "stub"),
            READ_FLASH_SLOW: (self._read_flash_slow, 8, "rom"),
            ERASE_REGION: (self._erase_region, 8, "stub"),
            ERASE_FLASH: (self._erase_flash, None, "stub"),
            CHANGE_BAUDRATE: (self._change_baud, 8, None),
        }
        entry = known.get(op)
        if entry is None or entry[2] == ("rom" if self._stub else "stub"):
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        handler, length, _loader = entry
        if length is not None and len(data) != length:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        handler(op, data, chk)

    def _ack(self, op: int, data: bytes, chk: int) -> None:
        self._reply(op)

    def _sync(self, op: int, data: bytes, chk: int) -> None:
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        for _ in range(8):
            self._reply(op, value=0 if self._stub else ROM_SYNC_VALUE)

    # registers and the SPI controller
    def _read_reg(self, op: int, data: bytes, chk: int) -> None:
        (addr,) = struct.unpack("<I", data)
        self._reply(op, value=self._regs.get(addr, 0))

    def _write_reg(self, op: int, data: bytes, chk: int) -> None:
        if not data or len(data) % 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        for pos in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[pos : pos + 16])
            old = self._regs.get(addr, 0)
            self._regs[addr] = (old & ~mask) | (value & mask)
            if addr == self.chip.spi_base and value & mask & SPI_CMD_USR:
                self._run_spi_command()
        self._reply(op)

    def _run_spi_command(self) -> None:
        c = self.chip
        regs = self._regs
        usr = regs.get(c.spi_base + c.spi_usr, 0)
        command = regs.get(c.spi_base + c.spi_usr2, 0) & 0xFF
        result = 0
        if usr & SPI_USR_MISO:
            if command == 0x9F:  # RDID
                result = 0xC8 | (0x40 << 8) | (JEDEC_CAPACITY[len(self.flash)] << 16)
            elif command == 0x5A:  # RDSFDP
                addr = regs.get(c.spi_base + 4, 0)
                if c.spi_addr_msb and usr & SPI_USR_ADDR:
                    addr_len = ((regs.get(c.spi_base + c.spi_usr1, 0) >> 26) & 0x3F) + 1
                    addr >>= 32 - addr_len
                addr &= 0xFF
                result = int.from_bytes((SFDP + b"\xff" * 4)[addr : addr + 4], "little")
            # RDSR/RDSR2/RDSR3 and anything else read back 0: no protection bits set
            bits = (regs.get(c.spi_base + c.spi_miso_dlen, 0) & 0xFFFFFF) + 1
            if bits < 32:
                result &= (1 << bits) - 1
        regs[c.spi_base + c.spi_w0] = result
        regs[c.spi_base] = regs.get(c.spi_base, 0) & ~SPI_CMD_USR  # done

    def _security_info(self, op: int, data: bytes, chk: int) -> None:
        if self.chip.chip_id is None:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)
            return
        purposes = [4 if self.flash_encryption else 0] + [0] * 6
        payload = struct.pack(
            "<IB7BII", 0, 1 if self.flash_encryption else 0, *purposes, self.chip.chip_id, 0
        )
        self._reply(op, payload=payload)

    # RAM download (the stub)
    def _mem_begin(self, op: int, data: bytes, chk: int) -> None:
        _size, blocks, _block_size, _offset = struct.unpack("<IIII", data)
        self._mem_expected = blocks
        self._mem_seq = 0
        self._reply(op)

    def _mem_data(self, op: int, data: bytes, chk: int) -> None:
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:]
        if len(block) != length or checksum(block) != chk:
            self._fail(op, ROM_CHECKSUM, STUB_BAD_CHECKSUM)
            return
        if seq != self._mem_seq or seq >= self._mem_expected:
            self._fail(op, ROM_RESULT_WRONG, STUB_BAD_DATA_LEN)
            return
        self._mem_seq += 1
        self._reply(op)

    def _mem_end(self, op: int, data: bytes, chk: int) -> None:
        no_entry, entry = struct.unpack("<II", data)
        self._reply(op)
        if not no_entry and entry and not self._stub:
            self._send_frame(b"OHAI")
            self._stub = True

    # flash
    def _limit(self) -> int:
        return len(self.flash) if self._stub else min(self._rom_flash_size, len(self.flash))

    def _spi_set_params(self, op: int, data: bytes, chk: int) -> None:
        _id, total, _block, _sector, _page, _mask = struct.unpack("<IIIIII", data)
        self._rom_flash_size = total
        self._reply(op)

    def _flash_begin(self, op: int, data: bytes, chk: int) -> None:
        if len(data) not in (16, 20):
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        if len(data) == 20 and struct.unpack("<I", data[16:])[0]:
            self._fail(op, ROM_INVALID_MSG, STUB_NOT_IMPLEMENTED)  # encrypted writes
            return
        if offset + size > self._limit():
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        compressed = op == FLASH_DEFL_BEGIN
        session = WriteSession(
            offset=offset,
            size=size,
            blocks=blocks,
            block_size=block_size,
            compressed=compressed,
            inflater=zlib.decompressobj() if compressed else None,
        )
        if not self._stub and size:
            # The ROM erases the whole region up front (esptool times the erase here).
            for sector in sectors(offset, size):
                self._erase_sector(sector)
                session.erased.add(sector)
        self._write = session
        self._reply(op)

    def _flash_data(self, op: int, data: bytes, chk: int) -> None:
        s = self._write
        compressed = op == FLASH_DEFL_DATA
        if s is None or s.compressed != compressed:
            self._fail(op, ROM_RESULT_WRONG, STUB_NOT_IN_FLASH_MODE)
            return
        if len(data) < 16:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        block = data[16:]
        if len(block) != length:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        if checksum(block) != chk:
            self._fail(op, ROM_CHECKSUM, STUB_BAD_CHECKSUM)
            return
        if seq != s.next_seq:
            self._fail(op, ROM_RESULT_WRONG, STUB_BAD_DATA_LEN)
            return
        if s.inflater is not None:
            try:
                plain = s.inflater.decompress(block)
            except zlib.error:
                self._fail(op, ROM_DEFLATE, STUB_INFLATE_ERROR)
                return
            if s.written + len(plain) > s.size:
                self._fail(op, ROM_DEFLATE, STUB_TOO_MUCH_DATA)
                return
        else:
            # The last block is padded with 0xFF: programming 0xFF changes nothing, so it
            # is dropped (and not counted). The ROM programs data past the region it
            # erased at BEGIN; there NOR flash only clears bits.
            plain = block[: max(s.size - s.written, 0)]
            if not self._stub and block[len(plain) :].strip(b"\xff"):
                plain = block
        if s.offset + s.written + len(plain) > len(self.flash):
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        s.next_seq += 1
        self._program(s, plain)
        self._reply(op)

    def _flash_end(self, op: int, data: bytes, chk: int) -> None:
        s = self._write
        (stay,) = struct.unpack("<I", data)
        if self._stub and s is not None and s.written < s.size:
            self._fail(op, ROM_RESULT_WRONG, STUB_NOT_ENOUGH_DATA)
            return
        self._write = None
        self._reply(op)
        if not self._stub and stay:
            self._app = True  # the ROM leaves the loader and runs the application
        elif self._stub and not stay:
            self._reset_session()  # the stub reboots into the ROM loader

    def _program(self, s: WriteSession, data: bytes) -> None:
        """Program ``data`` at the session's cursor, one sector span at a time."""
        pos = 0
        while pos < len(data):
            addr = s.offset + s.written
            sector = addr - addr % SECTOR
            chunk = data[pos : pos + (sector + SECTOR - addr)]
            if sector not in s.started:
                pause = self._pause
                if (
                    pause is not None
                    and pause.sector_writes is not None
                    and self.stats.sectors_programmed >= pause.sector_writes
                ):
                    self._hold(pause)
                f = self._fault
                limit = None if f is None else f.sector_writes
                if f is not None and limit is not None and self.stats.sectors_programmed >= limit:
                    self._tear(s, sector, addr, chunk, f.tear)
                s.started.add(sector)
                self.stats.sectors_programmed += 1
            if self._stub and sector not in s.erased:
                self._erase_sector(sector)  # the stub erases as the write reaches a sector
                s.erased.add(sector)
            self._and_into(addr, chunk)
            s.written += len(chunk)
            pos += len(chunk)

    def _tear(self, s: WriteSession, sector: int, addr: int, chunk: bytes, tear: str) -> None:
        """The link dies while this sector is being written: leave it as power loss could."""
        if tear == "erase":
            if sector not in s.erased:  # the stub was erasing it: half done
                self.flash[sector : sector + SECTOR // 2] = b"\xff" * (SECTOR // 2)
                self.stats.sectors_erased += 1
        else:
            if sector not in s.erased:
                self._erase_sector(sector)
            self._and_into(addr, chunk[: max(1, len(chunk) // 2)])
        self.stats.sectors_programmed += 1
        raise LinkCut

    def _erase_sector(self, sector: int) -> None:
        self.flash[sector : sector + SECTOR] = b"\xff" * SECTOR
        self.stats.sectors_erased += 1

    def _and_into(self, addr: int, data: bytes) -> None:
        n = len(data)
        old = int.from_bytes(self.flash[addr : addr + n], "little")
        self.flash[addr : addr + n] = (old & int.from_bytes(data, "little")).to_bytes(n, "little")

    def _md5(self, op: int, data: bytes, chk: int) -> None:
        addr, size, _, _ = struct.unpack("<IIII", data)
        if addr + size > self._limit():
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP, 16 if self._stub else 32)
            return
        digest = hashlib.md5(self.flash[addr : addr + size])
        payload = digest.digest() if self._stub else digest.hexdigest().encode()
        self._reply(op, payload=payload)

    def _read_flash(self, op: int, data: bytes, chk: int) -> None:
        offset, length, packet, max_unacked = struct.unpack("<IIII", data)
        if offset + length > len(self.flash) or packet == 0:
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP)
            return
        window = (self.max_unacked or max_unacked or 1) * packet
        self._reply(op)
        content = bytes(self.flash[offset : offset + length])
        sent = acked = 0
        while acked < length:
            while sent < length and sent - acked < window:
                self._send_frame(content[sent : sent + packet])
                sent = min(sent + packet, length)
            ack = self._read_frame()
            if len(ack) != 4:
                return  # not an acknowledgement: the stub gives up the transfer
            acked = max(acked, struct.unpack("<I", ack)[0])
        self._send_frame(hashlib.md5(content).digest())

    def _read_flash_slow(self, op: int, data: bytes, chk: int) -> None:
        offset, length = struct.unpack("<II", data)
        if length > 64 or offset + length > self._limit():
            self._fail(op, ROM_FLASH_READ, STUB_FAILED_SPI_OP, 64)
            return
        block = bytes(self.flash[offset : offset + length])
        self._reply(op, payload=block + b"\xff" * (64 - len(block)))

    def _erase_region(self, op: int, data: bytes, chk: int) -> None:
        offset, size = struct.unpack("<II", data)
        if offset % SECTOR or size % SECTOR:
            self._fail(op, ROM_INVALID_MSG, STUB_BAD_DATA_LEN)
            return
        if offset + size > len(self.flash):
            self._fail(op, ROM_FLASH_WRITE, STUB_FAILED_SPI_OP)
            return
        for sector in sectors(offset, size):
            self._erase_sector(sector)
        self._reply(op)

    def _erase_flash(self, op: int, data: bytes, chk: int) -> None:
        for sector in range(0, len(self.flash), SECTOR):
            self._erase_sector(sector)
        self._reply(op)

    def _change_baud(self, op: int, data: bytes, chk: int) -> None:
        new, _old = struct.unpack("<II", data)
        self._reply(op)
        if new:
            self._baud = new
            self._update_clkdiv()
