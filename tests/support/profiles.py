"""The device profiles the verifier tests judge under, parsed once under one name each
(``esp_cabundle.verify.DEVICE_PROFILES`` says what each one models)."""

from __future__ import annotations

from esp_cabundle.verify import parse_device_profile

CLOCK = parse_device_profile("mbedtls-clock")
CLOCK3 = parse_device_profile("mbedtls3-clock")
NOCLOCK = parse_device_profile("mbedtls-noclock")
UNSET = parse_device_profile("mbedtls-clock-unset")
IDF = parse_device_profile("idf-bundle")
IDF5 = parse_device_profile("idf5-bundle")
IDF6 = parse_device_profile("idf-bundle-cross-signed")
IDF_CLOCK = parse_device_profile("idf-bundle-clock")
