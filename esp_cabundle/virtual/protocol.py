"""esptool's serial protocol as the virtual ESP32 speaks it: opcodes, status codes, the
ROM's boot banners, the checksum (written from esptool 5.6's ``loader.py``)."""

from __future__ import annotations

__all__ = ["OP_NAMES", "checksum", "sectors"]

KiB = 1024
MiB = 1024 * KiB
SECTOR = 0x1000

# Opcodes (esptool ESPLoader.ESP_CMDS).
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
ERASE_FLASH, ERASE_REGION, READ_FLASH = 0xD0, 0xD1, 0xD2

OP_NAMES = {
    FLASH_BEGIN: "FLASH_BEGIN",
    FLASH_DATA: "FLASH_DATA",
    FLASH_END: "FLASH_END",
    MEM_BEGIN: "MEM_BEGIN",
    MEM_END: "MEM_END",
    MEM_DATA: "MEM_DATA",
    SYNC: "SYNC",
    WRITE_REG: "WRITE_REG",
    READ_REG: "READ_REG",
    SPI_SET_PARAMS: "SPI_SET_PARAMS",
    SPI_ATTACH: "SPI_ATTACH",
    READ_FLASH_SLOW: "READ_FLASH_SLOW",
    CHANGE_BAUDRATE: "CHANGE_BAUDRATE",
    FLASH_DEFL_BEGIN: "FLASH_DEFL_BEGIN",
    FLASH_DEFL_DATA: "FLASH_DEFL_DATA",
    FLASH_DEFL_END: "FLASH_DEFL_END",
    SPI_FLASH_MD5: "SPI_FLASH_MD5",
    GET_SECURITY_INFO: "GET_SECURITY_INFO",
    ERASE_FLASH: "ERASE_FLASH",
    ERASE_REGION: "ERASE_REGION",
    READ_FLASH: "READ_FLASH",
}

# Status codes: ROM replies (status, error) = (1, code); the stub puts its code in the
# first byte (esptool's FatalError.WithResult tables).
ROM_INVALID_MSG = 0x05
ROM_RESULT_WRONG = 0x06
ROM_CHECKSUM = 0x07
ROM_FLASH_WRITE = 0x08
ROM_FLASH_READ = 0x09
ROM_DEFLATE = 0x0B
STUB_BAD_DATA_LEN = 0xC0
STUB_BAD_CHECKSUM = 0xC1
STUB_FAILED_SPI_OP = 0xC4
STUB_NOT_IN_FLASH_MODE = 0xC6
STUB_INFLATE_ERROR = 0xC7
STUB_NOT_ENOUGH_DATA = 0xC8
STUB_TOO_MUCH_DATA = 0xC9
STUB_NOT_IMPLEMENTED = 0xFF

CHECKSUM_SEED = 0xEF
ROM_SYNC_VALUE = 0x20120707
ROM_DEFAULT_FLASH_SIZE = 2 * MiB
CHIP_DETECT_MAGIC_REG = 0x40001000
# What the ROM prints on UART0 when it starts (esptool looks for "boot:0x..").
BOOT_LOG_DOWNLOAD = (
    b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 "
    b"(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
)
BOOT_LOG_APP = (
    b"ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 "
    b"(SPI_FAST_FLASH_BOOT)\r\nI (31) boot: ESP-IDF bootloader\r\n"
)
# EN has an RC filter (10 kOhm, 1 uF on most boards): shorter pulses do not reset.
EN_FILTER_S = 0.005
XTAL_HZ = 40_000_000
DEFAULT_BAUD = 115200

# SPI_CMD_REG bit that starts a user command; SPI_USR_REG flag bits.
SPI_CMD_USR = 1 << 18
SPI_USR_ADDR = 1 << 30
SPI_USR_MISO = 1 << 28
SPI_USR_ADDR_LEN_SHIFT = 26


def checksum(data: bytes) -> int:
    """esptool's checksum: 0xEF XOR every byte (folded as one big integer, for speed)."""
    x = int.from_bytes(data, "little")
    bits = max(8, len(data) * 8)
    while bits > 8:
        half = (bits // 16 + bits % 16 // 8) * 8  # whole bytes, at least half
        x = (x >> half) ^ (x & ((1 << half) - 1))
        bits = half
    return CHECKSUM_SEED ^ x


def sectors(offset: int, size: int) -> range:
    start = offset - offset % SECTOR
    end = offset + size
    return range(start, end, SECTOR)
