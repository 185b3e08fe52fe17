"""``esp-cabundle init``: the file it writes builds and checks as is; flags, prompts,
defaults and every refusal (nothing written, an existing file unchanged)."""

from __future__ import annotations

import json
import shlex
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from esp_cabundle.boards import board_names, load_board
from esp_cabundle.cli import cli
from esp_cabundle.config import load_config
from esp_cabundle.errors import InputError
from esp_cabundle.init_config import (
    InitChoices,
    board_device,
    parse_service_life,
    parse_target,
    render_config,
    write_config,
)
from esp_cabundle.verify import parse_device_profile

CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"
AT = "2026-11-27"
TODAY = datetime(2026, 11, 27, tzinfo=timezone.utc)


def run(runner: CliRunner, *args: str, input: str | None = None) -> tuple[int, str, str]:
    r = runner.invoke(cli, list(args), input=input)
    return r.exit_code, r.stdout, r.stderr


def test_defaults_with_yes_build_as_is(runner: CliRunner, in_tmp: Path) -> None:
    code, out, err = run(runner, "init", "--yes", "--at", AT)
    assert code == 0, err
    assert "Wrote cabundle.yaml" in out
    cfg = load_config(in_tmp / "cabundle.yaml")
    assert cfg.spec.presets == ("default",)
    assert cfg.spec.policy.service_until == datetime(2031, 11, 27, tzinfo=timezone.utc)
    assert [(o.format, o.path.name) for o in cfg.outputs] == [("pem", "ca.pem")]
    assert cfg.section("targets") is None and cfg.section("device") is None
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0, err
    assert (in_tmp / "ca.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 8
    assert (in_tmp / "cabundle.lock").is_file()


@pytest.mark.parametrize("name", ["fleet/my.yaml", "fleet/cabundle.yaml", "my file.yaml"])
def test_next_steps_run_as_printed(runner: CliRunner, in_tmp: Path, name: str) -> None:
    """Tester's report: with -o the printed 'build' ignored the file (it built the
    default preset) and '(cd fleet) esp-cabundle build' is not a shell command."""
    code, _, err = run(runner, "init", "--yes", "--at", AT, "--board", "esp-idf-bundle", "-o", name)
    assert code == 0, err
    steps = [line.strip() for line in err.split("Next:")[1].splitlines() if line.strip()]
    build = next(s.split("  #")[0] for s in steps if s.startswith("esp-cabundle build"))
    argv = shlex.split(build)[1:]
    code, _, err = run(runner, *argv, "--at", AT)
    assert code == 0, err
    built = in_tmp / Path(name).parent / "x509_crt_bundle.bin"
    assert built.is_file() and not (in_tmp / "ca.pem").exists()


def test_board_and_target_build_then_check_with_saved_chain(
    runner: CliRunner, in_tmp: Path
) -> None:
    code, out, err = run(
        runner, "init", "--board", "mdash-arduino", "--target", "mdash.net",
        "--target", "mqtt.example.com:8883", "--service-years", "8", "--yes", "--at", AT,
    )  # fmt: skip
    assert code == 0, err
    assert "chains pull" in err  # next steps
    cfg = load_config(in_tmp / "cabundle.yaml")
    targets = cfg.section("targets")
    assert [(t.name, t.host, t.port) for t in targets] == [
        ("mdash.net", "mdash.net", 443),
        ("mqtt.example.com:8883", "mqtt.example.com", 8883),
    ]
    # mDash 1.2.13's library refuses a CA file with any unparseable root and sets no
    # server name (data/firmware/mdash.yaml).
    assert cfg.section("device") == parse_device_profile(
        "mbedtls-noclock+no-hostname+fatal-ca-parse"
    )
    assert cfg.spec.policy.service_until == datetime(2034, 11, 27, tzinfo=timezone.utc)
    # Saved chains, as 'chains pull' would leave them: build and check run offline.
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", in_tmp / "chains" / "mdash.net.pem")
    shutil.copy(
        CHAINS / "letsencrypt-gen-y-rsa.pem", in_tmp / "chains" / "mqtt.example.com_8883.pem"
    )
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0, err
    code, out, err = run(runner, "check", "--at", AT, "--until", "2034-11-27")
    assert code == 0, err
    assert "PASS  mdash.net" in out and "PASS  mqtt.example.com:8883" in out
    # The board said mdash-arduino keeps /ca.pem on SPIFFS beside /mdash.cfg: the
    # comments say how to put it on units.
    text = (in_tmp / "cabundle.yaml").read_text()
    assert "--board mdash-arduino" in text and "/mdash.cfg" in text
    assert "pack --fs spiffs --profile esp-idf --size 1468K" in text
    # Its partition, named as its file system is, is told apart from it (not "spiffs ... in
    # spiffs"), however the comment wraps.
    said = " ".join(line[1:].strip() for line in text.splitlines() if line.startswith("#"))
    where = "/ca.pem in a spiffs file system (profile esp-idf) on partition spiffs; beside it"
    assert where in said, said


def test_check_from_init_config_fails_for_a_broken_target(runner: CliRunner, in_tmp: Path) -> None:
    """The config is live: a target whose chain the preset cannot anchor fails build
    (nothing written) and check (exit 1)."""
    code, _, err = run(
        runner, "init", "--board", "arduino-esp32-spiffs", "--target", "old.example",
        "--preset", "aws-iot", "--yes", "--at", AT,
    )  # fmt: skip
    assert code == 0, err
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", in_tmp / "chains" / "old.example.pem")
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 1 and "would break 1 target" in err
    assert not (in_tmp / "ca.pem").exists()
    code, out, _ = run(runner, "check", "--at", AT)
    assert code == 1 and "FAIL  old.example" in out


def test_check_judges_the_file_build_wrote_where_the_board_puts_it(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tester's report: on a board whose output is not ./ca.pem (platformio-esp32 writes
    data/ca.pem) check judged the config's roots, not the file the units get."""
    code, _, err = run(
        runner, "init", "--board", "platformio-esp32", "--target", "old.example", "--yes",
        "--at", AT,
    )  # fmt: skip
    assert code == 0, err
    (in_tmp / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", in_tmp / "chains" / "old.example.pem")
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0 and (in_tmp / "data" / "ca.pem").is_file(), err
    config = in_tmp / "cabundle.yaml"
    config.write_text(config.read_text().replace("preset: default", "preset: aws-iot"))
    code, out, _ = run(runner, "check", "--at", AT)  # the units hold data/ca.pem: it passes
    assert code == 0 and "data/ca.pem" in out, out
    (in_tmp / "sub").mkdir()  # the same from elsewhere, the config given by -c
    monkeypatch.chdir(in_tmp / "sub")
    code, out, _ = run(runner, "check", "-c", "../cabundle.yaml", "--at", AT)
    assert code == 0 and "data/ca.pem" in out, out
    monkeypatch.chdir(in_tmp)
    (in_tmp / "data" / "ca.pem").unlink()  # nothing built: the config's roots are judged
    code, out, _ = run(runner, "check", "--at", AT)
    assert code == 1 and "FAIL  old.example" in out, out


@pytest.mark.parametrize("name", board_names())
def test_every_board_gives_a_config_that_builds(runner: CliRunner, in_tmp: Path, name: str) -> None:
    code, _, err = run(runner, "init", "--board", name, "--yes", "--at", AT)
    assert code == 0, err
    board = load_board(name)
    cfg = load_config(in_tmp / "cabundle.yaml")
    assert [o.format for o in cfg.outputs] == [board.output.format]
    for k, v in board.output.options.items():
        assert cfg.outputs[0].options[k] == v
    device = cfg.section("device")
    assert (device.rules, device.clock) == (board.verify.rules, board.verify.clock)
    assert f"# Board: {name} " in (in_tmp / "cabundle.yaml").read_text()
    assert cfg.section("board").name == name  # the board: key build, pack and check take
    code, _, err = run(runner, "build", "--at", AT, "--no-lock")
    assert code == 0, err
    assert cfg.outputs[0].path.is_file()


def test_interactive_answers_with_retries(runner: CliRunner, in_tmp: Path) -> None:
    answers = "\n".join(
        [
            "mdash-arduin",  # typo: suggested, asked again
            "mongoose-os-esp32",
            "bad host!, mdash.net",  # refused, asked again
            "mdash.net, broker.example:8883",
            "2020-01-01",  # in the past: asked again
            "2032-12-31",
            "letsencrypt",
        ]
    )
    code, _, err = run(runner, "init", "--at", AT, input=answers + "\n")
    assert code == 0, err
    assert "did you mean 'mdash-arduino'" in err
    assert "bad target 'bad host!'" in err
    assert "not after today" in err
    cfg = load_config(in_tmp / "cabundle.yaml")
    assert cfg.spec.presets == ("letsencrypt",)
    assert [t.name for t in cfg.section("targets")] == ["mdash.net", "broker.example:8883"]
    assert cfg.spec.policy.service_until == datetime(2032, 12, 31, tzinfo=timezone.utc)
    assert "# Board: mongoose-os-esp32 " in (in_tmp / "cabundle.yaml").read_text()


def test_target_takes_a_comma_separated_list_as_the_prompt_does(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The prompt says "HOST[:PORT], comma-separated" and --target refused that list
    ('mdash.net,api.example.com' is not a host name): it takes it now, and a bad one
    in the list is hinted in place, the others kept."""
    code, _, err = run(
        runner, "init", "--target", "mdash.net, api.example.com:8443", "--target",
        "broker.example:8883", "--yes", "--at", AT,
    )  # fmt: skip
    assert code == 0, err
    cfg = load_config(in_tmp / "cabundle.yaml")
    assert [(t.host, t.port) for t in cfg.section("targets")] == [
        ("mdash.net", 443),
        ("api.example.com", 8443),
        ("broker.example", 8883),
    ]
    (in_tmp / "cabundle.yaml").unlink()
    code, _, err = run(runner, "init", "--target", "mdash.net,bad host!", "--yes")
    assert code == 2 and "bad target 'bad host!'" in err, err
    hint = err.partition("  hint: ")[2]
    assert shlex.split(hint.partition("e.g. ")[2]) == [
        "esp-cabundle", "init", "--target", "mdash.net,mqtt.example.com:8883", "--yes",
    ]  # fmt: skip
    assert list(in_tmp.iterdir()) == []


# How each question starts, and the words README's "Start a project" names it by.
QUESTIONS = {"Board": "board", "Servers": "servers", "Service life": "service life",
             "Root preset": "root preset"}  # fmt: skip


def test_questions_come_in_the_order_readme_gives(runner: CliRunner, in_tmp: Path) -> None:
    """README: init 'asks for the board, the servers ..., their service life and a root
    preset'; the prompts ask in that order (tester's report, item 7)."""
    code, _, err = run(runner, "init", "--at", AT, input="none\n\n5\ndefault\n")
    assert code == 0, err
    asked = sorted(QUESTIONS, key=err.index)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    sentence = readme[readme.index("`init` asks for") :].split("\n\n")[0]
    said = sorted(QUESTIONS, key=lambda q: sentence.index(QUESTIONS[q]))
    assert asked == said == list(QUESTIONS)


def test_flags_skip_their_questions(runner: CliRunner, in_tmp: Path) -> None:
    # board, preset and life given: only the targets are asked.
    code, _, err = run(
        runner, "init", "--board", "none", "--preset", "mdash", "--service-years", "3",
        "--at", AT, input="\n",
    )  # fmt: skip
    assert code == 0, err
    assert "Servers the devices connect to" in err and "Board" not in err
    cfg = load_config(in_tmp / "cabundle.yaml")
    assert cfg.section("targets") is None and cfg.spec.presets == ("mdash",)


def test_closed_input_is_a_clear_error_and_writes_nothing(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(runner, "init", "--at", AT, input="")
    assert code == 2
    assert "no answer to 'Board' (input ended)" in err and "--yes" in err
    assert list(in_tmp.iterdir()) == []


def test_refuses_to_overwrite_without_force(runner: CliRunner, in_tmp: Path) -> None:
    cfg = in_tmp / "cabundle.yaml"
    cfg.write_text("preset: aws-iot\n")
    code, _, err = run(runner, "init", "--yes", "--at", AT)
    assert code == 2 and "cabundle.yaml already exists; nothing written" in err
    assert "--force" in err
    assert cfg.read_text() == "preset: aws-iot\n"
    # Asked nothing: the refusal comes first.
    code, _, err = run(runner, "init", "--at", AT, input="")
    assert code == 2 and "already exists" in err and cfg.read_text() == "preset: aws-iot\n"
    code, _, err = run(runner, "init", "--yes", "--force", "--at", AT)
    assert code == 0, err
    assert load_config(cfg).spec.presets == ("default",)


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--yes", "-o", "cabundle.lock"], "cabundle.lock is the lock file its build writes"),
        # before "already exists": --force would not help
        (["--yes", "-o", "cabundle.lock", "--force"], "cabundle.lock is the lock file"),
        (["-o", "sub/cabundle.lock"], "sub/cabundle.lock is the lock file"),  # asks nothing
        (["--yes", "-o", "ca.pem"], "ca.pem is its pem output"),
        (
            ["--board", "esp-idf-bundle", "-o", "x509_crt_bundle.bin"],
            "x509_crt_bundle.bin is its idf-bundle output",
        ),
    ],
)
def test_a_config_named_as_a_file_its_build_writes_is_refused_up_front(
    runner: CliRunner, in_tmp: Path, args: list[str], shown: str
) -> None:
    """``init --yes -o cabundle.lock`` wrote the config there, then printed ``build -c
    cabundle.lock`` as the next step, which build refuses (the lock would replace the
    config); ``-o ca.pem`` ended in "init produced a config build would refuse"."""
    (in_tmp / "sub").mkdir()
    if "--force" in args:
        (in_tmp / "cabundle.lock").write_text("lock\n")
    before = sorted((p, p.read_bytes() if p.is_file() else None) for p in in_tmp.rglob("*"))
    code, out, err = run(runner, "init", "--at", AT, *args, input="")
    assert code == 2, err
    assert f"Error: {shown}" in err and "nothing written" in err
    assert "-o " in err.partition("hint:")[2] and "init produced" not in err
    assert "Next:" not in out + err
    assert sorted((p, p.read_bytes() if p.is_file() else None) for p in in_tmp.rglob("*")) == before


def test_write_config_refuses_a_path_its_build_writes(tmp_path: Path) -> None:
    """The library's check too: a prompted board's output is known only here."""
    until = parse_service_life("5", today=TODAY)
    choices = InitChoices(load_board("esp-idf-bundle"), ("default",), (), until)
    with pytest.raises(InputError, match="is its idf-bundle output"):
        write_config(choices, path=tmp_path / "x509_crt_bundle.bin", today=TODAY)
    with pytest.raises(InputError, match="is the lock file its build writes"):
        write_config(choices, path=tmp_path / "cabundle.lock", today=TODAY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "mdash-arduinoo"], "unknown board 'mdash-arduinoo'"),
        (["--target", "mdash.net:99999"], "bad port '99999'"),
        (["--target", "no such host"], "bad target 'no such host'"),
        # parse_host_port cut these at '/' and init wrote the target 'examples'
        (["--target", "examples/chains/x.pem"], "init takes servers (HOST[:PORT]), not chain"),
        (["--target", "x.pem"], "init takes servers (HOST[:PORT]), not chain files"),
        (["--target", "exa_mple..com"], "not a valid host name"),
        (["--target", "a.example", "--target", "a.example:443"], "given twice"),
        (
            ["--service-until", "2031-02-30"],
            "bad service end date '2031-02-30': February 2031 has 28 days, no day 30; "
            "e.g. '2031-02-28'",
        ),
        (["--service-until", "2025-01-01"], "service end 2025-01-01 is not after today"),
        (["--service-years", "0"], "0 is not in the range 1<=x<=50"),
        (["--service-years", "3", "--service-until", "2031-01-01"], "not both"),
        (["--preset", "defualt"], "did you mean 'default'"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    runner: CliRunner, in_tmp: Path, args: list[str], message: str
) -> None:
    code, _, err = run(runner, "init", "--yes", "--at", AT, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert list(in_tmp.iterdir()) == []


def test_roots_expiring_before_service_end_are_named(runner: CliRunner, in_tmp: Path) -> None:
    code, _, err = run(
        runner, "init", "--preset", "letsencrypt", "--service-until", "2041-01-01", "--yes",
        "--at", AT,
    )  # fmt: skip
    assert code == 0
    assert "ISRG Root X1 expires 2035-06-04" in err and "ISRG Root X2 expires 2040-09-17" in err
    text = (in_tmp / "cabundle.yaml").read_text()
    assert "# allow: [expires-before-service-end]" in text
    assert "ISRG Root X1 expires 2035-06-04" in text
    # build says the same, and writes nothing, until the user chooses.
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 1 and "ISRG Root X1 expires 2035-06-04" in err
    assert not (in_tmp / "ca.pem").exists()
    (in_tmp / "cabundle.yaml").write_text(
        text.replace("# allow: [expires-before-service-end]", "allow: [expires-before-service-end]")
    )
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0, err


@pytest.mark.parametrize("board", ["mdash-arduino", "mongoose-os-esp32", "esp-idf-bundle"])
def test_board_that_never_checks_dates_builds_a_long_service_as_is(
    runner: CliRunner, in_tmp: Path, board: str
) -> None:
    """Ten years outlive ISRG Root X1 (2035) and GTS Root R1 (2036); devices without a
    clock still accept chains ending at them, so the file allows it and builds."""
    assert load_board(board).verify.clock == "none"
    code, _, err = run(runner, "init", "--board", board, "--service-years", "10", "--yes",
                       "--at", AT)  # fmt: skip
    assert code == 0, err
    assert "warning" not in err and "ISRG Root X1 expires 2035-06-04" in err
    text = (in_tmp / "cabundle.yaml").read_text()
    assert "\nallow: [expires-before-service-end]\n" in text and "never check dates" in text
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0, err
    code, out, err = run(runner, "init", "--board", board, "--service-years", "10", "--yes",
                         "--at", AT, "--force", "--json")  # fmt: skip
    doc = json.loads(out)
    assert doc["warnings"] == [] and len(doc["allowed"]) == 2, doc


def test_board_that_checks_dates_still_refuses_a_too_long_service(
    runner: CliRunner, in_tmp: Path
) -> None:
    assert load_board("mdash").verify.clock == "synced"
    code, _, err = run(runner, "init", "--board", "mdash", "--service-years", "10", "--yes",
                       "--at", AT)  # fmt: skip
    assert code == 0 and "warning: ISRG Root X1 expires 2035-06-04" in err
    text = (in_tmp / "cabundle.yaml").read_text()
    assert "# allow: [expires-before-service-end]" in text
    code, _, build_err = run(runner, "build", "--at", AT)
    assert code == 1 and "ISRG Root X1 expires 2035-06-04" in build_err
    # The warning points where the comment is, and names the lines that make it build.
    lines = text.splitlines()
    until = lines.index("service_until: 2036-11-27")
    assert lines[until + 1].startswith("# These roots expire before then")
    said = " ".join(err.split())
    assert "(build refuses it: see the comment below service_until)" in said
    assert (
        f"warning: cabundle.yaml does not build as written; set service_until: 2035-06-04 or "
        f"earlier (line {until + 1}), or choose roots that outlive it (roots:, exclude:), or, "
        f"only if no unit checks dates, uncomment allow: "
        f"(line {lines.index('# allow: [expires-before-service-end]') + 1})"
    ) in said, said
    assert "esp-cabundle build # ca_pem.h (once fixed)" in said
    (in_tmp / "cabundle.yaml").write_text(text.replace("2036-11-27", "2035-06-04"))
    code, _, build_err = run(runner, "build", "--at", AT)
    assert code == 0, build_err


def test_a_file_that_builds_gets_no_fix(runner: CliRunner, in_tmp: Path) -> None:
    code, out, err = run(runner, "init", "--board", "mdash", "--yes", "--at", AT, "--json")
    assert code == 0, err
    assert json.loads(out)["warnings"] == [] and "does not build" not in err


def test_mongoose_os_writes_fs_ca_pem_as_its_example(runner: CliRunner, in_tmp: Path) -> None:
    """The app's files live in fs/ (examples/mongoose-os, README): ca.pem was written at
    the project root, beside mos.yml, where mos build never looks."""
    example = yaml.safe_load((CHAINS.parent / "mongoose-os" / "cabundle.yaml").read_text())
    assert example["outputs"][0]["path"] == "fs/ca.pem"
    for board in ("mongoose-os-esp32", "mongoose-os-esp32-spiffs"):
        code, out, err = run(runner, "init", "--board", board, "--yes", "--at", AT, "--json",
                             "--force")  # fmt: skip
        assert code == 0, err
        assert json.loads(out)["outputs"] == [{"format": "pem", "path": "fs/ca.pem"}]
    code, _, err = run(runner, "build", "--at", AT)
    assert code == 0, err
    assert (in_tmp / "fs" / "ca.pem").is_file() and not (in_tmp / "ca.pem").exists()


def test_json_and_other_output_path(runner: CliRunner, in_tmp: Path) -> None:
    code, out, err = run(
        runner, "init", "--board", "esp-idf-bundle", "--target", "[2001:db8::1]:8883",
        "--yes", "--at", AT, "-o", "fleet/cabundle.yaml", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["path"] == "fleet/cabundle.yaml" and doc["board"] == "esp-idf-bundle"
    # The board means ESP-IDF 5.4 by default, whose bundle runs on mbedTLS 3.6.
    assert doc["targets"] == ["[2001:db8::1]:8883"] and doc["device"] == "idf5-bundle"
    assert doc["outputs"] == [{"format": "idf-bundle", "path": "x509_crt_bundle.bin"}]
    assert doc["service_until"] == "2031-11-27" and doc["warnings"] == []
    cfg = load_config(in_tmp / "fleet" / "cabundle.yaml")
    assert cfg.outputs[0].path == in_tmp / "fleet" / "x509_crt_bundle.bin"
    (t,) = cfg.section("targets")
    assert (t.host, t.port) == ("2001:db8::1", 8883)


# --- library --------------------------------------------------------------------------


def test_render_is_deterministic_and_yaml_with_short_lines() -> None:
    until = parse_service_life("5", today=TODAY)
    choices = InitChoices(
        load_board("mongoose-os-esp32"), ("default",), (("mdash.net", 443),), until
    )
    a, _ = render_config(choices, today=TODAY)
    b, _ = render_config(choices, today=TODAY)
    assert a == b
    doc = yaml.safe_load(a)
    assert set(doc) == {"preset", "service_until", "device", "board", "targets", "outputs"}
    assert doc["board"] == "mongoose-os-esp32"  # no version given: none written
    assert max(len(line) for line in a.splitlines()) < 100


def test_parse_service_life() -> None:
    assert parse_service_life("10", today=TODAY) == datetime(2036, 11, 27, tzinfo=timezone.utc)
    leap = datetime(2028, 2, 29, 15, 30, tzinfo=timezone.utc)
    assert parse_service_life("1", today=leap) == datetime(2029, 2, 28, tzinfo=timezone.utc)
    assert parse_service_life("2030-06-30", today=TODAY).date().isoformat() == "2030-06-30"
    for bad in ("51", "0", "2026-11-27", "soon", "-3"):
        with pytest.raises(InputError):
            parse_service_life(bad, today=TODAY)


def test_parse_target() -> None:
    assert parse_target("mdash.net") == ("mdash.net", 443)
    assert parse_target("https://mdash.net/x") == ("mdash.net", 443)
    assert parse_target("10.0.0.7:8883") == ("10.0.0.7", 8883)
    assert parse_target("[::1]:443") == ("::1", 443)
    for bad in ("", "a b", "-bad.example", "host:0", "1.2.3.4.5", "x" * 300):
        with pytest.raises(InputError):
            parse_target(bad)


def test_board_device_names_the_registry_profile() -> None:
    assert board_device(load_board("mdash")) == "mbedtls-clock"
    assert board_device(load_board("esp-idf-bundle-cross-signed")) == "idf-bundle-cross-signed"
    assert board_device(load_board("mongoose-os-esp32")) == "mbedtls-noclock"


@pytest.mark.parametrize(
    ("args", "said", "hint"),
    [
        (["--service-until", "2031-02-30"], "no day 30",
         "e.g. esp-cabundle init --at 2026-11-27 --service-until 2031-02-28"),
        (["--service-until", "notadate"], "bad service end date 'notadate'",
         "e.g. esp-cabundle init --at 2026-11-27 --service-until 2031-11-27"),
        (["--service-until", "2025-01-01"], "not after today", "a number of years"),
        # the line typed, the bad target given one that parses (the hint was "e.g. mdash.net")
        (["--target", "no such host"], "bad target 'no such host'",
         "give HOST or HOST:PORT; e.g. esp-cabundle init --at 2026-11-27 --target mdash.net\n"),
        (["--target", "mqtt.example .com:8883"], "bad target",
         "e.g. esp-cabundle init --at 2026-11-27 --target mqtt.example.com:8883\n"),
        (["--target=mdash.net", "--target=bad host!", "-o", "c.yaml"], "bad target 'bad host!'",
         "e.g. esp-cabundle init --at 2026-11-27 --target=mdash.net"
         " --target=mqtt.example.com:8883 -o c.yaml\n"),
        (["--preset", "defualt"], "unknown preset", "did you mean 'default'"),
        (["--service-years", "3", "--service-until", "2031-01-01"], "not both",
         "e.g. esp-cabundle init --at 2026-11-27 --service-until 2031-01-01"),
    ],
)  # fmt: skip
def test_values_given_are_refused_before_any_question(
    runner: CliRunner, in_tmp: Path, args: list[str], said: str, hint: str
) -> None:
    """``init --service-until BADDATE`` asked for the board and the servers first, and
    refused the date only then: every value given is checked before the first question,
    and a bad date gets the line with one that parses."""
    code, out, err = run(runner, "init", "--at", AT, *args, input="none\n\n5\ndefault\n")
    assert code == 2 and said in err and hint in err, err
    assert "Board" not in err + out and "Servers" not in err + out, err
    assert list(in_tmp.iterdir()) == []


def test_init_judges_its_file_with_builds_gate(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever build's gate refuses in the file is said, not only expiring roots."""
    import esp_cabundle.gate as gate
    from esp_cabundle.errors import PolicyError

    seen = []

    def refuse(source: object, **kw: object) -> None:
        seen.append(kw["check_targets"])
        raise PolicyError("refused", violations=("ca.pem is 99 bytes over max_bytes",))

    monkeypatch.setattr(gate, "gate_ca", refuse)
    code, _, err = run(runner, "init", "--yes", "--at", AT)
    assert code == 0 and seen == [False], err
    said = " ".join(err.split())
    assert "warning: ca.pem is 99 bytes over max_bytes (build refuses it" in said
    assert "cabundle.yaml does not build as written; change what the warnings above name" in said
