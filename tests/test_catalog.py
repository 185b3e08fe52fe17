"""The root catalog: aliases pinned by fingerprint, extra roots with provenance, presets."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from support.fresh_python import run_command_without

from esp_cabundle.catalog import (
    ALIASES,
    EXTRA_ROOTS,
    PRESETS,
    Catalog,
    entry_certificate,
    entry_status,
    normalize_fingerprint,
)
from esp_cabundle.errors import CatalogError

TODAY = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_every_alias_resolves_to_its_pinned_fingerprint(catalog: Catalog) -> None:
    for alias, fp in ALIASES.items():
        entry = catalog.resolve(alias)
        assert entry.sha256 == fp
        assert hashlib.sha256(entry.der).hexdigest() == fp
        assert alias in entry.aliases


def test_aliases_are_case_insensitive_and_fingerprints_accept_common_spellings(
    catalog: Catalog,
) -> None:
    fp = ALIASES["isrg-root-x1"]
    colon = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    for spelling in ("ISRG-Root-X1", fp, fp.upper(), f"sha256:{fp}", colon):
        assert catalog.resolve(spelling).sha256 == fp


def test_a_name_alone_never_resolves(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="not an alias or SHA-256"):
        catalog.resolve("ISRG Root X1")
    with pytest.raises(CatalogError) as e:
        catalog.resolve("isrg")
    assert e.value.hint and "isrg-root-x1" in e.value.hint


def test_unknown_fingerprint_is_a_clear_error(catalog: Catalog) -> None:
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.resolve("ab" * 32)
    assert normalize_fingerprint("abc") is None


def test_mozilla_store_comes_from_certifi_and_records_its_version(catalog: Catalog) -> None:
    import certifi

    assert catalog.mozilla_version == certifi.__version__
    from esp_cabundle.catalog import _certifi_store

    assert _certifi_store() == (Path(certifi.where()), certifi.__version__)
    mozilla = [e for e in catalog if e.source == "mozilla"]
    assert len(mozilla) > 80
    assert all(certifi.__version__ in e.provenance for e in mozilla)


def test_extra_roots_carry_provenance_and_status(catalog: Catalog) -> None:
    package = {e.sha256: e for e in catalog if e.source == "package"}
    for fp, (provenance, status) in EXTRA_ROOTS.items():
        if fp in package:
            assert package[fp].provenance == provenance
            assert package[fp].status == status
    # Gen Y roots are not in Mozilla yet, so they must come from package data.
    for alias in ("isrg-root-yr", "isrg-root-ye", "dst-root-ca-x3"):
        assert (
            catalog.resolve(alias).sha256 in package or catalog.resolve(alias).source == "mozilla"
        )
    assert set(EXTRA_ROOTS) <= {e.sha256 for e in catalog}


def test_dst_root_ca_x3_is_reported_expired(catalog: Catalog) -> None:
    dst = catalog.resolve("dst-root-ca-x3")
    status = entry_status(dst, TODAY)
    assert status.startswith("expired 2021-09-30")
    assert status.count("2021-09-30") == 1, status  # the date once: folded in, not stored


def test_presets_have_reasons_and_valid_ca_roots(catalog: Catalog) -> None:
    assert {"default", "letsencrypt", "mdash", "aws-iot", "azure-iot", "longlife"} <= set(PRESETS)
    for preset in PRESETS.values():
        assert preset.reason and "\n" not in preset.reason
        assert len(set(preset.aliases)) == len(preset.aliases)
        for alias in preset.aliases:
            cert = entry_certificate(catalog.resolve(alias))
            assert cert.is_ca and cert.self_signed
            assert cert.not_after > datetime(2034, 1, 1, tzinfo=timezone.utc), alias
    assert set(PRESETS["letsencrypt"].aliases) == {
        "isrg-root-x1",
        "isrg-root-x2",
        "isrg-root-yr",
        "isrg-root-ye",
    }


def test_a_preset_says_true_dates_of_its_roots(catalog: Catalog) -> None:
    """'valid until at least DATE' is the first expiry among its roots, to the day; no
    reason claims 'past YEAR' when a root expires that year."""
    import re

    checked = 0
    for preset in PRESETS.values():
        ends = [entry_certificate(catalog.resolve(a)).not_after for a in preset.aliases]
        m = re.search(r"until at least (\d{4}-\d{2}-\d{2})", preset.reason)
        if m:
            assert min(ends).date().isoformat() == m.group(1), preset.name
            checked += 1
        past = re.search(r"past (\d{4})", preset.reason)
        assert past is None or min(ends).year > int(past.group(1)), preset.name
    assert checked  # the default preset says its date


def test_longlife_spans_independent_cas(catalog: Catalog) -> None:
    orgs = set()
    for alias in PRESETS["longlife"].aliases:
        cert = entry_certificate(catalog.resolve(alias))
        orgs.add(cert.subject.split("O=")[1].split(",")[0] if "O=" in cert.subject else cert.label)
    assert len(orgs) >= 5


README = Path(__file__).resolve().parent.parent / "README.md"
# How README's "Which roots should my devices trust?" names the default preset's roots.
DEFAULT_AS_README_NAMES_THEM = {
    "isrg-root-x1": "X1",
    "isrg-root-x2": "X2",
    "isrg-root-yr": "YR",
    "isrg-root-ye": "YE",
    "gts-root-r1": "GTS R1",
    "amazon-root-ca-1": "Amazon Root CA 1",
    "digicert-global-root-g2": "DigiCert Global Root G2",
    "usertrust-rsa": "USERTrust RSA",
}


def test_readme_lists_the_presets_and_the_default_preset_s_roots() -> None:
    text = " ".join(README.read_text().split("\nPresets: ", 1)[1].split(".")[0].split())
    assert re.findall(r"`([a-z-]+)`", text) == list(PRESETS)
    default = text.split("(", 1)[1].split(")", 1)[0]
    assert list(PRESETS["default"].aliases) == list(DEFAULT_AS_README_NAMES_THEM)
    shown = [n.strip() for n in default.replace("Let's Encrypt ", "").replace("/", ", ").split(",")]
    assert shown == list(DEFAULT_AS_README_NAMES_THEM.values())


def test_preset_roots_are_as_small_as_readme_says(catalog: Catalog) -> None:
    """README: 0.7 to 2.1 KB each in PEM, EC roots under 1 KB, RSA 4096 ones about 2 KB."""
    sizes: dict[str, list[int]] = {}
    for preset in PRESETS.values():
        for alias in preset.aliases:
            cert = catalog.certificate(catalog.resolve(alias))
            sizes.setdefault(cert.key_description.split()[0], []).append(len(cert.pem()))
            if cert.key_description == "RSA 4096":
                assert 1800 <= len(cert.pem()) <= 2100, alias
    every = [n for s in sizes.values() for n in s]
    assert min(every) >= 650 and max(every) <= 2100
    assert max(sizes["EC"]) < 1000


def test_search(catalog: Catalog) -> None:
    labels = {e.label for e in catalog.search("isrg")}
    assert {"ISRG Root X1", "ISRG Root X2"} <= labels
    assert [e.label for e in catalog.search(ALIASES["gts-root-r1"][:12])] == ["GTS Root R1"]
    assert catalog.search("no-such-root-anywhere") == []


def test_every_aliased_root_parses_with_real_mbedtls(catalog: Catalog) -> None:
    """Builds skip the mbedTLS parse check for these (MBEDTLS_VETTED); prove it is safe."""
    mx509 = pytest.importorskip("mbedtls.x509", reason="python-mbedtls (extra 'verify') missing")
    from esp_cabundle.bundle import MBEDTLS_VETTED

    assert set(ALIASES.values()) == MBEDTLS_VETTED
    for alias in ALIASES:
        crt = mx509.CRT.from_DER(catalog.resolve(alias).der)
        assert crt.subject, alias


def test_shipped_root_metadata_matches_the_certificates(catalog: Catalog) -> None:
    """Preset builds read facts from root-metadata.json instead of parsing X.509; the file
    must say exactly what parsing the DER says (regenerate with write_root_metadata)."""
    from esp_cabundle.catalog import ROOT_METADATA_FILE, render_root_metadata
    from esp_cabundle.certificate import _X509, Certificate

    assert ROOT_METADATA_FILE.read_text(encoding="utf-8") == render_root_metadata(catalog)
    import json

    doc = json.loads(ROOT_METADATA_FILE.read_text(encoding="utf-8"))
    assert set(doc) == set(ALIASES.values())
    for fp, meta in doc.items():
        der = catalog.resolve(fp).der
        fast, parsed = Certificate.from_metadata(der, meta), Certificate.from_der(der)
        assert fast == parsed and fast.metadata() == parsed.metadata()
        _X509.pop(fp, None)  # forget the parse: fast.x509 must parse its own DER lazily
        assert fast.x509.tbs_certificate_bytes in der


def test_preset_build_needs_no_x509_parsing(tmp_path: Path) -> None:
    heavy = ("cryptography", "esptool", "littlefs", "mbedtls", "yaml")
    r = run_command_without(["build", "-q", "-f", "pem", "-f", "c"], heavy, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ca.pem").is_file() and (tmp_path / "ca_pem.h").is_file()


def test_aliases_survive_a_mozilla_store_that_dropped_them(tmp_path: Path) -> None:
    """Mozilla removes roots that servers still chain to (GTS R2, DigiCert G1 in 2026):
    a newer certifi must not break presets; the package's pinned copy takes over."""
    import certifi

    text = Path(certifi.where()).read_text(encoding="utf-8")
    x1_der = Catalog.load().resolve("isrg-root-x1").der
    from esp_cabundle.certs import load_certificates

    blocks = text.split("\n\n")
    kept = [b for b in blocks if not any(c.der == x1_der for c in _certs_in(b, load_certificates))]
    assert len(kept) == len(blocks) - 1
    store = tmp_path / "cacert.pem"
    store.write_text("\n\n".join(kept), encoding="utf-8")

    catalog = Catalog.load(mozilla_pem=store, mozilla_version="2099.01.01")
    entry = catalog.resolve("isrg-root-x1")
    assert entry.source == "package" and entry.der == x1_der
    assert entry.label == "ISRG Root X1" and "not in certifi 2099.01.01" in entry.status
    assert catalog.resolve("isrg-root-x2").source == "mozilla"
    from esp_cabundle.build import build_bundle
    from esp_cabundle.bundle import BundleSpec

    result = build_bundle(BundleSpec(presets=("letsencrypt",)), (), catalog=catalog)
    assert result.bundle.fingerprints[0] == ALIASES["isrg-root-x1"]


def _certs_in(block: str, loader: Any) -> tuple[Any, ...]:
    return loader(block.encode()) if "BEGIN CERTIFICATE" in block else ()


def test_store_blocks_and_labels_read_as_a_line_by_line_reader_reads_them() -> None:
    """The catalog finds blocks by string search; a plain line reader (each "# Label"
    line names the next block) must see the same labels and DER in certifi's store and
    the package's extra roots."""
    import base64
    import re

    import certifi

    from esp_cabundle.catalog import _pem_blocks

    def by_lines(text: str) -> list[tuple[str | None, bytes]]:
        out, label, body = [], None, None
        for line in text.splitlines():
            if body is None:
                m = re.match(r'# Label: "(.*)"', line)
                label = m.group(1) if m else label
                body = [] if line.startswith("-----BEGIN CERTIFICATE-----") else None
            elif line.startswith("-----END CERTIFICATE-----"):
                # certifi escapes non-ASCII as Python does: the catalog shows the name
                name = label.encode("ascii").decode("unicode_escape") if label else None
                out.append((name or None, base64.b64decode("".join(body))))
                label, body = None, None
            else:
                body.append(line.strip())
        return out

    extra = Path(__file__).parents[1] / "esp_cabundle" / "data" / "extra-roots.pem"
    for path in (Path(certifi.where()), extra):
        text = path.read_text(encoding="utf-8")
        expected = by_lines(text)
        assert len(expected) > 5
        assert list(_pem_blocks(text)) == expected
    assert list(
        _pem_blocks(
            '# Label: "A"\nx\n# Label: "B"\n' + "-----BEGIN CERTIFICATE-----\nMAA=\n"
            "-----END CERTIFICATE-----\n"
        )
    ) == [("B", b"0\x00")]
    escaped = '# Label: "NetLock Arany (Class Gold) F\\u0151tan\\xfas\\xedtv\\xe1ny"\n'
    block = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
    assert list(_pem_blocks(escaped + block)) == [
        ("NetLock Arany (Class Gold) F\u0151tan\u00fas\u00edtv\u00e1ny", b"0\x00")
    ]
