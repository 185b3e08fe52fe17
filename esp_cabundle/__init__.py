"""esp-cabundle: the CA bundle that keeps ESP32 fleets able to reach their servers.

The library mirrors the CLI: ``build_bundle`` (``esp-cabundle build``),
``load_certificates`` (what ``inspect`` reads), the root ``Catalog`` and its presets, and
``gate_ca``: the one gate a CA passes before any write (``GatedCA`` is what writers take).
Heavy parts (esptool, littlefs) are imported only by the modules that need them.
"""

from __future__ import annotations

import importlib

from .errors import (
    AuthError,
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
    PushError,
    UnitRpcError,
    UnitUnreachable,
    VerdictError,
)

__version__ = "0.1.0"

# Not typing's: importing typing takes milliseconds, and this package is imported before
# the console script can catch Ctrl-C (esp_cabundle/_entry.py). Type checkers read this
# name as typing.TYPE_CHECKING.
TYPE_CHECKING = False

if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from typing import Any

    from .boards import Board, list_boards, load_board
    from .build import build_bundle, write_build
    from .bundle import Bundle, BundleSpec, Lock, Policy
    from .catalog import ALIASES, PRESETS, Catalog
    from .certs import Certificate, load_certificate_file, load_certificates
    from .chains import capture_chain, load_chain_file
    from .check import check_items, load_trust_set
    from .config import load_config
    from .flash.dump import DumpFile
    from .flash.flasher import flash_unit
    from .flash.offline import update_dump
    from .flash.plan import plan_ca_update
    from .flash.restore import restore_unit
    from .flash.serial import open_unit
    from .fs import create_image, open_image
    from .gate import CaSource, GatedCA, gate_ca
    from .inspect import inspect_bytes, inspect_path
    from .partitions import Partition, PartitionTable
    from .push.campaign import CampaignOptions, PushFile, run_campaign
    from .push.ledger import Ledger
    from .verify import (
        DeviceProfile,
        TrustSet,
        Verdict,
        forecast,
        parse_device_profile,
        verify_chain,
    )

# The library's main entry points, imported on first use (PEP 562) so that
# ``import esp_cabundle`` (which every CLI start does) stays cheap.
_LAZY: dict[str, str] = {
    "Certificate": "certs",
    "load_certificates": "certs",
    "load_certificate_file": "certs",
    "Catalog": "catalog",
    "PRESETS": "catalog",
    "ALIASES": "catalog",
    "Bundle": "bundle",
    "BundleSpec": "bundle",
    "Policy": "bundle",
    "Lock": "bundle",
    "build_bundle": "build",
    "write_build": "build",
    "load_config": "config",
    "inspect_path": "inspect",
    "inspect_bytes": "inspect",
    "verify_chain": "verify",
    "forecast": "verify",
    "DeviceProfile": "verify",
    "parse_device_profile": "verify",
    "TrustSet": "verify",
    "Verdict": "verify",
    "capture_chain": "chains",
    "load_chain_file": "chains",
    "check_items": "check",
    "load_trust_set": "check",
    "open_image": "fs",
    "create_image": "fs",
    "PartitionTable": "partitions",
    "Partition": "partitions",
    "load_board": "boards",
    "list_boards": "boards",
    "Board": "boards",
    "plan_ca_update": "flash.plan",
    "update_dump": "flash.offline",
    "open_unit": "flash.serial",
    "flash_unit": "flash.flasher",
    "restore_unit": "flash.restore",
    "DumpFile": "flash.dump",
    "CaSource": "gate",
    "GatedCA": "gate",
    "gate_ca": "gate",
    "run_campaign": "push.campaign",
    "CampaignOptions": "push.campaign",
    "PushFile": "push.campaign",
    "Ledger": "push.ledger",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'esp_cabundle' has no attribute {name!r}")

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ALIASES",
    "PRESETS",
    "AuthError",
    "Board",
    "Bundle",
    "BundleSpec",
    "CaSource",
    "CampaignOptions",
    "Catalog",
    "CatalogError",
    "Certificate",
    "CertificateError",
    "ConfigError",
    "DeviceError",
    "DeviceProfile",
    "DumpFile",
    "EspCabundleError",
    "FlashError",
    "GatedCA",
    "ImageError",
    "InputError",
    "Ledger",
    "Lock",
    "LockMismatchError",
    "OutputError",
    "Partition",
    "PartitionTable",
    "PartitionTableError",
    "Policy",
    "PolicyError",
    "PrivateKeyError",
    "PushError",
    "PushFile",
    "TrustSet",
    "UnitRpcError",
    "UnitUnreachable",
    "Verdict",
    "VerdictError",
    "__version__",
    "build_bundle",
    "capture_chain",
    "check_items",
    "create_image",
    "flash_unit",
    "forecast",
    "gate_ca",
    "inspect_bytes",
    "inspect_path",
    "list_boards",
    "load_board",
    "load_certificate_file",
    "load_certificates",
    "load_chain_file",
    "load_config",
    "load_trust_set",
    "open_image",
    "open_unit",
    "parse_device_profile",
    "plan_ca_update",
    "restore_unit",
    "run_campaign",
    "update_dump",
    "verify_chain",
    "write_build",
]
