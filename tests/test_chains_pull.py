"""``esp-cabundle chains pull`` over several targets, some unreachable: every target is
tried, the chains captured are saved, each failure is named with its reason, and a
target that failed keeps its saved chain (real TLS servers on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle import chains_pull
from esp_cabundle.chains import load_chain_file
from esp_cabundle.chains_pull import PullFailed, PullResult, combined_exit_code
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.targets import Target
from tests.support.fleet_links import refusing_ports
from tests.support.verify_pki import Minted, mint, tls_server


@pytest.fixture
def dead_port() -> Iterator[Callable[[], int]]:
    """Loopback ports that refuse connections, held so no other process takes one."""
    with refusing_ports() as port:
        yield port


def _config(path: Path, ports: dict[str, int]) -> None:
    path.write_text(
        "targets:\n"
        + "".join(f"  - {{name: {n}, host: 127.0.0.1, port: {p}}}\n" for n, p in ports.items())
    )


@pytest.fixture
def chain() -> tuple[Minted, Minted]:
    root = mint("Pull Root")
    inter = mint("Pull CA", root)
    return mint("localhost", inter, ca=False), inter


def test_an_unreachable_target_does_not_stop_the_others(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted], dead_port: Callable[[], int]
) -> None:
    leaf, inter = chain
    (in_tmp / "chains").mkdir()
    kept = b"# the chain saved last month\n"
    (in_tmp / "chains" / "dead.pem").write_bytes(kept)
    with tls_server([leaf, inter]) as one, tls_server([inter]) as two:
        # The dead target sits between the two live ones: the second is tried too.
        _config(in_tmp / "cabundle.yaml", {"one": one, "dead": dead_port(), "two": two})
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 3, r.output
    assert "one: localhost <- Pull CA -> chains/one.pem" in r.stdout
    assert "two: Pull CA -> chains/two.pem" in r.stdout
    assert "Error: 1 of 3 targets could not be captured; the 2 others were saved" in r.stderr
    assert "- dead: 127.0.0.1:" in r.stderr and "connection refused" in r.stderr
    assert "esp-cabundle chains pull --target dead" in r.stderr  # how to retry just it
    assert [c.der for c in load_chain_file(in_tmp / "chains" / "one.pem").certificates] == [
        leaf.der,
        inter.der,
    ]
    assert load_chain_file(in_tmp / "chains" / "two.pem").leaf.der == inter.der
    assert (in_tmp / "chains" / "dead.pem").read_bytes() == kept
    assert sorted(p.name for p in (in_tmp / "chains").iterdir()) == [
        "dead.pem",
        "one.pem",
        "two.pem",
    ]  # no temporary file left


def test_json_gives_a_result_per_target(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted], dead_port: Callable[[], int]
) -> None:
    leaf, inter = chain
    dead = dead_port()
    with tls_server([leaf, inter]) as live:
        _config(in_tmp / "cabundle.yaml", {"dead": dead, "live": live})
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2", "--json"])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)  # one document: the error adds none
    assert doc["ok"] is False and doc["exit_code"] == 3 and doc["failed"] == ["dead"]
    first, second = doc["chains"]
    assert first["target"] == "dead" and first["ok"] is False and first["saved"] is False
    assert first["address"] == f"127.0.0.1:{dead}" and first["exit_code"] == 3
    assert "connection refused" in first["error"] and first["hint"] and first["chain"] is None
    assert second["ok"] is True and second["saved"] is True and second["error"] is None
    assert second["chain"] == ["localhost", "Pull CA"] and second["captured_at"]
    assert Path(second["path"]) == in_tmp / "chains" / "live.pem"
    assert not (in_tmp / "chains" / "dead.pem").exists()


def test_every_target_failing_saves_nothing(
    runner: CliRunner, in_tmp: Path, dead_port: Callable[[], int]
) -> None:
    _config(in_tmp / "cabundle.yaml", {"a": dead_port(), "b": dead_port()})
    r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 3  # every target failed the same way: that way's code
    assert "Error: no target could be captured (2 tried); nothing was saved" in r.stderr
    assert "- a: " in r.stderr and "- b: " in r.stderr
    assert "once it answers: esp-cabundle chains pull\n" in r.stderr
    assert not (in_tmp / "chains").exists()


def test_a_failed_write_loses_no_saved_chain(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted]
) -> None:
    """Saving is all or none: a chain that cannot be written leaves the others' saved
    files as they were."""
    leaf, inter = chain
    (in_tmp / "chains").mkdir()
    (in_tmp / "chains" / "one.pem").write_bytes(b"old one\n")
    (in_tmp / "chains" / "two.pem").mkdir()  # cannot be replaced by a file
    with tls_server([leaf, inter]) as port:
        _config(in_tmp / "cabundle.yaml", {"one": port, "two": port})
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 3 and "two.pem: is a directory; nothing written" in r.stderr, r.output
    assert (in_tmp / "chains" / "one.pem").read_bytes() == b"old one\n"
    assert sorted(p.name for p in (in_tmp / "chains").iterdir()) == ["one.pem", "two.pem"]


def test_exit_codes_follow_the_station_rule() -> None:
    assert combined_exit_code([0, 0]) == 0
    assert combined_exit_code([3, 3]) == 3
    assert combined_exit_code([2, 2]) == 2  # bad input everywhere
    assert combined_exit_code([0, 2]) == 3  # some need attention
    assert combined_exit_code([2, 3]) == 3
    t = Target("gw", host="gw.example", port=443)
    bad = PullResult(t, Path("chains/gw.pem"), error=InputError("bad host 'gw'"))
    failed = PullFailed.from_results([bad], again="esp-cabundle chains pull -c f.yaml")
    assert failed is not None and failed.exit_code == 2
    assert failed.hint is not None and failed.hint.endswith("esp-cabundle chains pull -c f.yaml")
    assert PullFailed.from_results([]) is None
    with pytest.raises(ValueError):
        PullResult(t, Path("x"))  # neither a chain nor an error


def test_targets_saving_to_one_file_are_refused_before_any_capture(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted]
) -> None:
    """'a b' and 'a_b' both save to chains/a_b.pem: one server's chain would stand for
    the other's, each reported as saved."""
    leaf, inter = chain
    with tls_server([leaf, inter]) as one, tls_server([inter]) as two:
        (in_tmp / "cabundle.yaml").write_text(
            "targets:\n"
            f"  - {{name: a b, host: 127.0.0.1, port: {one}}}\n"
            f"  - {{name: a_b, host: 127.0.0.1, port: {two}}}\n"
        )
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 2, r.output
    assert "targets 'a b' and 'a_b' would both save their chain to" in r.stderr
    assert "capturing" not in r.stderr and not (in_tmp / "chains").exists()


def test_targets_of_one_server_may_share_their_saved_chain(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted]
) -> None:
    leaf, inter = chain
    with tls_server([leaf, inter]) as port:
        (in_tmp / "cabundle.yaml").write_text(
            "targets:\n"
            f"  - {{name: old, host: 127.0.0.1, port: {port}, chain: chains/s.pem}}\n"
            f"  - {{name: new, host: 127.0.0.1, port: {port}, chain: chains/s.pem,"
            " device: mbedtls-clock}\n"
        )
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 0, r.output
    assert load_chain_file(in_tmp / "chains" / "s.pem").leaf.der == leaf.der


def test_the_retry_hint_keeps_the_targets_asked_for(
    runner: CliRunner, in_tmp: Path, dead_port: Callable[[], int]
) -> None:
    """'chains pull --target b' failing says to pull b again, not every target."""
    _config(in_tmp / "cabundle.yaml", {"a": dead_port(), "b": dead_port()})
    r = runner.invoke(cli, ["chains", "pull", "--timeout", "2", "--target", "b"])
    assert r.exit_code == 3, r.output
    assert "once it answers: esp-cabundle chains pull --target b\n" in r.stderr
    assert "- a: " not in r.stderr


def test_ctrl_c_saves_nothing(
    runner: CliRunner,
    in_tmp: Path,
    chain: tuple[Minted, Minted],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README: "Ctrl-C saves nothing". The first target is captured, Ctrl-C lands while
    the second is: exit 130, no chain file written, the saved ones byte for byte."""
    leaf, inter = chain
    captured: list[str] = []
    real = chains_pull.capture_chain

    def capture(host: str, port: int, **kwargs: Any) -> Any:
        captured.append(f"{host}:{port}")
        if len(captured) == 2:
            raise KeyboardInterrupt
        return real(host, port, **kwargs)

    monkeypatch.setattr(chains_pull, "capture_chain", capture)
    (in_tmp / "chains").mkdir()
    saved = {"one.pem": b"# one, saved last month\n", "two.pem": b"# two, saved last month\n"}
    for name, data in saved.items():
        (in_tmp / "chains" / name).write_bytes(data)
    with tls_server([leaf, inter]) as port:
        _config(in_tmp / "cabundle.yaml", {"one": port, "two": port, "new": port})
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 130, r.output
    assert len(captured) == 2  # the first was captured, the third never tried
    assert {p.name: p.read_bytes() for p in (in_tmp / "chains").iterdir()} == saved


@pytest.mark.parametrize(
    ("chain_path", "words"),
    [
        ("cabundle.yaml", "would replace the config"),
        ("cabundle.lock", "would replace the config's lock file"),
        ("ca.pem", "would replace the config's pem output"),
        ("x1.pem", "would replace the root file named in the config"),
    ],
)
def test_a_chain_path_over_the_projects_files_is_refused_before_any_capture(
    runner: CliRunner, in_tmp: Path, chain: tuple[Minted, Minted], chain_path: str, words: str
) -> None:
    """A target's ``chain:`` naming the config, its lock, its (default) output or a root
    file: the captured chain was written over it (cabundle.yaml itself lost), exit 0."""
    leaf, inter = chain
    (in_tmp / "x1.pem").write_bytes(inter.pem)
    (in_tmp / "cabundle.lock").write_text("{}\n")
    (in_tmp / "ca.pem").write_bytes(inter.pem)
    with tls_server([leaf, inter]) as port:
        (in_tmp / "cabundle.yaml").write_text(
            "roots: [x1.pem]\ntargets:\n"
            f"  - {{name: t, host: 127.0.0.1, port: {port}, chain: {chain_path}}}\n"
        )
        before = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
        r = runner.invoke(cli, ["chains", "pull", "--timeout", "2"])
    assert r.exit_code == 2, r.output
    assert f"the saved chain of target 't' {in_tmp / chain_path} {words}" in r.stderr
    assert "give that target another 'chain:' path" in r.stderr
    assert "capturing" not in r.stderr
    assert {p.name: p.read_bytes() for p in in_tmp.iterdir()} == before
