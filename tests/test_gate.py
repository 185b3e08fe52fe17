"""The write-path gate as a library: GatedCA is sealed, resolved exactly as ``build``
resolves, judged once; the key scanner finds every key encoding and nothing else."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import certifi
import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import pkcs12

from esp_cabundle.boards import load_board
from esp_cabundle.build import build_bundle
from esp_cabundle.bundle import BundleSpec, Policy
from esp_cabundle.check import CheckFailed, Target
from esp_cabundle.commands.options import CLI_SPELLING
from esp_cabundle.config import OutputSpec
from esp_cabundle.errors import (
    CertificateError,
    EspCabundleError,
    InputError,
    PolicyError,
    PrivateKeyError,
)
from esp_cabundle.gate import CaSource, GatedCA, gate_ca, parse_target
from esp_cabundle.keyscan import _cannot_open_key, find_private_key, refuse_private_keys
from tests.support import dumps
from tests.support.gate_cases import DST_PEM, X1_PEM, cases
from tests.support.key_vectors import key_vectors
from tests.support.verify_pki import mint, pooled_key

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parent.parent
CHAINS = REPO / "examples" / "chains"


def _gate(data: bytes, board: str | None = None, **kw: object) -> GatedCA:
    b = load_board(board) if board else None
    return gate_ca(CaSource.finished("ca.pem", data), board=b, at=AT, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# GatedCA


def test_only_the_gate_makes_a_gated_ca() -> None:
    ca = _gate(X1_PEM, "mdash-arduino")
    fields = {f.name: getattr(ca, f.name) for f in dataclasses.fields(ca) if f.name != "_seal"}
    with pytest.raises(TypeError, match="gate_ca"):
        GatedCA(**fields)
    with pytest.raises(TypeError, match="gate_ca"):
        dataclasses.replace(ca, pem=X1_PEM + b"-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(TypeError, match="gate_ca"):
        dataclasses.replace(ca, board=load_board("mongoose-os-esp32"))
    assert dataclasses.replace(ca, summary="x").pem == ca.pem  # content fields are sealed


def test_for_board_names_the_board_it_was_judged_for() -> None:
    ca = _gate(X1_PEM, "mdash-arduino")
    assert ca.for_board(load_board("mdash-arduino")) == ca.pem
    with pytest.raises(InputError, match="board mdash-arduino, not of mongoose-os-esp32"):
        ca.for_board(load_board("mongoose-os-esp32"))
    with pytest.raises(InputError, match="no board"):
        _gate(X1_PEM).for_board(load_board("mdash-arduino"))


def test_value_fields() -> None:
    ca = _gate(X1_PEM + dumps.pem("isrg-root-x2.pem") + X1_PEM, "mdash-arduino")
    assert len(ca) == 2 and ca.labels == ("ISRG Root X1", "ISRG Root X2")
    assert [c.label for c in ca.certificates] == ["ISRG Root X1", "ISRG Root X2"]
    assert ca.source == "file ca.pem" and ca.board is not None and ca.at == AT
    assert ca.notes[0] == "duplicate dropped: ISRG Root X1"
    # ...and what the board's own server (mdash.net) was judged on (own_servers).
    assert len(ca.notes) == 2 and ca.notes[1].startswith("mdash.net: judged on the chains")
    import hashlib

    assert ca.sha256 == hashlib.sha256(ca.pem).hexdigest()
    doc = ca.to_dict()
    assert doc["roots"] == 2 and doc["board"] == "mdash-arduino"
    # no target given: only the board's own connection (mDash 1.2.13 reads the file)
    assert [r["name"] for r in doc["targets"]["results"]] == ["mdash.net"]
    assert _gate(X1_PEM, "mongoose-os-esp32").to_dict()["targets"] is None


# ---------------------------------------------------------------------------------------
# Resolved exactly as build does


def test_a_ca_pem_made_by_build_goes_through_byte_for_byte() -> None:
    spec = BundleSpec(presets=("default",))
    built = build_bundle(spec, (OutputSpec("pem", Path("ca.pem")),), at=AT)
    pem = built.outputs[0][1]
    assert built.ca.pem == pem
    assert gate_ca(CaSource.build(spec), at=AT).pem == pem
    again = _gate(pem, "mongoose-os-esp32")
    assert again.pem == pem and again.labels == built.ca.labels


@pytest.mark.parametrize(
    ("data", "converted"),
    [
        (dumps.der("isrgrootx1.pem"), "DER"),
        ((REPO / "tests/data/mdash/mDash-1.2.16-s_pem.c").read_bytes(), "C source"),
        (X1_PEM.decode().encode("utf-16"), "UTF-16 text"),
        (b"\xfe\xff" + X1_PEM.decode().encode("utf-16-be"), "UTF-16 text"),
        (X1_PEM.replace(b"\n", b"\r\n"), None),
    ],
)
def test_other_shapes_become_the_pem_the_device_reads(data: bytes, converted: str | None) -> None:
    ca = _gate(data)
    assert ca.pem == _gate(X1_PEM).pem and ca.converted_from == converted
    assert ca.summary == (
        f"1 root (converted from {converted}); no targets to judge"
        if converted
        else "1 root; no targets to judge"
    )


def test_long_comment_lines_never_reach_a_mongoose_unit() -> None:
    """Mongoose OS reads CA files with fgets(128) and skips longer lines."""
    ca = _gate(b"# " + b"x" * 300 + b"\n" + X1_PEM, "mongoose-os-esp32")
    assert max(len(line) for line in ca.pem.splitlines()) < 127


def test_policies_and_allow() -> None:
    with pytest.raises(PolicyError) as e:
        _gate(cases()["dst-only-expired"].data)
    assert e.value.violations == ("DST Root CA X3 expired on 2021-09-30",)
    assert "Policy(allow=...) naming expired" in str(e.value)  # a script's term, not --allow
    assert "--allow" not in str(e.value)
    allowed = gate_ca(
        CaSource.finished(
            "old.pem", cases()["dst-only-expired"].data, policy=Policy(allow=frozenset({"expired"}))
        ),
        at=AT,
    )
    assert [v.policy for v in allowed.violations] == ["expired"]
    with pytest.raises(PolicyError, match=r"allow=\.\.\.\) naming expires-before-service-end"):
        gate_ca(
            CaSource.finished(
                "ca.pem",
                dumps.pem("2024-r10.pem"),
                policy=Policy(service_until=datetime(2030, 1, 1, tzinfo=timezone.utc)),
            ),
            at=AT,
        )
    with pytest.raises(PolicyError, match=r"allow=\.\.\.\) naming over-budget"):
        gate_ca(CaSource.finished("ca.pem", X1_PEM, policy=Policy(max_bytes=100)), at=AT)


def test_inputs_without_certificates() -> None:
    with pytest.raises(CertificateError, match="no certificate found"):
        _gate(b"just some text\n")
    with pytest.raises(InputError, match="ESP-IDF certificate bundle"):
        _gate((REPO / "tests/data/idf-bundle/small.v1.bin").read_bytes())
    with pytest.raises(InputError, match="no such CA file"):
        CaSource.from_file(REPO / "nope.pem")


# ---------------------------------------------------------------------------------------
# Targets and the summary


def _target(name: str) -> Target:
    return parse_target(str(CHAINS / f"{name}.pem"))


def test_summary_names_targets_the_date_and_the_rules() -> None:
    ca = _gate(X1_PEM, "mdash-arduino", targets=[_target("letsencrypt-2024-short")])
    assert ca.summary == (
        "1 root, accepted by letsencrypt-2024-short, mdash.net under mdash-arduino rules"
        " (the device does not check dates)"
    )
    assert ca.report is not None and ca.report.ok
    ca = _gate(
        X1_PEM + dumps.pem("isrg-root-x2.pem"),
        targets=[_target("letsencrypt-2024-short"), _target("letsencrypt-gen-y-rsa")],
    )
    # R11's expiry, as check's forecast fails the undated R11 chain then (it claimed
    # X1's, 2035-06-04, past it).
    assert ca.summary == (
        "2 roots, accepted by letsencrypt-2024-short, letsencrypt-gen-y-rsa until 2027-03-12 "
        "under mbedtls-clock rules"
    )
    assert ca.report is not None
    (r11,) = (r for r in ca.report.results if r.item.name == "letsencrypt-2024-short")
    assert r11.timeline.undated_end is not None
    assert r11.timeline.undated_end.date().isoformat() == "2027-03-12"
    many = [Target(f"t{i}", chain=CHAINS / "letsencrypt-2024-short.pem") for i in range(4)]
    assert "accepted by 4 targets until" in _gate(X1_PEM, targets=many).summary
    assert _gate(X1_PEM, targets=many, check_targets=False).summary == (
        "1 root; targets not checked (check_targets=False)"
    )


def test_the_gate_speaks_its_callers_term_for_skipping_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    """A Python caller is told of check_targets=False, never of the CLI's --no-check
    (which the CLI, passing CLI_SPELLING, still names: test_check_config, test_gate_paths)."""
    monkeypatch.chdir(tmp_path)
    offline = parse_target(f"127.0.0.1:{refused_port}")  # the capture fails
    for skip, says in ((None, "check_targets=False"), ("--no-check", "--no-check")):
        kw = {"spelling": CLI_SPELLING} if skip else {}
        with pytest.raises(EspCabundleError, match="has no saved chain") as e:
            _gate(X1_PEM, targets=[offline], **kw)
        assert f"or pass {says} to write without judging the targets" in (e.value.hint or "")
        assert ("--no-check" in str(e.value)) == (skip is not None)
        with pytest.raises(CheckFailed) as refused:
            dst = CaSource.finished("ca.pem", DST_PEM, policy=Policy(allow=frozenset({"expired"})))
            gate_ca(dst, board=load_board("mdash-arduino"), at=AT, **kw)  # type: ignore[arg-type]
        assert f"or pass {says} to write anyway" in (refused.value.hint or "")
        assert ("--no-check" in str(refused.value)) == (skip is not None)


def test_a_refused_targets_explanation_speaks_the_callers_words(tmp_path: Path) -> None:
    """The gate's refusal explains each verdict (an unjudged name says how to give one):
    a script is told of hostname=, the CLI of its flag, never the other's."""
    from tests.support.verify_pki import mint

    root = mint("Gate Words Root")
    chain = tmp_path / "saved.pem"  # a file not named after its server: no name to judge
    chain.write_bytes(mint("server.example", root, ca=False).pem + root.pem)
    cases = (({}, "hostname=", "--hostname"), ({"spelling": CLI_SPELLING}, "--hostname", "="))
    for kw, says, never in cases:
        with pytest.raises(CheckFailed) as e:
            _gate(X1_PEM, targets=[parse_target(str(chain))], **kw)
        text = "\n".join([str(e.value), *e.value.violations])
        said = text[text.index("no hostname was given") :].split(")")[0]
        assert says in said and never not in said, said


def test_a_target_the_ca_cannot_serve_fails_the_gate() -> None:
    with pytest.raises(CheckFailed, match="and break 1 target") as e:
        _gate(
            dumps.pem("isrg-root-x2.pem"),
            "mdash-arduino",
            targets=[_target("letsencrypt-2024-short")],
        )
    assert "-0x2700" in e.value.violations[0]
    assert "cut mdash-arduino@1.2.13 units off mdash.net" in e.value.message  # and its own


def test_parse_target() -> None:
    t = parse_target("mqtt.example.com:8883")
    assert (t.name, t.host, t.port, t.chain) == (
        "mqtt.example.com:8883",
        "mqtt.example.com",
        8883,
        None,
    )
    assert parse_target("mdash.net").name == "mdash.net"
    with pytest.raises(InputError):
        parse_target("mdash.net:99999")


# ---------------------------------------------------------------------------------------
# The key scanner


def _all_key_encodings() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    keys = {
        "rsa": pooled_key("rsa2048", 3),
        "ec": pooled_key("ec256", 3),
        "ed25519": pooled_key("ed25519", 3),
    }
    formats = {
        "pkcs8": ser.PrivateFormat.PKCS8,
        "traditional": ser.PrivateFormat.TraditionalOpenSSL,
        "openssh": ser.PrivateFormat.OpenSSH,
    }
    crypts = {"plain": ser.NoEncryption(), "encrypted": ser.BestAvailableEncryption(b"pw")}
    for kn, key in keys.items():
        for fn, fmt in formats.items():
            for cn, enc in crypts.items():
                for en, encoding in (("pem", ser.Encoding.PEM), ("der", ser.Encoding.DER)):
                    try:
                        data = key.private_bytes(encoding, fmt, enc)
                    except (ValueError, UnsupportedAlgorithm):
                        continue  # a combination the format lacks (or needs bcrypt)
                    out[f"{kn}-{fn}-{cn}-{en}"] = data
                    if en == "pem" and not (fn == "traditional" and cn == "encrypted"):
                        body = b"\n".join(
                            line
                            for line in data.splitlines()
                            if line and not line.startswith(b"-") and b":" not in line
                        )
                        out[f"{kn}-{fn}-{cn}-headerless"] = body
    out["pkcs12"] = pkcs12.serialize_key_and_certificates(
        b"unit", keys["ec"], None, None, ser.BestAvailableEncryption(b"pw")
    )
    return out


def test_every_key_encoding_is_found() -> None:
    found = {}
    for name, data in _all_key_encodings().items():
        finding = find_private_key(X1_PEM + data) or find_private_key(data)
        found[name] = finding is not None
    assert [n for n, ok in found.items() if not ok] == []
    assert len(found) >= 30


def test_the_quick_skip_passes_every_key_and_skips_certificates() -> None:
    """The 12-byte look at a base64 run that opens with "M" or "b" may only skip what
    cannot be a key: every key's DER (and OpenSSH's magic) is looked at closer."""
    for name, data in _all_key_encodings().items():
        der = data if name.endswith("-der") or name == "pkcs12" else None
        if der is None:
            continue
        assert not _cannot_open_key(base64.b64encode(der)[:16]), name
    openssh = pooled_key("ed25519", 3).private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption()
    )
    assert not _cannot_open_key(openssh.splitlines()[1][:16])
    store = Path(certifi.where()).read_bytes()
    lines = store.splitlines()
    firsts = [lines[i + 1] for i, ln in enumerate(lines) if ln.startswith(b"-----BEGIN")]
    assert len(firsts) > 100
    assert all(_cannot_open_key(ln[:16]) for ln in firsts)


def test_clean_inputs_are_remembered_but_never_hide_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from esp_cabundle import keyscan

    scans: list[int] = []
    real = keyscan._find_key  # the whole scan refuse_private_keys runs
    monkeypatch.setattr(keyscan, "_find_key", lambda d, s: scans.append(len(d)) or real(d, s))
    fresh = X1_PEM + b"# scanned once\n"
    refuse_private_keys(fresh, source="ca.pem")
    refuse_private_keys(fresh, source="ca.pem")  # remembered: the same bytes, clean
    assert scans == [len(fresh)]
    key = pooled_key("ec256", 3).private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    with pytest.raises(PrivateKeyError):
        refuse_private_keys(X1_PEM + key, source="ca.pem")
    with pytest.raises(PrivateKeyError):  # a finding is never remembered as clean
        refuse_private_keys(X1_PEM + key, source="ca.pem")


def test_where_and_never_what() -> None:
    data = X1_PEM + b"\n" + cases()["header-nbsp"].data[len(X1_PEM) :]
    with pytest.raises(PrivateKeyError) as e:
        refuse_private_keys(data, source="ca.pem")
    line = X1_PEM.count(b"\n") + 2
    found = find_private_key(data)
    assert found is not None and found.line == line
    assert str(e.value).startswith(f"ca.pem:{line}: ")
    assert f"at byte offset {found.offset};" in str(e.value)
    assert cases()["header-nbsp"].secret.decode() not in str(e.value)


def test_a_key_is_placed_once() -> None:
    """The file:line prefix names the line, the message its byte offset alone (it said
    ``evil.pem:1: ... at line 1 (byte offset 0)``); with no line of the file to name (DER,
    UTF-16 text), the message says where."""
    pem_key = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    with pytest.raises(PrivateKeyError) as e:
        refuse_private_keys(pem_key, source="evil.pem")
    assert e.value.message == (
        "evil.pem:1: private key material (PEM private-key header) at byte offset 0; "
        "refusing the whole input"
    )
    with pytest.raises(PrivateKeyError) as e:
        refuse_private_keys(("x\n" + pem_key.decode()).encode("utf-16"), source="evil.pem")
    assert e.value.message == (
        "evil.pem: private key material (PEM private-key header) at line 2 of its UTF-16 "
        "text; refusing the whole input"
    )


# What a test's source may spell without holding a key: the armour, Proc-Type/DEK-Info
# and PuTTY lines and OpenSSL dump headers the scanner looks for, written as literals.
SOURCE_MARKERS = {
    "PEM private-key header",
    "encrypted-PEM key headers",
    "PuTTY .ppk key",
    "OpenSSL key text dump",
}


def _all_shipped_and_test_files() -> list[Path]:
    """Every file of the package, the tests (their data too: tests/data/private-keys
    holds masked bytes only), the examples, benchmarks and boards, README and certifi."""
    files = [REPO / "README.md", REPO / "pyproject.toml"]
    for top in ("esp_cabundle", "tests", "examples", "benchmarks", "boards"):
        files += [
            p
            for p in (REPO / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return [*files, Path(certifi.where())]


def _findings(data: bytes) -> list[str]:
    """Every kind of key material in ``data``: each finding is defaced where it was
    found and the rest scanned again, so a marker early in a file hides nothing after it."""
    kinds, buf = [], bytearray(data)
    while (found := find_private_key(bytes(buf))) is not None and len(kinds) < 200:
        kinds.append(found.kind)
        buf[found.offset : found.offset + 8] = b"#" * 8
    return kinds


def test_the_repository_holds_no_key_and_the_scanner_no_false_positive() -> None:
    """Nothing is skipped: no file holds key material in any encoding; Python sources
    may hold only the marker lines the key tests spell out (a header is not a key)."""
    files = _all_shipped_and_test_files()
    assert len(files) > 300
    hits = {}
    for p in files:
        kinds = _findings(p.read_bytes())
        allowed = SOURCE_MARKERS if p.suffix == ".py" else set()
        if set(kinds) - allowed:
            hits[str(p.relative_to(REPO)) if REPO in p.parents else str(p)] = kinds
    assert hits == {}
    # the scan can fail: a key or a header in any file is seen, after any marker
    key = pooled_key("ec256", 3).private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    markers = b'ARMOUR = [b"-----BEGIN PRIVATE KEY-----"]\n'
    assert "DER PKCS#8" in " ".join(_findings(markers + X1_PEM + key))
    assert set(_findings(markers + base64.encodebytes(key))) - SOURCE_MARKERS


def test_every_key_vector_is_found_and_nothing_else() -> None:
    vectors = key_vectors()
    assert len(vectors) >= 15
    assert [name for name, data in vectors.items() if find_private_key(data) is None] == []
    assert find_private_key(dumps.arduino_dump()) is None
    assert find_private_key(dumps.mongoose_dump()) is None
    assert find_private_key(mint("Self-signed v1-like root").der * 3) is None
    assert find_private_key(b"# no private key here\n" + X1_PEM) is None


def test_openssl_text_dumps_and_escaped_c_strings_of_keys_are_refused() -> None:
    """A tester's finds: `openssl pkey -text -noout` output pasted after the roots, and
    a DER key spelled in "\\x.." escapes inside a C string beside s_pem."""
    dumps = [
        b"Private-Key: (256 bit)\npriv:\n    1f:2e:3d\npub:\n    04:aa\nASN1 OID: prime256v1\n",
        b"ED25519 Private-Key:\npriv:\n    a1:b2:c3\npub:\n    d4:e5\n",
        b"RSA Private-Key: (2048 bit, 2 primes)\nmodulus:\n    00:c3\n",
    ]
    for text in dumps:
        with pytest.raises(PrivateKeyError, match="OpenSSL key text dump"):
            refuse_private_keys(X1_PEM + text, source="ca.pem")
    der = pooled_key("ec256", 3).private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    escaped = "".join(f"\\x{b:02x}" for b in der)
    pem_lines = X1_PEM.decode().strip().splitlines()
    c_src = (
        "static const char s_pem[] =\n"
        + "".join(f'  "{ln}\\n"\n' for ln in pem_lines)
        + ";\n"
        + f'static const char s_key[] = "{escaped}";\n'
    )
    from esp_cabundle.certs import load_certificates

    with pytest.raises(PrivateKeyError):
        load_certificates(c_src.encode(), source="certs.c")
    # the same file without the key still reads as the root it holds
    clean = c_src.split("static const char s_key")[0]
    assert len(load_certificates(clean.encode(), source="certs.c")) == 1
    # an ordinary text about keys is not a dump
    assert find_private_key(b"# Private-Key handling: see docs\n" + X1_PEM) is None


def test_summary_until_ignores_a_spare_certificate_off_the_path(tmp_path: Path) -> None:
    """A saved chain with no capture date sending an expired R3 beside R11: the device
    builds R11 -> X1 and never looks at R3, so the gate's "until" is R11's expiry, not
    R3's past 2025-09-15, and check names no undated R3 (its forecast passes)."""
    r3 = (CHAINS / "letsencrypt-2021-long.pem").read_text().split("-----END CERTIFICATE-----")[0]
    spare = tmp_path / "spare-r3.pem"
    spare.write_text(
        (CHAINS / "letsencrypt-2024-short.pem").read_text() + r3 + "-----END CERTIFICATE-----\n"
    )
    ca = _gate(X1_PEM, targets=[parse_target(str(spare))])
    assert ca.summary == "1 root, accepted by spare-r3 until 2027-03-12 under mbedtls-clock rules"
    assert ca.report is not None
    (r,) = ca.report.results
    assert r.ok and [e.label for e in r.timeline.undated] == []
    assert r.timeline.undated_end is not None
    assert r.timeline.undated_end.date().isoformat() == "2027-03-12"
