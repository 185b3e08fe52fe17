"""Record real mbedTLS 3.6 answers for ``tests/data/mbedtls36/recorded.json``.

No package registry carries mbedTLS 3.6 (python-mbedtls bundles 2.28, Debian 12 ships
2.28, the nng-ssl wheel carries 4.1), so its answers are recorded from a build made by
hand, outside the repository, and kept as data; ``test_verify_mbedtls36.py`` holds the
tool to them. How the build was made (see ``tests/data/mbedtls36/README.md``)::

    git archive v3.6.6 library include 3rdparty Makefile CMakeLists.txt scripts \\
        | tar -x -C /tmp/mbedtls-3.6.6          # Mbed-TLS/mbedtls, default config
    mkdir -p /tmp/mbedtls-3.6.6/framework/scripts   # generated files are in the tag;
    touch /tmp/mbedtls-3.6.6/framework/scripts/generate_ssl_debug_helpers.py
    make -C /tmp/mbedtls-3.6.6/library SHARED=1 -j2
    python -m tests.support.record_mbedtls36 /tmp/mbedtls-3.6.6

The harness (``mbedtls_harness.c``) is the one the 2.28 tests compile; verifications run
under faketime at the recording instant, which the data keeps.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from . import c_harness
from . import parse_corpus as pc
from .verify_pki import NOW, Minted, tls_server
from .verify_scenarios import der, device_scenarios, named_scenarios, random_scenarios

OUT = Path(__file__).resolve().parent.parent / "data" / "mbedtls36" / "recorded.json"
MUTATIONS = 1500
MUTATION_SEED = 12


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _pem(ders: list[bytes]) -> bytes:
    import textwrap

    return "".join(
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(textwrap.wrap(_b64(d), 64))
        + "\n-----END CERTIFICATE-----\n"
        for d in ders
    ).encode()


def main(prefix: str) -> None:
    h = c_harness.build(Path(prefix))
    assert h.version.startswith("3.6"), h.version
    seeds = [*pc.crafted(), *pc.real_certificates()]
    muts = list(pc.mutations(seeds, MUTATIONS, seed=MUTATION_SEED))
    codes = h.parse([s.der for s in seeds])
    mut_codes = h.parse([s.der for s in muts])
    from esp_cabundle.certs import Certificate
    from esp_cabundle.formats.idf_bundle import render_idf_bundle

    scenarios = []
    for s in [*named_scenarios(), *device_scenarios(), *random_scenarios(10, seed=7)]:
        trust = [der(m) for m in s.trust]
        chain = [der(m) for m in s.chain]
        ca = h.verify(_pem(trust), chain, name=s.hostname, at=NOW)
        bundle = render_idf_bundle([Certificate.from_der(d) for d in trust],
                                   bundle_format="v2", max_certs=None)  # fmt: skip
        idf = h.verify_bundle("v2", bundle, chain, name=s.hostname, at=NOW)
        entry = {
            "name": s.name,
            "hostname": s.hostname,
            "trust": [_b64(d) for d in trust],
            "chain": [_b64(d) for d in chain],
            "ca_list": list(ca),
            "idf_bundle": list(idf),
        }
        if s.name.startswith(("eku-", "ku-", "name-")) and all(
            isinstance(m, Minted) for m in s.chain
        ):
            with tls_server(s.chain) as port:  # type: ignore[arg-type]
                entry["tls"] = list(h.tls(port, _pem(trust), s.hostname or "-"))
                entry["tls_without_set_hostname"] = list(h.tls(port, _pem(trust), "@unset"))
        scenarios.append(entry)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "mbedtls": h.version,
                "at": NOW.isoformat(),
                "samples": [
                    {"name": s.name, "der": _b64(s.der), "code": c}
                    for s, c in zip(seeds, codes, strict=True)
                ],
                "mutations": {"count": MUTATIONS, "seed": MUTATION_SEED, "codes": mut_codes},
                "scenarios": scenarios,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"recorded {len(seeds)} samples, {MUTATIONS} mutations, {len(scenarios)} scenarios")


if __name__ == "__main__":
    main(sys.argv[1])
