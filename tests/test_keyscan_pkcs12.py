"""PKCS#12 stores: one holding a key (a key bag or a shrouded key bag in the clear) is key
material; one whose encrypted part may hold a key is refused as that, saying why; one
of certificates only holds no key, and is refused as a CA source the tool does not
read, saying what to do. Bags are counted in DER and BER, raw or in base64 (decoded
whole, not from its first bytes), within bounds."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.serialization import pkcs12
from support.tools import requires

from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.errors import CertificateError, PrivateKeyError
from esp_cabundle.gate import CaSource, gate_ca
from esp_cabundle.keyscan import (
    _cannot_open_key,
    base64_pfx,
    find_private_key,
    refuse_private_keys,
)
from esp_cabundle.pkcs12 import Pfx, read_pfx
from esp_cabundle.pubkeys import der_tlv
from tests.support.ber import to_ber
from tests.support.fuzzing import BER_TOKENS, Mutator, timed
from tests.support.gate_cases import X1_PEM, c_source
from tests.support.hex_text import hex_forms
from tests.support.key_vectors import key_vectors

X1 = x509.load_pem_x509_certificate(X1_PEM)
X1_DER = X1.public_bytes(ser.Encoding.DER)

# ---------------------------------------------------------------------------------------
# Stores made by hand: each kind of bag, nested bags, encrypted and enveloped parts

_PKCS7 = "2a864886f70d0107"
_BAG = "2a864886f70d010c0a01"
KEY_BAG, SHROUDED_KEY_BAG, CERT_BAG, CRL_BAG, SECRET_BAG, NESTED_BAG = range(1, 7)


def _seq(*parts: bytes) -> bytes:
    return der_tlv(0x30, b"".join(parts))


def _oid(hex_oid: str) -> bytes:
    return der_tlv(0x06, bytes.fromhex(hex_oid))


def _data(content: bytes) -> bytes:
    """A data ContentInfo holding ``content``."""
    return _seq(_oid(_PKCS7 + "01"), der_tlv(0xA0, der_tlv(0x04, content)))


def _sealed(kind: str = "06") -> bytes:
    """An encryptedData (06) or envelopedData (03) ContentInfo: bytes no one can read."""
    body = _seq(der_tlv(0x02, b"\x00"), _seq(_oid(_PKCS7 + "01"), der_tlv(0x80, bytes(48))))
    return _seq(_oid(_PKCS7 + kind), der_tlv(0xA0, body))


def _bag(kind: int, value: bytes = b"") -> bytes:
    """A SafeBag; a key bag holds no key here (the reader counts bag types only)."""
    if kind == CERT_BAG and not value:
        value = _seq(_oid("2a864886f70d01091601"), der_tlv(0xA0, der_tlv(0x04, X1_DER)))
    return _seq(_oid(_BAG + f"{kind:02x}"), der_tlv(0xA0, value or _seq()))


def _safe(*bags: bytes) -> bytes:
    return _seq(*bags)


def _pfx(*infos: bytes) -> bytes:
    mac = _seq(
        _seq(_seq(_oid("608648016503040201")), der_tlv(0x04, bytes(32))), der_tlv(0x04, bytes(8))
    )
    return _seq(der_tlv(0x02, b"\x03"), _data(_seq(*infos)), mac)


STORES: dict[str, tuple[bytes, tuple[int, int, int]]] = {
    "certificates": (_pfx(_data(_safe(_bag(CERT_BAG), _bag(CERT_BAG)))), (2, 0, 0)),
    "a CRL": (_pfx(_data(_safe(_bag(CRL_BAG)))), (1, 0, 0)),
    "two safes": (_pfx(_data(_safe(_bag(CERT_BAG))), _data(_safe(_bag(CERT_BAG)))), (2, 0, 0)),
    "nested": (_pfx(_data(_safe(_bag(NESTED_BAG, _safe(_bag(CERT_BAG)))))), (1, 0, 0)),
    "a key bag": (_pfx(_data(_safe(_bag(CERT_BAG), _bag(KEY_BAG)))), (1, 1, 0)),
    "a shrouded key bag": (_pfx(_data(_safe(_bag(SHROUDED_KEY_BAG)))), (0, 1, 0)),
    "a secret bag": (_pfx(_data(_safe(_bag(SECRET_BAG)))), (0, 1, 0)),
    "an unknown bag": (_pfx(_data(_safe(_bag(9)))), (0, 1, 0)),
    "a nested key bag": (_pfx(_data(_safe(_bag(NESTED_BAG, _safe(_bag(KEY_BAG)))))), (0, 1, 0)),
    "encrypted": (_pfx(_data(_safe(_bag(CERT_BAG))), _sealed()), (1, 0, 1)),
    "enveloped": (_pfx(_sealed("03")), (0, 0, 1)),
}


@pytest.mark.parametrize("name", sorted(STORES))
def test_bags_are_counted_in_der_and_ber(name: str) -> None:
    store, (certificates, keys, sealed) = STORES[name]
    for form in (store, to_ber(store), to_ber(store, chunk=7), to_ber(store, depths={0})):
        assert read_pfx(form) == Pfx(certificates, keys, sealed, len(form)), name
        assert read_pfx(b"junk" + form, 4) == Pfx(certificates, keys, sealed, len(form) + 4)


def test_what_is_no_pfx_is_none() -> None:
    signed = _seq(der_tlv(0x02, b"\x03"), _seq(_oid(_PKCS7 + "02"), der_tlv(0xA0, _seq())))
    for data in [
        X1_DER,
        key_vectors()["test-only-ec-pkcs8.der"],
        signed,  # integrity by public key: not walked
        _pfx(_data(_safe(_bag(CERT_BAG))))[:-3],  # cut short
        _seq(der_tlv(0x02, b"\x02"), _data(_seq())),  # version 2
        b"",
        b"\x30\x80",
    ]:
        assert read_pfx(data) is None


def test_real_stores_are_counted() -> None:
    none, encrypted = ser.NoEncryption(), ser.BestAvailableEncryption(b"test-only")
    plain = pkcs12.serialize_key_and_certificates(None, None, None, [X1, X1], none)
    assert read_pfx(plain) == Pfx(2, 0, 0, len(plain))
    sealed = pkcs12.serialize_key_and_certificates(None, None, None, [X1], encrypted)
    assert read_pfx(sealed) == Pfx(0, 0, 1, len(sealed))
    for name, data in key_vectors().items():
        if name.endswith(".p12"):
            found = read_pfx(data)
            assert found is not None and found.keys == 1, name


@requires("openssl")
def test_openssl_stores_of_certificates_hold_no_key(tmp_path: Path) -> None:
    (tmp_path / "x1.pem").write_bytes(X1_PEM)
    made = {}
    for name, extra in (("sealed", []), ("plain", ["-certpbe", "NONE"])):
        out = tmp_path / f"{name}.p12"
        subprocess.run(
            [
                *("openssl", "pkcs12", "-export", "-nokeys", *extra),
                *("-in", str(tmp_path / "x1.pem"), "-out", str(out), "-passout", "pass:test-only"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        made[name] = out.read_bytes()
    assert read_pfx(made["plain"]) == Pfx(1, 0, 0, len(made["plain"]))
    assert read_pfx(made["sealed"]) == Pfx(0, 0, 1, len(made["sealed"]))


# ---------------------------------------------------------------------------------------
# What the scanner and the readers say


def _stores() -> dict[str, bytes]:
    none, encrypted = ser.NoEncryption(), ser.BestAvailableEncryption(b"test-only")
    return {
        "plain": pkcs12.serialize_key_and_certificates(None, None, None, [X1], none),
        "sealed": pkcs12.serialize_key_and_certificates(None, None, None, [X1], encrypted),
    }


def test_a_store_of_certificates_is_no_key_in_any_form() -> None:
    plain = _stores()["plain"]
    assert find_private_key(plain) is None
    assert find_private_key(to_ber(plain)) is None
    assert find_private_key(X1_PEM + c_source(b"", store=plain)) is None
    for form, text in hex_forms(plain).items():
        assert find_private_key(X1_PEM + text) is None, form
    for form, text in _base64_forms(plain).items():  # read whole, not its first bytes
        assert find_private_key(text) is None, form
        assert find_private_key(X1_PEM + text) is None, form


def test_a_store_that_may_hide_a_key_is_refused_saying_so() -> None:
    sealed = _stores()["sealed"]
    for data, encoding in ((sealed, "DER"), (to_ber(sealed), "BER")):
        found = find_private_key(data)
        assert found is not None, encoding
        assert found.kind == f"{encoding} PKCS#12 store, no key bag in the clear, 1 encrypted part"
        with pytest.raises(PrivateKeyError) as e:
            load_certificates(data, source="roots.p12")
        assert str(e.value).splitlines()[0] == (
            f"roots.p12: {found.kind} at byte offset 0: a private key may be in what only "
            "the store's password opens, and PKCS#12 is not a supported CA source; "
            "refusing the whole input"
        )
        assert "openssl pkcs12 -in FILE -nokeys -out ca.pem" in (e.value.hint or "")
        assert "exposed" not in (e.value.hint or "")
    found = find_private_key(STORES["enveloped"][0] + STORES["encrypted"][0])
    assert found is not None and found.kind.endswith("1 encrypted part")
    found = find_private_key(_pfx(_sealed(), _sealed()))
    assert found is not None and found.kind.endswith("2 encrypted parts")


def test_a_store_with_a_key_bag_is_a_key_store() -> None:
    for name in ("a key bag", "a shrouded key bag", "a nested key bag", "a secret bag"):
        store = STORES[name][0]
        for data in (store, to_ber(store)):
            found = find_private_key(X1_PEM + data)
            assert found is not None and found.kind.endswith("PKCS#12 key store"), name
    with pytest.raises(PrivateKeyError, match="treat it as exposed"):
        load_certificates(key_vectors()["test-only-der.p12"], source="key.p12")


def test_a_store_of_certificates_is_refused_as_a_ca_source() -> None:
    plain = _stores()["plain"]
    for data in (plain, to_ber(plain)):
        with pytest.raises(CertificateError) as e:
            load_certificates(data, source="roots.p12")
        assert not isinstance(e.value, PrivateKeyError)
        assert str(e.value).splitlines()[0] == (
            "roots.p12: a PKCS#12 store holding 1 certificate and no private key: PKCS#12 "
            "is not a supported CA source"
        )
        assert "-nokeys -out ca.pem" in (e.value.hint or "")
    with pytest.raises(CertificateError, match="PKCS#12 store at byte offset 1391 holding 1"):
        load_certificates(X1_DER + plain, source="roots.der")
    with pytest.raises(CertificateError, match=r"^roots.c:1: a PKCS#12 store holding 1"):
        load_certificates(c_source(b"", store=plain), source="roots.c")


@pytest.mark.parametrize("name", ["plain", "sealed"])
def test_write_paths_refuse_a_store_and_write_nothing(
    name: str, in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "roots.p12").write_bytes(_stores()[name])
    says = "no private key" if name == "plain" else "no key bag in the clear"
    r = runner.invoke(cli, ["build", "--root", "./roots.p12", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert says in r.output and "not a supported CA source" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["roots.p12"]
    r = runner.invoke(cli, ["inspect", "roots.p12"])
    assert r.exit_code == 2 and says in r.output, r.output
    with pytest.raises(CertificateError, match=says):
        gate_ca(CaSource.finished("roots.p12", _stores()[name]), at=datetime.now(timezone.utc))


# ---------------------------------------------------------------------------------------
# In base64 (base64 FILE.p12 > FILE.b64): the same verdicts as the raw store

B64_HINT = "decode it (base64 -d FILE > store.p12)"


def _base64_forms(data: bytes) -> dict[str, bytes]:
    """``data`` as ``base64`` (76 columns), ``openssl base64`` (64), ``base64 -w0``, with
    CRLF, and with its padding cut; the real tools' output where they are here."""
    one = base64.b64encode(data)
    forms = {
        "76 columns": base64.encodebytes(data),
        "64 columns": b"".join(one[i : i + 64] + b"\n" for i in range(0, len(one), 64)),
        "one line": one + b"\n",
        "no line end": one,
        "crlf": base64.encodebytes(data).replace(b"\n", b"\r\n"),
        "no padding": one.rstrip(b"="),
    }
    for command in (["base64"], ["openssl", "base64"]):
        if shutil.which(command[0]) is not None:
            run = subprocess.run(command, input=data, capture_output=True, check=True, timeout=60)
            forms[" ".join(command)] = run.stdout
    return forms


def test_a_base64_store_of_certificates_is_refused_as_the_raw_one() -> None:
    """Not as a key store, nor read as text without certificates: as a PKCS#12 store
    holding certificates, naming the line its base64 starts on and how to decode it."""
    plain = _stores()["plain"]
    for data in (plain, to_ber(plain)):
        for form, text in _base64_forms(data).items():
            for before, line in ((b"", 1), (X1_PEM, X1_PEM.count(b"\n") + 1)):
                with pytest.raises(CertificateError) as e:
                    load_certificates(before + text, source="roots.b64")
                assert not isinstance(e.value, PrivateKeyError), form
                assert str(e.value).splitlines()[0] == (
                    f"roots.b64:{line}: a PKCS#12 store in base64 holding 1 certificate and "
                    "no private key: PKCS#12 is not a supported CA source"
                ), form
                assert B64_HINT in (e.value.hint or "")
                assert "-nokeys -out ca.pem" in (e.value.hint or "")
    two = pkcs12.serialize_key_and_certificates(None, None, None, [X1, X1], ser.NoEncryption())
    with pytest.raises(CertificateError, match="holding 2 certificates and no private key"):
        load_certificates(base64.encodebytes(two), source="roots.b64")


def test_a_base64_store_that_may_hide_a_key_is_refused_saying_so() -> None:
    sealed = _stores()["sealed"]
    for form, text in _base64_forms(sealed).items():
        found = find_private_key(text)
        assert found is not None, form
        assert found.kind == "base64 PKCS#12 store, no key bag in the clear, 1 encrypted part"
        with pytest.raises(PrivateKeyError) as e:
            load_certificates(text, source="roots.b64")
        assert str(e.value).splitlines()[0] == (
            f"roots.b64:1: {found.kind} at byte offset 0: a private key may be in "
            "what only the store's password opens, and PKCS#12 is not a supported CA "
            "source; refusing the whole input"
        )
        assert B64_HINT in (e.value.hint or "") and "exposed" not in (e.value.hint or "")


def test_a_base64_store_with_a_key_is_a_key_store() -> None:
    stores = [STORES[n][0] for n in ("a key bag", "a shrouded key bag", "a nested key bag")]
    stores += [key_vectors()[n] for n in ("test-only-der.p12", "test-only-nss-pk12util.p12")]
    for store in stores:
        for form, text in _base64_forms(store).items():
            found = find_private_key(X1_PEM + text)
            assert found is not None and found.kind == "base64 PKCS#12 key store", form
            with pytest.raises(PrivateKeyError, match="treat it as exposed"):
                load_certificates(X1_PEM + text, source="roots.b64")


def test_base64_stores_in_every_length_form_are_found() -> None:
    """_PFX_VERSION_B64 (the loaders' quick look) holds every form's "version 3": the
    outer SEQUENCE's length in 1 (short, or BER's 80), 2, 3 and 4 bytes."""
    small = _pfx(_data(_safe(_bag(CRL_BAG))))
    stores = {
        "79": small,
        "80": to_ber(small),
        "81": _pfx(_data(_safe(_bag(CRL_BAG), _bag(CRL_BAG)))),
        "82": _stores()["plain"],
        "83": _pfx(_data(_safe(*[_bag(CERT_BAG)] * 50))),
    }
    for length, store in stores.items():
        assert store[1:2].hex() == length
        found = base64_pfx(X1_PEM + base64.encodebytes(store))
        assert found is not None and found[0] == len(X1_PEM), length
        assert not _cannot_open_key(base64.b64encode(store)[:16]), length


def test_base64_pfx_skips_bytes_scanned_clean_of_store_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes the key scan walked whole, where no run of base64 opened a PKCS#12 store,
    are not walked again by the loaders' look for a store (a PEM bundle holding a version
    spelling by chance); bytes where one did still are, and the store is found."""
    import esp_cabundle.keyscan as keyscan

    # an empty memory: one filled by earlier tests is cleared when full, which may fall
    # between the two scans below and forget the first
    monkeypatch.setattr(keyscan, "_CLEAN", {})
    chance = X1_PEM + b"# AgED\n"  # a store's "version 3" spelling, in no store
    stored = X1_PEM + base64.encodebytes(_stores()["plain"])  # certificates only: no key
    for data in (chance, stored):
        refuse_private_keys(data, source="roots.pem")  # clean: remembered by digest
    walked: list[bytes] = []
    heads = keyscan._b64_heads

    def counted(data: bytes) -> Iterator[tuple[int, int, bytes]]:
        walked.append(data)
        return heads(data)

    monkeypatch.setattr(keyscan, "_b64_heads", counted)
    assert base64_pfx(chance) is None and walked == []
    found = base64_pfx(stored)
    assert found is not None and found[0] == len(X1_PEM) and walked == [stored]
    assert base64_pfx(chance + b"\n") is None and walked[-1] == chance + b"\n"  # not scanned


def _c_literal_forms(data: bytes) -> dict[str, bytes]:
    """``data``'s base64 in string literals, as firmware and scripts hold a store: one
    literal a line (with "\\n" or without, indented deep, CRLF, in a macro, Python's
    parenthesised literals), one literal of lines joined by "\\n", JSON."""
    one = base64.b64encode(data).decode()
    lines = [one[i : i + 64] for i in range(0, len(one), 64)]
    b76 = base64.encodebytes(data).decode().splitlines()
    forms = {
        "a literal a line": "static const char p12[] =\n" + "".join(f'  "{x}"\n' for x in lines),
        "a literal a line, \\n": "const char *p12 =\n" + "".join(f'  "{x}\\n"\n' for x in b76),
        "deep indent": "const char p12[] =\n" + "".join(f'{" " * 40}"{x}\\n"\n' for x in lines),
        "crlf": "const char p12[] =\r\n" + "".join(f'    "{x}\\r\\n"\r\n' for x in lines),
        "macro": "#define P12 \\\n" + "".join(f'    "{x}\\n" \\\n' for x in lines),
        "python": "P12 = (\n" + "".join(f'    "{x}"\n' for x in lines) + ")",
        "one literal": 'const char *p12 = "' + "\\n".join(b76) + '\\n";',
        "json": '{"p12": "' + "\\n".join(lines) + '"}',
    }
    return {name: (text + ";\n").encode() for name, text in forms.items()}


def _assert_literal_hint(hint: str | None) -> None:
    """The hint for base64 in string literals: base64 -d cannot read a C file."""
    assert hint is not None and B64_HINT not in hint, hint
    assert "copy its base64 out of the string literals into store.b64" in hint
    assert "base64 -d store.b64 > store.p12" in hint and "-nokeys -out ca.pem" in hint


def test_a_base64_store_in_string_literals_is_judged_as_the_raw_one() -> None:
    """A store's base64 split over C string literals is read whole, as the raw base64:
    certificates only is no key (a PKCS#12 store holding certificates, not a CA source),
    an encrypted part may hide one, a key bag is a key store; not a "key store" for a
    body cut at the first literal's end. In a C file beside s_pem or alone."""
    plain, sealed = _stores()["plain"], _stores()["sealed"]
    key_store = key_vectors()["test-only-der.p12"]
    for form, text in _c_literal_forms(plain).items():
        for before in (b"", c_source(X1_PEM)):
            data = before + text
            assert find_private_key(data) is None, form
            line = data[: data.index(base64.b64encode(plain)[:16])].count(b"\n") + 1
            with pytest.raises(CertificateError) as e:
                load_certificates(data, source="roots.c")
            assert not isinstance(e.value, PrivateKeyError), form
            assert str(e.value).splitlines()[0] == (
                f"roots.c:{line}: a PKCS#12 store in base64 holding 1 certificate and no "
                "private key: PKCS#12 is not a supported CA source"
            ), form
            _assert_literal_hint(e.value.hint)
    for form, text in _c_literal_forms(sealed).items():
        found = find_private_key(c_source(X1_PEM) + text)
        assert found is not None, form
        assert found.kind == "base64 PKCS#12 store, no key bag in the clear, 1 encrypted part"
        with pytest.raises(PrivateKeyError, match="a private key may be in what only") as k:
            load_certificates(text, source="roots.c")
        _assert_literal_hint(k.value.hint)
    for form, text in _c_literal_forms(key_store).items():
        found = find_private_key(c_source(X1_PEM) + text)
        assert found is not None and found.kind == "base64 PKCS#12 key store", form
        with pytest.raises(PrivateKeyError, match="treat it as exposed"):
            load_certificates(text, source="roots.c")


@pytest.mark.parametrize("name", ["plain", "sealed"])
def test_write_paths_refuse_a_base64_store_and_write_nothing(
    name: str, in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "roots.b64").write_bytes(base64.encodebytes(_stores()[name]))
    says = "no private key" if name == "plain" else "no key bag in the clear"
    r = runner.invoke(cli, ["build", "--root", "./roots.b64", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert says in r.output and "not a supported CA source" in r.output
    assert "base64 -d" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["roots.b64"]


# ---------------------------------------------------------------------------------------
# Bounded


def test_deep_or_huge_stores_are_not_walked_and_count_as_key_stores() -> None:
    deep = _safe(_bag(CERT_BAG))
    for _ in range(40):
        deep = _safe(_bag(NESTED_BAG, deep))
    huge = _pfx(_data(_safe(*[_bag(CRL_BAG)] * 50_000)))  # 3 elements a bag
    for store in (_pfx(_data(deep)), huge):
        assert read_pfx(store) is None
        found = find_private_key(store)
        assert found is not None and found.kind == "DER PKCS#12 key store"


def test_a_scan_walks_four_stores_at_most() -> None:
    plain = _stores()["plain"]
    assert find_private_key(plain * 4) is None
    found = find_private_key(plain * 5)
    assert found is not None and (found.kind, found.offset) == (
        "DER PKCS#12 key store",
        4 * len(plain),
    )
    # in base64, each walk decodes a body whole: four at most, then key stores
    body = base64.encodebytes(plain)
    assert find_private_key(b"\n".join([body] * 4)) is None
    found = find_private_key(b"\n".join([body] * 5))
    assert found is not None and (found.kind, found.offset) == (
        "base64 PKCS#12 key store",
        4 * (len(body) + 1),
    )


@pytest.mark.timeout(60)
def test_long_base64_bodies_after_store_heads_are_read_in_bounded_time() -> None:
    """A head like a PFX's before 8 MiB of base64 lines: at most four bodies are decoded
    whole, each once; the scan stays linear."""
    head = base64.b64encode(_stores()["plain"][:48])
    lines = (b"QUFB" * 19 + b"\n") * ((8 << 20) // 77)
    literals = (b'  "' + b"QUFB" * 19 + b'\\n"\n') * ((8 << 20) // 82)  # C literals
    for data in (
        head + b"\n" + lines,
        (head + b"\n" + lines[: 1 << 16]) * 100,
        b'"' + head + b'"\n' + literals,
        (b'"' + head + b'"\n' + literals[: 1 << 16]) * 100,
    ):
        found, _error, seconds = timed(lambda data=data: find_private_key(data))  # type: ignore[misc]
        assert found is not None and found.kind == "base64 PKCS#12 key store"
        assert seconds < 10.0, seconds


@pytest.mark.timeout(120)
def test_fuzzed_stores_are_read_in_bounded_time() -> None:
    seeds = [STORES[n][0] for n in ("certificates", "nested", "encrypted")]
    seeds += [to_ber(s) for s in seeds] + list(_stores().values())
    mutator = Mutator(31, tokens=BER_TOKENS)
    for data in [*seeds, *mutator.variants(seeds, 1500)]:
        result, error, seconds = timed(lambda data=data: (read_pfx(data), find_private_key(data)))  # type: ignore[misc]
        assert error is None, (error, data[:40].hex())
        assert seconds < 2.0, seconds
        assert result[0] is None or isinstance(result[0], Pfx)
