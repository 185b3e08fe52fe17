"""check: time to judge 150 roots x 20 chains over a 15-year horizon (forecast included).

Trust set: the whole root catalog (certifi's Mozilla store plus the package's extra
roots), padded with minted roots to 150. Chains: 20 real Let's Encrypt chains (2021
long chain, 2024 R/E intermediates with and without cross-signs, Gen Y). Each chain is
forecast under mbedTLS with a synced clock (the case with date events) and under the
ESP-IDF bundle rules. A cold run includes signature checks and the mbedTLS parse model
over every root and chain certificate; later runs reuse the verifier's caches, as one
``check`` over many targets does.

Target: <= 1 s. Run:
    python benchmarks/bench_check.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from esp_cabundle.catalog import Catalog, entry_certificate
from esp_cabundle.certs import Certificate, load_certificate_file
from esp_cabundle.verify import TrustSet, forecast, parse_device_profile

ROOT = Path(__file__).resolve().parent.parent
LE = ROOT / "tests" / "data" / "letsencrypt"

CHAINS = [
    ["lets-encrypt-r3", "isrg-root-x1-cross-signed"],
    ["lets-encrypt-r3"],
    ["lets-encrypt-e1"],
    *([f"2024-r{n}"] for n in range(10, 15)),
    *([f"2024-e{n}"] for n in range(5, 10)),
    *([f"2024-e{n}-cross"] for n in range(5, 8)),
    ["gen-y-int-yr1", "gen-y-root-yr-by-x1"],
    ["gen-y-int-ye1", "gen-y-root-ye-by-x2", "gen-y-root-x2-by-x1"],
    ["gen-y-int-yr2"],
    ["gen-y-int-ye2", "gen-y-root-ye-by-x2"],
]


def _padding_root(n: int) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Bench Root {n}")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(n + 1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650 * 3))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return Certificate.from_der(cert.public_bytes(Encoding.DER))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    roots = [entry_certificate(e) for e in Catalog.load()][:150]
    roots += [_padding_root(n) for n in range(150 - len(roots))]
    trust = TrustSet.from_certificates(roots)
    chains = [[c for name in names for c in load_certificate_file(LE / f"{name}.pem")]
              for names in CHAINS]  # fmt: skip
    assert len(trust) == 150 and len(chains) == 20
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    until = at + timedelta(days=365 * 15)
    profiles = [parse_device_profile("mbedtls-clock"), parse_device_profile("idf-bundle")]

    def one_run() -> tuple[float, int, int]:
        t0 = time.perf_counter()
        changes = failing = 0
        for chain in chains:
            for profile in profiles:
                fc = forecast(trust, chain, profile, at=at, until=until)
                changes += len(fc.changes)
                failing += not fc.ok_throughout
        return time.perf_counter() - t0, changes, failing

    cold, changes, failing = one_run()
    warm = [one_run()[0] for _ in range(args.runs)]
    print(f"150 roots x 20 chains x 2 device profiles, horizon 15 years ({until.date()}):")
    print(f"  cold run (signatures checked): {cold * 1000:7.1f} ms")
    print(f"  warm run, median of {args.runs}:     {statistics.median(warm) * 1000:7.1f} ms")
    print(f"  {changes} verdict flips found; {failing} of 40 forecasts fail somewhere")
    print(f"  target <= 1000 ms: {'met' if cold <= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
