"""``--target HOST[:PORT]`` or ``--target CHAIN-FILE``: one rule tells them apart (the
tryout's findings). A path, a name with a certificate file's suffix or a missing file is
a chain file, refused as "no such chain file" like ``check --chain``; a value that is no
host name is refused too; either before any DNS look-up, and nothing is written."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.gate import parse_target

REPO = Path(__file__).resolve().parent.parent
CHAIN_2024 = REPO / "examples" / "chains" / "letsencrypt-2024-short.pem"
PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "64K", "-o", "fs.bin"]


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A look-up or connection fails the test loudly: no test here passes by dialling."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network reached: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    "word",
    [
        "examples/chains/nosuch.pem",  # cut at the first '/' and dialled as 'examples'
        "nosuch.pem",  # taken as a host, with the hint 'chains/nosuch.pem.pem'
        "NOSUCH.CRT",
        "my chain.pem",
        "./nosuch.pem",  # was refused as a bad host
        "nosuch/dir/chain",
    ],
)
@pytest.mark.parametrize("command", [["build", "--no-lock", "--dry-run"], PACK])
def test_a_missing_chain_file_is_said_to_be_one(
    in_tmp: Path, runner: CliRunner, word: str, command: list[str]
) -> None:
    r = runner.invoke(cli, [*command, "--preset", "letsencrypt", "--target", word])
    assert r.exit_code == 2, r.output
    assert f"{word}: no such chain file" in r.output
    # no config here: not 'chains pull' (it needs one), the command that saves the file
    assert "chains pull" not in r.output and f"-o {shlex.quote(str(Path(word)))}" in r.output
    assert list(in_tmp.iterdir()) == []


def test_the_same_words_as_check_chain(in_tmp: Path, runner: CliRunner) -> None:
    word = "examples/chains/nosuch.pem"
    check = runner.invoke(cli, ["check", "--chain", word])
    build = runner.invoke(cli, ["build", "--no-lock", "--dry-run", "--target", word])
    assert check.exit_code == build.exit_code == 2
    assert check.output.splitlines()[:2] == build.output.splitlines()[:2], build.output


@pytest.mark.parametrize(
    "word", ["my host", "bad_host!x", "mdash.net:443 x", "-dash.example", "a..b", "[::1"]
)
def test_a_value_that_is_no_host_name_is_refused_up_front(
    in_tmp: Path, runner: CliRunner, word: str
) -> None:
    r = runner.invoke(cli, ["build", "--no-lock", "-o", "ca.pem", "--target", word])
    assert r.exit_code == 2, r.output
    assert f"bad target '{word}': not a host name or IP address, and no chain file" in r.output
    assert list(in_tmp.iterdir()) == []


def test_an_existing_file_is_a_chain_whatever_its_name(in_tmp: Path) -> None:
    (in_tmp / "broker").write_bytes(CHAIN_2024.read_bytes())
    (in_tmp / "with space.pem").write_bytes(CHAIN_2024.read_bytes())
    assert parse_target("broker").chain == Path("broker")
    assert parse_target("with space.pem").chain == Path("with space.pem")


@pytest.mark.parametrize(
    ("word", "host", "port"),
    [
        ("mdash.net", "mdash.net", 443),
        ("mqtt.example.com:8883", "mqtt.example.com", 8883),
        ("localhost:8443", "localhost", 8443),
        ("[::1]:8443", "::1", 8443),
        ("https://mdash.net/path", "mdash.net", 443),
        ("192.0.2.1", "192.0.2.1", 443),
    ],
)
def test_host_names_stay_hosts(in_tmp: Path, word: str, host: str, port: int) -> None:
    t = parse_target(word)
    assert (t.host, t.port, t.chain) == (host, port, None)


def test_the_library_refuses_the_same(in_tmp: Path) -> None:
    with pytest.raises(InputError) as e:
        parse_target("nosuch.pem")
    assert (e.value.path, e.value.reason) == ("nosuch.pem", "no such chain file")


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ('"examples/chains/nosuch.pem"', "looks like a chain file: a target written as text"),
        ('"nosuch.pem"', "looks like a chain file: a target written as text"),
        ('"my host"', "'my host' is not a host name or IP address"),
        ('{host: "my host"}', "'my host' is not a host name or IP address"),
        ('"a..b"', "bad host 'a..b'"),
    ],
)
def test_cabundle_yaml_targets_follow_the_same_rule(
    in_tmp: Path, runner: CliRunner, entry: str, said: str
) -> None:
    """A ``targets:`` string was cut at its first '/' (or sent whole, spaces and all) and
    dialled; it is HOST[:PORT], and a path there is told to be a ``chain:`` mapping."""
    text = f"roots:\n  - isrg-root-x1\ntargets:\n  - {entry}\n"
    (in_tmp / "cabundle.yaml").write_text(text)
    r = runner.invoke(cli, ["build", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:4: targets[0]" in r.output and said in r.output, r.output
    if "chain file" in said:
        assert f"a saved chain is a mapping: '- chain: {entry.strip(chr(34))}'" in r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


@pytest.mark.parametrize(
    ("entry", "name", "stem"),
    [
        ('"[::1]:8443"', "[::1]:8443", "0--1_8443"),
        ('"[2001:db8::7]:8883"', "[2001:db8::7]:8883", "2001-db8--7_8883"),
        ('"[::1]"', "::1", "0--1"),
        ("{host: '::1', port: 8443}", "[::1]:8443", "0--1_8443"),
        ('"mdash.net:8443"', "mdash.net:8443", "mdash.net_8443"),
    ],
)
def test_ipv6_targets_are_named_as_typed(
    in_tmp: Path, runner: CliRunner, entry: str, name: str, stem: str
) -> None:
    """An IPv6 target with a port was named '::1:8443' (the port reads as the address's
    last group) and saved its chain as '1_8443.pem' (a host named '1'): it is
    '[::1]:8443', its chain file spells the address with dashes and reads back as it."""
    from esp_cabundle.config import load_config
    from esp_cabundle.targets import name_from_file_stem

    (in_tmp / "cabundle.yaml").write_text(f"roots:\n  - isrg-root-x1\ntargets:\n  - {entry}\n")
    (target,) = load_config(in_tmp / "cabundle.yaml").section("targets")
    assert target.name == name
    path = target.chain_path(in_tmp)
    assert path == in_tmp / "chains" / f"{stem}.pem"
    assert name_from_file_stem(path.stem) == target.host
    if entry.startswith('"'):
        assert parse_target(entry.strip('"')).name == name


def test_an_ipv6_address_is_dialled_in_brackets(in_tmp: Path) -> None:
    t = parse_target("[::1]:8443")
    assert (t.address, parse_target("::1").address) == ("[::1]:8443", "[::1]:443")
