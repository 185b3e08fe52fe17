"""A library user's common mistakes (one str where a sequence goes, a naive datetime, a
name where an object goes, text where bytes go) get an ArgumentTypeError naming the
argument and what to give, raised before anything is done (no broker is dialled), not a
raw TypeError or AttributeError from deep inside."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.bundle import Policy
from esp_cabundle.certs import load_certificate_file
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.inspect import inspect_path
from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url


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
