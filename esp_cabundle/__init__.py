"""esp-cabundle: the CA bundle that keeps ESP32 fleets able to reach their servers.

The library mirrors the CLI: ``build_bundle`` (``esp-cabundle build``),
``load_certificates`` (what ``inspect`` reads), the root ``Catalog`` and its presets.
Heavy parts (esptool, littlefs) are imported only by the modules that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    CatalogError,
    CertificateError,
    ConfigError,
    DeviceError,
    EspCabundleError,
    FlashError,
    ImageError,
    InputError,
    LockMismatchError,
    OutputError,
    PartitionTableError,
    PolicyError,
    PrivateKeyError,
    VerdictError,
)

__all__ = [
    "CatalogError",
    "CertificateError",
    "ConfigError",
    "DeviceError",
    "EspCabundleError",
    "FlashError",
    "ImageError",
    "InputError",
    "LockMismatchError",
    "OutputError",
    "PartitionTableError",
    "PolicyError",
    "PrivateKeyError",
    "VerdictError",
    "__version__",
]
