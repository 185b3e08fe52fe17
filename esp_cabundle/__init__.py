"""esp-cabundle: the CA bundle that keeps ESP32 fleets able to reach their servers.

The library mirrors the CLI; README.md's "From Python" shows each step. Every name here
is imported from ``esp_cabundle`` itself (the modules behind them are not an API):

- the CA: ``gate_ca(CaSource.build(BundleSpec(...)), board=..., at=...)`` gives a
  ``GatedCA`` (``.pem``: what the units get), the one gate every write path passes
  (policies, private keys, the targets and the board's rules); ``build_bundle`` and
  ``write_build`` are ``esp-cabundle build`` (``OutputSpec`` per file, written all or
  none); ``load_board`` gives a ``Board``.
- judging: ``verify_chain`` / ``forecast`` with a ``TrustSet`` (``load_trust_set``,
  ``trust_set_from_bytes``), a chain (``load_chain_file``) and a ``DeviceProfile``
  (``Board.device_profile()``, ``parse_device_profile``); ``Target`` makes the gate
  judge a saved chain.
- push: ``run_campaign`` over ``MqttTransport.from_url(url, ids)`` or
  ``MdashTransport(api_key)``, recorded in a ``Ledger`` (``esp-cabundle push``).
- images and dumps: ``pack_ca`` (``esp-cabundle pack``), ``open_image``,
  ``read_partition_table``, ``update_dump``; ``inspect_path`` / ``inspect_bytes`` give
  a ``Report`` (``.to_dict(at)`` is what ``inspect --json`` prints).
- errors: every one raised on purpose is an ``EspCabundleError`` with ``message``,
  ``hint`` and the CLI's ``exit_code``; ``InputError`` adds ``path`` and ``line``,
  ``PolicyError`` and ``VerdictError`` (``CheckFailed``) add ``violations``; a
  ``CheckFailed`` from the gate also carries its ``report`` (every target's verdict);
  ``ChainNotCaptured`` (a ``DeviceError``) adds ``target``, one with no saved chain that
  could not be captured live; the ones a caller may tell apart are exported too
  (``NoRoomError``, ``TornFileSystem``, ``LedgerDamaged``, ...); each pickles whole.
  A value of the wrong type (one str for ``roots=``, a path where bytes go, a str for a
  date) is an ``ArgumentTypeError`` (an InputError and a TypeError).

Nothing here prints or exits, and nothing is written but by the functions that say so
(``write_build``; ``flash_unit`` keeps a journal). Naive datetimes are read as UTC.
Heavy parts (esptool, littlefs) are imported only by the modules that need them.
"""

from __future__ import annotations

import importlib

from .errors import (
    ArgumentTypeError,
    AuthError,
    CatalogError,
    CertificateError,
    ConfigError,
    DeviceError,
    DumpNotImageError,
    EspCabundleError,
    FlashError,
    ImageError,
    ImageNotDumpError,
    InputError,
    Interrupted,
    LockMismatchError,
    OutOfMemory,
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

    from .blocks import BlockSource
    from .boards import Board, list_boards, load_board
    from .build import BuildResult, WrittenOutputs, build_bundle, write_build
    from .bundle import Bundle, BundleSpec, Policy
    from .catalog import ALIASES, PRESETS, Catalog
    from .certs import Certificate, load_certificate_file, load_certificates
    from .chains import ServerChain, capture_chain, load_chain_file
    from .check import CheckFailed, CheckItem, CheckReport, check_items
    from .config import Config, OutputSpec, load_config
    from .findings import Report
    from .flash.damaged import TornFileSystem
    from .flash.dump import DumpFile
    from .flash.flasher import FlashResult, flash_unit
    from .flash.offline import DumpUpdate, update_dump
    from .flash.plan import UpdatePlan, plan_ca_update
    from .flash.restore import AlreadyRestored, RestoreResult, restore_unit
    from .flash.serial import SerialUnit, open_unit
    from .flash.writer import WriteFailed
    from .fs import FileSystemImage, create_image, open_image
    from .fs.base import NoRoomError, TooSmallError
    from .fs.edit import PackedImage
    from .fs.lfs_platforms import PlatformVersionError
    from .gate import CONFIG_BOARD, CaSource, GatedCA, gate_ca
    from .images import pack_ca
    from .inspect import inspect_bytes, inspect_path
    from .lockfile import Lock
    from .partitions import Partition, PartitionTable, read_partition_table
    from .push.campaign import (
        CampaignOptions,
        CampaignReport,
        PushFile,
        run_campaign,
    )
    from .push.ledger import Ledger
    from .push.ledger_files import LedgerDamaged
    from .push.ledger_open import AnotherCampaign
    from .push.mdash import MdashTransport
    from .push.mqtt import MqttTransport
    from .push.transport import Transport
    from .targets import ChainNotCaptured, Target, parse_target
    from .trust_files import load_trust_set, trust_set_from_bytes
    from .verify import (
        DeviceProfile,
        Forecast,
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
    "Lock": "lockfile",
    "build_bundle": "build",
    "write_build": "build",
    "BuildResult": "build",
    "WrittenOutputs": "build",
    "load_config": "config",
    "Config": "config",
    "OutputSpec": "config",
    "inspect_path": "inspect",
    "inspect_bytes": "inspect",
    "Report": "findings",
    "verify_chain": "verify",
    "forecast": "verify",
    "Forecast": "verify",
    "DeviceProfile": "verify",
    "parse_device_profile": "verify",
    "TrustSet": "verify",
    "Verdict": "verify",
    "capture_chain": "chains",
    "load_chain_file": "chains",
    "ServerChain": "chains",
    "Target": "targets",
    "ChainNotCaptured": "targets",
    "parse_target": "targets",
    "check_items": "check",
    "load_trust_set": "trust_files",
    "trust_set_from_bytes": "trust_files",
    "CheckFailed": "check",
    "CheckItem": "check",
    "CheckReport": "check",
    "open_image": "fs",
    "create_image": "fs",
    "FileSystemImage": "fs",
    "PackedImage": "fs.edit",
    "pack_ca": "images",
    "PartitionTable": "partitions",
    "Partition": "partitions",
    "read_partition_table": "partitions",
    "load_board": "boards",
    "list_boards": "boards",
    "Board": "boards",
    "BlockSource": "blocks",
    "plan_ca_update": "flash.plan",
    "UpdatePlan": "flash.plan",
    "update_dump": "flash.offline",
    "DumpUpdate": "flash.offline",
    "open_unit": "flash.serial",
    "SerialUnit": "flash.serial",
    "flash_unit": "flash.flasher",
    "FlashResult": "flash.flasher",
    "restore_unit": "flash.restore",
    "RestoreResult": "flash.restore",
    "DumpFile": "flash.dump",
    "CaSource": "gate",
    "GatedCA": "gate",
    "gate_ca": "gate",
    "CONFIG_BOARD": "gate",
    "run_campaign": "push.campaign",
    "CampaignOptions": "push.campaign",
    "CampaignReport": "push.campaign",
    "PushFile": "push.campaign",
    "Ledger": "push.ledger",
    "MdashTransport": "push.mdash",
    "MqttTransport": "push.mqtt",
    "Transport": "push.transport",
    "NoRoomError": "fs.base",
    "TooSmallError": "fs.base",
    "PlatformVersionError": "fs.lfs_platforms",
    "TornFileSystem": "flash.damaged",
    "WriteFailed": "flash.writer",
    "AlreadyRestored": "flash.restore",
    "LedgerDamaged": "push.ledger_files",
    "AnotherCampaign": "push.ledger_open",
}


if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name is their error, not Any

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'esp_cabundle' has no attribute {name!r}")

        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value


__all__ = [
    "ALIASES",
    "CONFIG_BOARD",
    "PRESETS",
    "AlreadyRestored",
    "AnotherCampaign",
    "ArgumentTypeError",
    "AuthError",
    "BlockSource",
    "Board",
    "BuildResult",
    "Bundle",
    "BundleSpec",
    "CaSource",
    "CampaignOptions",
    "CampaignReport",
    "Catalog",
    "CatalogError",
    "Certificate",
    "CertificateError",
    "ChainNotCaptured",
    "CheckFailed",
    "CheckItem",
    "CheckReport",
    "Config",
    "ConfigError",
    "DeviceError",
    "DeviceProfile",
    "DumpFile",
    "DumpNotImageError",
    "DumpUpdate",
    "EspCabundleError",
    "FileSystemImage",
    "FlashError",
    "FlashResult",
    "Forecast",
    "GatedCA",
    "ImageError",
    "ImageNotDumpError",
    "InputError",
    "Interrupted",
    "Ledger",
    "LedgerDamaged",
    "Lock",
    "LockMismatchError",
    "MdashTransport",
    "MqttTransport",
    "NoRoomError",
    "OutOfMemory",
    "OutputError",
    "OutputSpec",
    "PackedImage",
    "Partition",
    "PartitionTable",
    "PartitionTableError",
    "PlatformVersionError",
    "Policy",
    "PolicyError",
    "PrivateKeyError",
    "PushError",
    "PushFile",
    "Report",
    "RestoreResult",
    "SerialUnit",
    "ServerChain",
    "Target",
    "TooSmallError",
    "TornFileSystem",
    "Transport",
    "TrustSet",
    "UnitRpcError",
    "UnitUnreachable",
    "UpdatePlan",
    "Verdict",
    "VerdictError",
    "WriteFailed",
    "WrittenOutputs",
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
    "pack_ca",
    "parse_device_profile",
    "parse_target",
    "plan_ca_update",
    "read_partition_table",
    "restore_unit",
    "run_campaign",
    "trust_set_from_bytes",
    "update_dump",
    "verify_chain",
    "write_build",
]
