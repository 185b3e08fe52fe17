"""The chips the virtual ESP32 can be: the registers esptool reads, at each chip's
addresses (from esptool 5.6's ``targets/``), and the flash's JEDEC id and SFDP area."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .protocol import MiB

__all__ = ["CHIPS", "JEDEC_CAPACITY", "SFDP", "ChipProfile"]

# JEDEC ids: manufacturer 0xC8 (GigaDevice), type 0x40, capacity 2^n bytes.
JEDEC_CAPACITY = {4 * MiB: 0x16, 8 * MiB: 0x17, 16 * MiB: 0x18}


def _sfdp_table() -> bytes:
    """A minimal SFDP area: signature, one JEDEC basic parameter header, 0xFF after."""
    header = b"SFDP" + bytes([0x06, 0x01, 0x00, 0xFF])  # rev 1.6, 1 header, access 0xFF
    param = bytes([0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xFF])  # id 0, 16 dwords @0x30
    table = header + param
    return table + b"\xff" * (0x100 - len(table))


SFDP = _sfdp_table()


@dataclass(frozen=True)
class ChipProfile:
    """The registers of one chip that esptool reads, at that chip's addresses."""

    key: str
    name: str
    magic: int
    chip_id: int | None  # in GET_SECURITY_INFO; None: the ROM lacks the command
    spi_base: int
    spi_usr: int
    spi_usr1: int
    spi_usr2: int
    spi_miso_dlen: int
    spi_w0: int
    spi_addr_msb: bool
    uart_clkdiv: int
    efuse_base: int

    def registers(self, mac: bytes) -> dict[int, int]:
        """Power-on values of the registers esptool reads (all others read as 0)."""
        if self.key == "esp32":
            e = self.efuse_base
            return {
                e + 4: int.from_bytes(mac[2:6], "big"),  # EFUSE_BLK0_RDATA1: MAC low
                e + 8: int.from_bytes(mac[0:2], "big"),  # RDATA2: MAC high (CRC left 0)
                e + 12: (1 << 9) | (1 << 15),  # RDATA3: package D0WD, revision bit 0
                e + 16: 64,  # RDATA4: CK8M frequency (the ROM's baud correction)
                e + 20: 1 << 20,  # RDATA5: revision bit 1
                0x3FF6607C: 1 << 31,  # APB_CTL_DATE: revision bit 2 -> v3.0
                0x3FF5F06C: 1600 << 7,  # RTCCALICFG1: ROM-calibrated 40 MHz crystal
            }
        block1 = self.efuse_base + 0x44
        minor = 2 if self.key == "esp32s3" else 4
        return {
            block1: int.from_bytes(mac[2:6], "big"),
            block1 + 4: int.from_bytes(mac[0:2], "big"),
            block1 + 12: minor << 18,  # word 3: package 0, minor revision
        }

    def security_registers(self, flash_encryption: bool) -> dict[int, int]:
        """eFuse words that say whether flash encryption is on."""
        if not flash_encryption:
            return {}
        if self.key == "esp32":
            # FLASH_CRYPT_CNT (bits 20..26 of BLK0 word 0) odd; FLASH_CRYPT_CONFIG 0xF.
            return {self.efuse_base: 1 << 20, self.efuse_base + 20: (1 << 20) | (0xF << 28)}
        # SPI_BOOT_CRYPT_CNT bits 18..20 of +0x34, KEY_PURPOSE_0 = XTS_AES_128_KEY (4).
        return {self.efuse_base + 0x34: (1 << 18) | (4 << 24)}


CHIPS: dict[str, ChipProfile] = {
    "esp32": ChipProfile(
        key="esp32",
        name="ESP32",
        magic=0x00F01D83,
        chip_id=None,
        spi_base=0x3FF42000,
        spi_usr=0x1C,
        spi_usr1=0x20,
        spi_usr2=0x24,
        spi_miso_dlen=0x2C,
        spi_w0=0x80,
        spi_addr_msb=True,
        uart_clkdiv=0x3FF40014,
        efuse_base=0x3FF5A000,
    ),
    "esp32s3": ChipProfile(
        key="esp32s3",
        name="ESP32-S3",
        magic=0x00000009,
        chip_id=9,
        spi_base=0x60002000,
        spi_usr=0x18,
        spi_usr1=0x1C,
        spi_usr2=0x20,
        spi_miso_dlen=0x28,
        spi_w0=0x58,
        spi_addr_msb=False,
        uart_clkdiv=0x60000014,
        efuse_base=0x60007000,
    ),
}
# The C3 has the S3's SPI and UART layout; only identity and eFuse block differ.
CHIPS["esp32c3"] = replace(
    CHIPS["esp32s3"],
    key="esp32c3",
    name="ESP32-C3",
    magic=0x1B31506F,
    chip_id=5,
    efuse_base=0x60008800,
)
