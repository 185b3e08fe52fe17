"""The CLI's spelling: the flags and commands the library's hints name when a command
calls it (a script is told of the parameters instead: :data:`esp_cabundle.spelling.PYTHON`).
Kept apart from :mod:`.options` to keep that module short; it re-exports it."""

from __future__ import annotations

from ..spelling import Spelling

__all__ = ["CLI_SPELLING"]

CLI_SPELLING = Spelling(
    no_check="--no-check",
    allow="--allow {}",
    service_until="--service-until",
    selection="--preset/--root",
    build="run 'esp-cabundle build'",
    locked="--locked",
    no_lock="--no-lock",
    profile="--profile",
    ca_path="--ca-path",
    offset="--offset",
    size="--size",
    # fs, flash, formats
    fs_type="--fs",
    platform="--platform",
    disk_version="--disk-version",
    pack="'esp-cabundle pack'",
    repack="make a new image with 'esp-cabundle pack --disk-version {}'",
    # check, push, restore
    until="--until {}",
    at="--at {}",
    bundle="--bundle {}",
    device="--device {}",
    chain="--chain",
    pulled="'esp-cabundle chains pull' saves it",
    host="--host",
    tls_ca="--tls-ca",
    mqtt="--mqtt",
    unit_ids="--device ID or --devices FILE",
    api_key="MDASH_API_KEY or --api-key-file",
    mdash_url="the --mdash URL",
    devices="--device/--devices",
    list_units="push --dry-run",
    # boards, catalog, formats
    board="--board",
    boards="esp-cabundle boards",
    inspect="esp-cabundle inspect",
    root_file="--root path/to/root.pem",
    idf_filter="--idf-filter",
)
