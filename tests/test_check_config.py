"""``targets:`` and ``device:`` in cabundle.yaml: validated with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.check import Target, target_items
from esp_cabundle.config import parse_config
from esp_cabundle.errors import ConfigError, InputError
from esp_cabundle.verify import parse_device_profile


def cfg(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_config(text, path=tmp_path / "cabundle.yaml")


def test_targets_in_both_shapes(tmp_path: Path) -> None:
    c = cfg(
        "device: mbedtls-noclock\n"
        "targets:\n"
        "  - mdash.net\n"
        "  - broker.example.com:8883\n"
        "  - name: api\n"
        "    host: api.example.com\n"
        "    port: 8443\n"
        "    chain: saved/api.pem\n"
        "    device: idf-bundle:synced\n"
        "    server_name: api.internal\n"
        "  - chain: chains/offline.pem\n",
        tmp_path,
    )
    assert c.section("device") == parse_device_profile("mbedtls-noclock")
    t = c.section("targets")
    assert [x.name for x in t] == ["mdash.net", "broker.example.com:8883", "api", "offline"]
    assert (t[1].host, t[1].port) == ("broker.example.com", 8883)
    assert t[2].chain == tmp_path / "saved" / "api.pem"
    assert t[2].device is not None and (t[2].device.rules, t[2].device.clock) == (
        "idf-bundle",
        "synced",
    )
    assert t[2].server_name == "api.internal"
    assert t[0].chain_path(tmp_path) == tmp_path / "chains" / "mdash.net.pem"
    assert t[1].chain_path(tmp_path) == tmp_path / "chains" / "broker.example.com_8883.pem"
    assert t[3].host is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("targets:\n  - name: x\n    host: h\n    port: 0\n", 4, "must be at least 1"),
        ("targets:\n  - name: x\n    host: h\n    port: 70000\n", 4, "out of range"),
        ("targets:\n  - name: x\n    hots: h\n", 3, "unknown key 'hots'"),
        ("targets:\n  - name: x\n", 2, "needs a 'host' or a saved 'chain'"),
        ("targets:\n  - a.example\n  - a.example\n", 3, "duplicate target 'a.example'"),
        ("targets:\n  - host: h\n    device: mbedtls-nocloc\n", 3, "unknown device profile"),
        ("targets:\n  - host:8883x\n", 2, "bad port"),
        ("targets:\n  - host: h:8883\n", 2, "is not a host name"),
        ("device: openssl\n", 1, "unknown device profile"),
        ("targets:\n  - host: h\n    port: '443'\n", 3, "expected an integer"),
    ],
)
def test_bad_targets_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        cfg(text, tmp_path)
    assert f"cabundle.yaml:{line}:" in str(e.value)
    assert message in str(e.value)
    assert e.value.exit_code == 2


def test_unknown_key_suggests_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        cfg("targets:\n  - name: x\n    hots: h\n", tmp_path)
    assert "did you mean 'host'" in str(e.value)


def test_target_without_saved_chain_offline_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no saved chain") as e:
        target_items([Target("t", "example.com")], tmp_path, live=False)
    assert "capture_chain('example.com')" in str(e.value)  # a script's words, not the CLI's
    with pytest.raises(InputError, match=r"target 't': .*x\.pem: no such chain file"):
        target_items([Target("t", None, chain=tmp_path / "x.pem")], tmp_path)


@pytest.mark.parametrize("command", ["build", "check"])
def test_unreachable_target_without_saved_chain_says_the_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, refused_port: int
) -> None:
    """Offline (here: nothing listens), a target without a saved chain names what the
    user can do with this very command: pull when online, save the chain by hand, and for
    build --no-check; never an option the command lacks."""
    from click.testing import CliRunner

    from esp_cabundle.cli import cli

    monkeypatch.chdir(tmp_path)
    port = refused_port
    (tmp_path / "cabundle.yaml").write_text(
        f"preset: letsencrypt\ntargets:\n  - name: broker\n    host: 127.0.0.1\n    port: {port}\n"
    )
    r = CliRunner().invoke(cli, [command])
    assert r.exit_code == 3, r.output
    assert "target 'broker' has no saved chain" in r.stderr and "connection refused" in r.stderr
    hint = r.stderr.split("hint: ", 1)[1]
    assert "'esp-cabundle chains pull'" in hint and "chains/broker.pem" in hint
    assert "--chain" not in r.stderr
    assert ("--no-check" in hint) == (command == "build")  # check writes nothing
    assert not (tmp_path / "ca.pem").exists()
    if command == "build":
        r = CliRunner().invoke(cli, ["build", "--no-check"])
        assert r.exit_code == 0 and (tmp_path / "ca.pem").is_file()


@pytest.mark.parametrize(
    ("text", "expected"), [("16384", 16384), ("16K", 16384), ("0x4000", 16384), ("16KiB", 16384)]
)
def test_max_bytes_reads_sizes_as_the_flag_does(tmp_path: Path, text: str, expected: int) -> None:
    """README: sizes read alike in every flag and file; `max_bytes: 16K` was refused
    while `--max-bytes 16K` was taken."""
    p = tmp_path / "cabundle.yaml"
    config = parse_config(f"preset: default\nmax_bytes: {text}\n", path=p)
    assert config.spec.policy.max_bytes == expected


@pytest.mark.parametrize("text", ["lots", "0", "-4K", "true"])
def test_a_bad_max_bytes_names_its_line(tmp_path: Path, text: str) -> None:
    p = tmp_path / "cabundle.yaml"
    with pytest.raises(ConfigError) as e:
        parse_config(f"preset: default\nmax_bytes: {text}\n", path=p)
    assert "max_bytes" in str(e.value) and e.value.line == 2


def test_check_with_a_config_elsewhere_judges_the_ca_pem_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README runs ``check -c fleet/cabundle.yaml`` where an earlier step left a
    ./ca.pem: check judged that stray file, while ``build -c`` writes fleet/ca.pem."""
    from click.testing import CliRunner

    from esp_cabundle.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "cabundle.yaml").write_text("preset: letsencrypt\n")
    runner = CliRunner()
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["build", "-c", "fleet/cabundle.yaml"])
    assert r.exit_code == 0 and (tmp_path / "fleet" / "ca.pem").is_file(), r.output
    chain = str(Path(__file__).parent.parent / "examples/chains/letsencrypt-gen-y-rsa.pem")
    r = runner.invoke(cli, ["check", "-c", "fleet/cabundle.yaml", "--chain", chain, "--json"])
    assert r.exit_code == 0, r.output
    import json

    trust = json.loads(r.stdout)["trust"]
    assert trust == {
        "source": "fleet/ca.pem",
        "roots": 4,
        "intermediates": 0,
        "intermediate_warnings": [],
    }
    # without a config, ./ca.pem as before; --bundle names any
    r = runner.invoke(cli, ["check", "--chain", chain, "--json"])
    assert json.loads(r.stdout)["trust"]["roots"] == 1
    # --report may not replace the file judged, wherever it is
    r = runner.invoke(cli, ["check", "-c", "fleet/cabundle.yaml", "--chain", chain,
                            "--report", "fleet/ca.pem"])  # fmt: skip
    assert r.exit_code == 2 and "would replace the bundle fleet/ca.pem" in r.stderr, r.output


def test_check_report_works_out_the_file_judged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check --report`` guards the file judged without --bundle and then judges it:
    each output is looked at once (it was twice, the rule run for each), and the report
    names the file the guard kept."""
    import json

    from click.testing import CliRunner

    from esp_cabundle import trust_files
    from esp_cabundle.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: pem, path: data/ca.pem}\n"
    )
    runner = CliRunner()
    r = runner.invoke(cli, ["build", "--no-lock"])
    assert r.exit_code == 0 and (tmp_path / "data" / "ca.pem").is_file(), r.output
    looked: list[Path] = []
    real = trust_files.is_found

    def counted(path: Path, **kwargs: str) -> bool:
        looked.append(path.resolve())
        return real(path, **kwargs)

    monkeypatch.setattr(trust_files, "is_found", counted)
    chain = str(Path(__file__).parent.parent / "examples/chains/letsencrypt-gen-y-rsa.pem")
    r = runner.invoke(cli, ["check", "--chain", chain, "--report", "r.html", "--json"])
    assert r.exit_code == 0, r.output
    judged = (tmp_path / "data" / "ca.pem").resolve()
    assert Path(json.loads(r.stdout)["trust"]["source"]).resolve() == judged
    assert (tmp_path / "r.html").is_file()
    assert looked == [judged]


def test_a_bundle_named_from_the_configs_directory_is_said_with_the_path_that_works(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``check -c fw/cabundle.yaml --bundle build/ca.pem`` run above ``fw/`` was a bare
    "build/ca.pem: no such bundle file": the config's own outputs are ``fw/build/...``,
    the command line's paths the working directory's. Now that is said, and the hint is
    the line with the path that works."""
    import shlex

    from esp_cabundle.cli import run

    (in_tmp / "fw").mkdir()
    chain = Path(__file__).parent.parent / "examples/chains/letsencrypt-2024-short.pem"
    (in_tmp / "fw" / "le.pem").write_bytes(chain.read_bytes())
    (in_tmp / "fw" / "cabundle.yaml").write_text(
        "preset: letsencrypt\ntargets:\n  - {name: api, host: api.example.com, chain: le.pem}\n"
        "outputs:\n  - {format: pem, path: build/ca.pem}\n"
    )
    assert run(["build", "-c", "fw/cabundle.yaml", "-q"]) == 0
    capsys.readouterr()
    typed = ["check", "-c", "fw/cabundle.yaml", "--bundle", "build/ca.pem", "-q"]
    assert run(typed) == 2
    err = capsys.readouterr().err
    assert "build/ca.pem: no such bundle file (a path given on the command line" in err, err
    line = shlex.split(err.partition("hint: e.g. esp-cabundle ")[2])
    assert line == ["check", "-c", "fw/cabundle.yaml", "--bundle", "fw/build/ca.pem", "-q"]
    assert run(line) == 0, capsys.readouterr().err
