"""A library user's common mistakes (one str where a sequence goes, a naive datetime, a
name where an object goes, text where bytes go) get an ArgumentTypeError naming the
argument and what to give, raised before anything is done (no broker is dialled), not a
raw TypeError or AttributeError from deep inside."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.bundle import BundleSpec, Policy
from esp_cabundle.certs import load_certificate_file, load_certificates
from esp_cabundle.chains import load_chain_file
from esp_cabundle.config import load_config
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.gate import CaSource, GatedCA, gate_ca
from esp_cabundle.images import pack_ca
from esp_cabundle.inspect import inspect_bytes, inspect_path
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url
from esp_cabundle.targets import Target
from esp_cabundle.trust_files import load_trust_set, trust_set_from_bytes
from esp_cabundle.verify import DeviceProfile, TrustSet, parse_device_profile, verify_chain


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to dial the broker, recorded (the refusal must come first)."""
    dialled: list[object] = []

    def refuse(*args: object, **kwargs: object) -> object:
        dialled.append(args)
        raise ConnectionRefusedError("dialled")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return dialled


def test_mqtt_one_str_as_the_device_ids_is_refused_before_connecting(
    no_connect: list[object],
) -> None:
    with pytest.raises(ArgumentTypeError, match="device_ids takes a sequence") as e:
        MqttTransport.from_url("mqtt://127.0.0.1:1", "dev1")  # type: ignore[arg-type]
    assert e.value.hint == "give a tuple: device_ids=('dev1',)"
    with pytest.raises(ArgumentTypeError, match="device_ids takes names"):
        MqttTransport.from_url("mqtt://127.0.0.1:1", [1, 2])  # type: ignore[list-item]
    assert no_connect == []


def test_mqtt_url_of_the_wrong_type_is_refused(no_connect: list[object]) -> None:
    with pytest.raises(ArgumentTypeError, match="takes an MqttUrl, not str") as e:
        MqttTransport("mqtt://127.0.0.1:1", ["dev1"])  # type: ignore[arg-type]
    assert e.value.hint is not None and "from_url" in e.value.hint
    url = parse_mqtt_url("mqtt://127.0.0.1:1")
    with pytest.raises(ArgumentTypeError, match="URL as str, not MqttUrl"):
        MqttTransport.from_url(url, ["dev1"])  # type: ignore[arg-type]
    assert no_connect == []


X1 = Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem"
NAIVE = datetime(2030, 1, 1)
AWARE = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_certificate_dates_take_a_naive_datetime_or_a_date_as_utc() -> None:
    (cert,) = load_certificate_file(X1)
    for at in (NAIVE, date(2030, 1, 1)):
        assert cert.days_left(at) == cert.days_left(AWARE)
        assert cert.is_expired(at) is cert.is_expired(AWARE) is False
        assert cert.is_valid_at(at) is cert.is_valid_at(AWARE) is True
        assert cert.is_not_yet_valid(at) is False
    for call in (cert.days_left, cert.is_expired, cert.is_valid_at, cert.is_not_yet_valid):
        with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
            call("2030-01-01")  # type: ignore[arg-type]


def test_report_to_dict_takes_a_naive_datetime_as_utc() -> None:
    report = inspect_path(X1)
    assert report.to_dict(NAIVE) == report.to_dict(AWARE)
    assert report.to_dict(date(2030, 1, 1)) == report.to_dict(AWARE)
    with pytest.raises(ArgumentTypeError, match="a date or datetime is needed, not str"):
        report.to_dict("2030-01-01")  # type: ignore[arg-type]


REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_every_public_name_and_documented_call_passes_mypy_strict(tmp_path: Path) -> None:
    """A user's module under ``mypy --strict``: every public name imported from the
    package (each must be in __init__'s TYPE_CHECKING imports, not only in _LAZY:
    parse_target was not), and the calls the runtime takes (a date for ``at`` and
    ``service_until``, Paths for root files, base_dir as str) accepted."""
    import esp_cabundle

    names = ", ".join(n for n in esp_cabundle.__all__ if n != "__version__")
    code = (
        f"from esp_cabundle import __version__, {names}\n"
        "from datetime import date, datetime, timezone\n"
        "from pathlib import Path\n\n\n"
        "def judge(trust: TrustSet, chain: tuple[Certificate, ...], "
        "device: DeviceProfile) -> None:\n"
        "    verify_chain(trust, chain, device, at=date(2030, 1, 1))\n"
        "    forecast(trust, chain, device, at=date(2030, 1, 1), "
        "until=datetime(2031, 1, 1, tzinfo=timezone.utc))\n\n\n"
        "paths = [Path('my-root.pem')]\n"
        "spec = BundleSpec(roots=tuple(paths), base_dir='.', "
        "policy=Policy(service_until=date(2030, 1, 1)))\n"
        "target: Target = parse_target('example.com')\n"
    )
    script = tmp_path / "user.py"
    script.write_text(code)
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / ".mypy_cache"), str(script)],
        env=dict(os.environ, MYPYPATH=str(REPO)), capture_output=True, text=True,
        timeout=280, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    ("kwargs", "message", "hint"),
    [
        (
            {"allow": "expired"},
            "allow= takes a set of policy names, not one str",
            "give a frozenset: allow=frozenset({'expired'})",
        ),
        (
            {"max_bytes": "4K"},
            "max_bytes= takes a number of bytes \\(int\\), not str",
            "give an int: max_bytes=4096 (the CLI's --max-bytes reads '4K')",
        ),
        (
            {"max_bytes": 4096.0},
            "not float",
            "give an int: max_bytes=4096 (the CLI's --max-bytes reads '4K')",
        ),
    ],
)
def test_policy_refuses_one_str_to_allow_and_text_for_max_bytes(
    kwargs: dict[str, object], message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        Policy(**kwargs)  # type: ignore[arg-type]
    assert e.value.hint == hint


def test_policy_takes_a_date_and_a_set_of_names() -> None:
    policy = Policy(service_until=date(2030, 1, 1), allow={"expired"}, max_bytes=4096)  # type: ignore[arg-type]
    assert policy.service_until == AWARE


AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
CHAIN = Path(__file__).parent / "data/chains/chain-gen-y-rsa.pem"


def _source() -> CaSource:
    return CaSource.finished("ca.pem", X1.read_bytes())


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: gate_ca(_source(), board="mdash-arduino", at=AT),  # type: ignore[arg-type]
            "gate_ca's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
        (
            lambda: gate_ca(BundleSpec(), at=AT),  # type: ignore[arg-type]
            "gate_ca takes a CaSource, not BundleSpec",
            "wrap it: gate_ca(CaSource.build(spec), ...)",
        ),
        (
            lambda: gate_ca(X1, at=AT),  # type: ignore[arg-type]
            "gate_ca takes a CaSource, not PosixPath",
            f"wrap it: gate_ca(CaSource.from_file(Path({str(X1)!r})), ...)",
        ),
        (
            lambda: gate_ca(_source(), targets=Target("example.com", "example.com"), at=AT),  # type: ignore[arg-type]
            "targets= takes a sequence of Target, not one Target",
            "give a list: targets=[target]",
        ),
        (
            lambda: gate_ca(_source(), targets=["example.com"], at=AT),  # type: ignore[list-item]
            "targets= takes Target objects, not str 'example.com'",
            "make each with parse_target: targets=[parse_target('example.com')]",
        ),
        (
            lambda: pack_ca(_gated(), board="mdash-arduino"),  # type: ignore[arg-type]
            "pack_ca's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
        (
            lambda: pack_ca(_gated(), board=load_board("mdash-arduino"), size="0x40000"),  # type: ignore[arg-type]
            "pack_ca's size= takes a number of bytes \\(int\\), not str '0x40000'",
            "give an int: size=0x40000 (or parse it: int('0x40000', 0))",
        ),
        (
            lambda: verify_chain(_trust(), load_chain_file(CHAIN), _device(), at=AT),  # type: ignore[arg-type]
            "chain takes a sequence of Certificate, not ServerChain",
            "give its certificates: verify_chain(trust, chain.certificates, ...)",
        ),
        (
            lambda: verify_chain(_trust(), [CHAIN], _device(), at=AT),  # type: ignore[list-item]
            "chain takes Certificate objects, not PosixPath",
            "read them: load_chain_file(path).certificates or load_certificates(data)",
        ),
        (
            lambda: verify_chain(
                _trust(),
                load_chain_file(CHAIN).certificates,
                "mbedtls-noclock",  # type: ignore[arg-type]
                at=AT,
            ),
            "profile takes a DeviceProfile, not str 'mbedtls-noclock'",
            "parse it first: parse_device_profile('mbedtls-noclock')",
        ),
        (
            lambda: verify_chain(X1, [], _device(), at=AT),  # type: ignore[arg-type]
            "trust takes a TrustSet, not PosixPath",
            "load it: load_trust_set(path) or trust_set_from_bytes(data)",
        ),
        (
            lambda: CaSource.finished("ca.pem", X1.read_text()),  # type: ignore[arg-type]
            "CaSource.finished takes bytes, not str",
            "encode the text first: CaSource.finished(name, text.encode())",
        ),
        (
            lambda: CaSource.finished("ca.pem", "ca.pem"),  # type: ignore[arg-type]
            "CaSource.finished takes bytes, not str",
            "for a file use CaSource.from_file('ca.pem')",
        ),
        (
            lambda: load_certificate_file(X1.read_bytes()),  # type: ignore[arg-type]
            "load_certificate_file takes a path \\(str or Path\\), not bytes",
            "for the content itself use load_certificates(data)",
        ),
        (
            lambda: load_certificate_file(b"ca.pem"),  # type: ignore[arg-type]
            "load_certificate_file takes a path",
            "give the path as str: load_certificate_file('ca.pem')",
        ),
        (
            lambda: load_chain_file(CHAIN.read_bytes()),  # type: ignore[arg-type]
            "load_chain_file takes a path \\(str or Path\\), not bytes",
            "for the content itself use load_certificates(data)",
        ),
        (
            lambda: load_trust_set(X1.read_bytes()),  # type: ignore[arg-type]
            "load_trust_set takes a path \\(str or Path\\), not bytes",
            "for the content itself use trust_set_from_bytes(data)",
        ),
        (
            lambda: Target("mdash.net:8443"),
            "Target\\('mdash.net:8443'\\) has neither a host nor a saved chain",
            "parse_target('mdash.net:8443') reads a host[:port] or a chain file; or give "
            "host= (and port=) or chain=",
        ),
        (
            lambda: Target(5),  # type: ignore[arg-type]
            "Target's name takes a str, not int",
            None,
        ),
        (
            lambda: inspect_path(X1.read_bytes()),  # type: ignore[arg-type]
            "inspect_path takes a path \\(str or Path\\), not bytes",
            "for the content itself use inspect_bytes(data)",
        ),
        (
            lambda: load_config(b"cabundle.yaml"),  # type: ignore[arg-type]
            "load_config takes a path",
            None,
        ),
    ],
)
def test_a_common_mistake_is_refused_with_the_call_to_make(
    call: Callable[[], object], message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert hint is None or e.value.hint == hint


def test_bytes_arguments_take_a_memoryview() -> None:
    pem = X1.read_bytes()
    assert load_certificates(memoryview(pem)) == load_certificates(pem)
    assert len(trust_set_from_bytes(memoryview(pem)).anchors) == 1
    assert inspect_bytes(memoryview(pem), source="x1.pem") == inspect_bytes(pem, source="x1.pem")


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (
            lambda: trust_set_from_bytes(X1.read_text()),  # type: ignore[arg-type]
            "encode the text first: trust_set_from_bytes(text.encode())",
        ),
        (
            lambda: inspect_bytes(X1.read_text(), source="ca.pem"),  # type: ignore[arg-type]
            "encode the text first: inspect_bytes(text.encode())",
        ),
        (
            lambda: trust_set_from_bytes("ca.pem"),  # type: ignore[arg-type]
            "for a file use load_trust_set('ca.pem')",
        ),
    ],
)
def test_pem_text_where_bytes_go_is_told_to_encode_not_to_open_a_file(
    call: Callable[[], object], hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match="takes bytes, not str") as e:
        call()
    assert e.value.hint == hint


def _gated() -> GatedCA:
    return gate_ca(_source(), board=load_board("mdash-arduino"), at=AT)


def _trust() -> TrustSet:
    return load_trust_set(X1)


def _device() -> DeviceProfile:
    return parse_device_profile("mbedtls-clock")
