"""Saved chains' hints in the caller's words: a script is told of ``load_trust_set()``,
``load_chain_file()`` and ``capture_chain(...).to_pem()``; the CLI keeps --bundle,
--chain, 'esp-cabundle chains pull' and 'chains show --host ... -o FILE' word for word."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from esp_cabundle.chains import load_chain_file
from esp_cabundle.check import target_items
from esp_cabundle.errors import CertificateError, InputError
from esp_cabundle.limits import MAX_CHAIN_CERTS
from esp_cabundle.spelling import CLI_SPELLING, PYTHON
from esp_cabundle.targets import parse_target

DATA = Path(__file__).parent / "data"


def test_a_chain_too_long_names_the_loaders(tmp_path: Path) -> None:
    e5 = (DATA / "letsencrypt" / "2024-e5.pem").read_bytes()
    (tmp_path / "chain.pem").write_bytes(e5 * (MAX_CHAIN_CERTS + 1))
    with pytest.raises(CertificateError) as e:
        load_chain_file(tmp_path / "chain.pem")
    assert e.value.hint is not None and "--" not in e.value.hint
    assert e.value.hint.endswith(
        "give a trust set with load_trust_set(), a server's chain with load_chain_file()"
    )
    with pytest.raises(CertificateError) as e:
        load_chain_file(tmp_path / "chain.pem", spelling=CLI_SPELLING)
    assert e.value.hint == (
        "a server sends its leaf and a few issuers (an ESP32 reads them in one 16 KiB "
        "message); give a trust set with --bundle, a server's chain with --chain"
    )


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("mdash.net", "capture_chain('mdash.net')"),
        ("127.0.0.1:8443", "capture_chain('127.0.0.1', 8443)"),
    ],
)
def test_a_missing_saved_chain_names_capture_chain(tmp_path: Path, text: str, call: str) -> None:
    target = parse_target(text)
    path = target.chain_path(tmp_path)
    with pytest.raises(InputError) as e:
        target_items([target], tmp_path, live=False)
    assert e.value.hint == (
        f"online, save it as {path} with: Path({str(path)!r}).write_bytes({call}.to_pem()); "
        "offline, put the server's chain there (PEM, leaf first)"
    )
    assert "esp-cabundle" not in e.value.hint
    with pytest.raises(InputError) as e:
        target_items([target], tmp_path, live=False, spelling=PYTHON, pulled=())
    assert "esp-cabundle" not in (e.value.hint or "")
    with pytest.raises(InputError) as e:
        target_items([target], tmp_path, live=False, spelling=CLI_SPELLING, pulled=())
    command = shlex.join(["esp-cabundle", "chains", "show", "--host", target.address or ""])
    assert e.value.hint == (
        f"online, save it as {path} with: {command} -o {path}; offline, put the server's "
        "chain there (PEM, leaf first)"
    )
    with pytest.raises(InputError) as e:
        target_items([target], tmp_path, live=False, spelling=CLI_SPELLING)
    assert e.value.hint == (
        f"online, 'esp-cabundle chains pull' saves it as {path}; offline, put the server's "
        "chain there (PEM, leaf first)"
    )
    assert not path.exists()


def test_a_missing_chain_file_names_capture_chain_for_a_script(tmp_path: Path) -> None:
    missing = tmp_path / "api.pem"
    with pytest.raises(InputError) as e:
        load_chain_file(missing)
    assert e.value.hint == (
        f"save one with Path({str(missing)!r}).write_bytes(capture_chain(HOST).to_pem()) "
        "or export it leaf first as PEM"
    )
    with pytest.raises(InputError) as e:
        load_chain_file(missing, spelling=CLI_SPELLING)
    assert e.value.hint == (
        "save one with 'esp-cabundle chains pull' or export it leaf first as PEM"
    )
