"""The package's public surface: every name in ``__all__`` resolves, lazily, and is
what a library caller needs (README: From Python), typed and checked as a caller's
script is."""

from __future__ import annotations

import builtins
import collections.abc
import inspect
import os
import re
import subprocess
import sys
import typing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle import load_board
from tests.support.key_vectors import key_vectors

REPO = Path(__file__).resolve().parent.parent
AT = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_every_public_name_resolves() -> None:
    import esp_cabundle

    for name in esp_cabundle.__all__:
        assert getattr(esp_cabundle, name) is not None, name


def test_import_is_cheap_until_a_name_is_used() -> None:
    code = (
        "import sys, esp_cabundle\n"
        "heavy = [m for m in ('cryptography', 'esptool', 'littlefs', 'yaml') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "esp_cabundle.open_image\n"
        "assert 'esp_cabundle.fs' in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unknown_attribute_is_an_attribute_error() -> None:
    import esp_cabundle

    try:
        esp_cabundle.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


# --- what a library caller meets (README: From Python) ------------------------------------

_TYPING_NAMES = {
    *dir(builtins),
    *dir(typing),
    *dir(collections.abc),
    "datetime",
    "Path",
    "threading",
}


def test_a_target_left_uncaptured_is_a_public_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    """gate_ca raises ChainNotCaptured for a target with no saved chain, offline: a
    caller catches it by the name it imports from esp_cabundle, and README lists it."""
    import esp_cabundle as ecb

    monkeypatch.chdir(tmp_path)
    assert "ChainNotCaptured" in ecb.__all__
    spec = ecb.BundleSpec(presets=("letsencrypt",))
    offline = ecb.parse_target(f"127.0.0.1:{refused_port}")
    with pytest.raises(ecb.ChainNotCaptured) as e:
        ecb.gate_ca(ecb.CaSource.build(spec), at=AT, targets=[offline])
    assert isinstance(e.value, ecb.DeviceError) and e.value.exit_code == 3
    assert e.value.target == f"127.0.0.1:{refused_port}"
    python_part = (REPO / "README.md").read_text().split("## From Python", 1)[1]
    assert "`ChainNotCaptured`" in python_part.split("```python", 1)[0]
    assert not list(tmp_path.iterdir())  # nothing written


def test_public_functions_take_and_return_public_types() -> None:
    """A caller annotates a fixture with what ``build_bundle`` returns and passes the
    ``OutputSpec`` it takes: every class a public function returns, or needs as an
    argument, is public too (``from esp_cabundle.config import OutputSpec`` was the only
    way to build an output)."""
    import esp_cabundle

    public = set(esp_cabundle.__all__) | _TYPING_NAMES
    missing: dict[str, list[str]] = {}
    for name in esp_cabundle.__all__:
        obj = getattr(esp_cabundle, name)
        if not inspect.isfunction(obj):
            continue
        sig = inspect.signature(obj)
        wanted = [("return", sig.return_annotation)]
        wanted += [
            (p.name, p.annotation)
            for p in sig.parameters.values()
            if p.default is p.empty or p.name == "targets"  # gate_ca's Target: a saved chain
        ]
        for what, annotation in wanted:
            if annotation is inspect.Signature.empty or what == "link":  # **link: keywords
                continue
            # An argument needs one public alternative (``FsProfile | str``: a name will
            # do); a result, every name it may be.
            options = [str(annotation)] if what == "return" else str(annotation).split("|")
            unknown = [
                {i for i in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", o) if i not in public}
                for o in options
            ]
            if all(unknown):
                for ident in set().union(*unknown):
                    missing.setdefault(ident, []).append(f"{name}:{what}")
    assert not missing, missing


def _mypy(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "user.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / ".mypy_cache"), str(script)],
        env=dict(os.environ, MYPYPATH=str(REPO)), capture_output=True, text=True,
        timeout=150, check=False,
    )  # fmt: skip


@pytest.mark.timeout(180)
def test_a_misspelt_name_is_a_type_error(tmp_path: Path) -> None:
    """The lazy ``__getattr__`` is hidden from type checkers: through it every
    attribute of the package was ``Any``, and ``esp_cabundle.gate_caa(...)`` passed
    ``mypy --strict``."""
    r = _mypy(tmp_path, "import esp_cabundle\n\nesp_cabundle.gate_caa()\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'Module has no attribute "gate_caa"' in r.stdout, r.stdout


def test_output_spec_refuses_what_it_would_ignore() -> None:
    from esp_cabundle import InputError, OutputSpec

    with pytest.raises(InputError, match="c output: unknown option 'nmae'") as e:
        OutputSpec("c", Path("ca_pem.h"), {"nmae": "s_pem"})
    assert e.value.hint == "options: name, style"
    with pytest.raises(InputError, match="unknown output format 'pme'"):
        OutputSpec("pme", Path("ca.pem"))
    with pytest.raises(InputError, match="pem output: unknown option 'name'"):
        OutputSpec("pem", Path("ca.pem"), {"name": "x"})
    with pytest.raises(InputError, match="style"):
        OutputSpec("c", Path("ca_pem.h"), {"style": "fancy"})
    OutputSpec("c", Path("ca_pem.h"), {"name": "s_pem", "style": "array"})


def test_an_image_output_made_in_python_builds_as_pack_makes_it() -> None:
    from esp_cabundle import BundleSpec, CaSource, OutputSpec, build_bundle, gate_ca, pack_ca

    board = load_board("mdash-arduino")
    spec = BundleSpec(presets=("letsencrypt",))
    out = OutputSpec("spiffs", Path("spiffs.bin"), {"board": "mdash-arduino"})
    ((_, data),) = build_bundle(spec, (out,), at=AT).outputs
    ca = gate_ca(CaSource.build(spec), board=board, at=AT)
    assert data == pack_ca(ca, board=board).data


def test_pack_ca_takes_a_ca_gated_for_its_board() -> None:
    from esp_cabundle import BundleSpec, CaSource, ImageError, InputError, gate_ca, pack_ca

    board = load_board("mdash-arduino")
    unboarded = gate_ca(CaSource.build(BundleSpec(presets=("letsencrypt",))), at=AT)
    with pytest.raises(InputError, match="not of mdash-arduino") as e:
        pack_ca(unboarded, board=board)
    assert "board=load_board('mdash-arduino')" in (e.value.hint or "")
    with pytest.raises(InputError, match="needs the size"):
        pack_ca(unboarded, fs_type="spiffs")
    packed = pack_ca(unboarded, fs_type="littlefs", profile="esp-idf", size=0x40000)
    assert packed.image.read("/ca.pem") == unboarded.pem
    with pytest.raises(ImageError):
        pack_ca(unboarded, fs_type="spiffs", profile="littlefs-not", size=0x40000)
    ca = gate_ca(CaSource.build(BundleSpec(presets=("letsencrypt",))), board=board, at=AT)
    small = pack_ca(ca, board=board, size=0x40000)
    assert "not the size of board mdash-arduino's file-system partition" in small.notes[0]
    assert not pack_ca(ca, board=board).notes


def test_pack_ca_that_does_not_fit_says_nothing_was_written_not_unchanged() -> None:
    """The file-system layer's "the image was not changed" suits an edit in place; a
    new image never existed, so the library says nothing was written."""
    from esp_cabundle import BundleSpec, CaSource, ImageError, gate_ca, pack_ca

    ca = gate_ca(CaSource.build(BundleSpec(presets=("default",))), at=AT)
    with pytest.raises(ImageError, match="does not fit") as e:
        pack_ca(ca, fs_type="littlefs", profile="esp-idf", size=0x2000)
    hint = e.value.hint or ""
    assert "nothing was written" in hint and "was not changed" not in hint


def test_naive_datetimes_are_utc() -> None:
    """A naive ``datetime`` raised TypeError deep inside (comparing it with a
    certificate's aware dates); it means UTC, as a date in cabundle.yaml does."""
    from esp_cabundle import (
        BundleSpec,
        CaSource,
        CheckItem,
        Policy,
        TrustSet,
        build_bundle,
        check_items,
        forecast,
        gate_ca,
        load_chain_file,
        parse_device_profile,
        verify_chain,
    )

    naive = AT.replace(tzinfo=None)
    ca = gate_ca(CaSource(), at=naive)
    assert ca.at == AT
    assert Policy(service_until=datetime(2030, 1, 1)).service_until == datetime(
        2030, 1, 1, tzinfo=timezone.utc
    )
    gate_ca(CaSource.build(BundleSpec(policy=Policy(service_until=datetime(2030, 1, 1)))), at=AT)
    build_bundle(BundleSpec(), (), at=naive)
    trust = TrustSet.from_certificates(ca.certificates)
    chain = load_chain_file(REPO / "examples/chains/letsencrypt-2024-short.pem").certificates
    device = parse_device_profile("mbedtls-clock")
    assert verify_chain(trust, chain, device, at=naive) == verify_chain(trust, chain, device, at=AT)
    later = forecast(trust, chain, device, at=naive, until=datetime(2036, 1, 1))
    assert later.first_failure is not None
    item = CheckItem(
        "mdash.net", load_chain_file(REPO / "examples/ci/chains/mdash.net.pem"), device
    )
    report = check_items(trust, [item], at=naive, until=datetime(2036, 1, 1))
    assert report.at == AT


def test_a_ca_source_needs_a_finished_files_name_and_bytes() -> None:
    """``CaSource(file_name="ca.pem")`` gated the default preset, never reading the file."""
    from esp_cabundle import CaSource, InputError

    with pytest.raises(InputError, match="needs both its name and its bytes") as e:
        CaSource(file_name="ca.pem")
    assert "CaSource.from_file" in (e.value.hint or "")
    with pytest.raises(InputError, match="needs both"):
        CaSource(file_data=b"...")


def test_a_certificate_repr_leaves_out_its_der() -> None:
    """A verdict's repr held every certificate's DER: kilobytes of escaped bytes."""
    from esp_cabundle import load_certificate_file

    (cert,) = load_certificate_file(REPO / "tests/data/letsencrypt/isrgrootx1.pem")
    assert "der=" not in repr(cert)
    assert "ISRG Root X1" in repr(cert)
    assert len(repr(cert)) < 1000


def test_a_board_gives_its_device_profile() -> None:
    """How a board's units verify, with what their firmware version does: the profile
    ``check --board`` judges with, a method of Board."""
    mdash = load_board("mdash-arduino@1.2.13").device_profile()
    assert (mdash.rules, mdash.clock, mdash.sets_hostname, mdash.ca_parse) == (
        "mbedtls",
        "none",
        False,
        "fatal",
    )
    assert load_board("esp-idf-bundle@5.4").device_profile().mbedtls == "3.6"


def test_a_trust_set_from_bytes_is_the_file_s() -> None:
    """Bytes already in hand (read off a unit, out of an image) judge as their file does:
    a PEM bundle and an ESP-IDF bundle alike; a key or an oversized input is refused."""
    import esp_cabundle as ecb
    from esp_cabundle.limits import MAX_CERT_INPUT

    data = REPO / "tests" / "data"
    for path in (data / "idf-bundle" / "input" / "small.pem", data / "idf-bundle" / "small.v2.bin"):
        from_file = ecb.load_trust_set(path)
        from_bytes = ecb.trust_set_from_bytes(path.read_bytes(), source=str(path))
        assert from_bytes == from_file and len(from_bytes.anchors) > 1
    key = key_vectors()["test-only-ec-pkcs8.der"]
    with pytest.raises(ecb.PrivateKeyError):
        ecb.trust_set_from_bytes(key, source="unit's ca.pem")
    with pytest.raises(ecb.InputError, match="over the") as e:
        ecb.trust_set_from_bytes(b"\n" * (MAX_CERT_INPUT + 1), source="dump")
    assert e.value.path == "dump"
