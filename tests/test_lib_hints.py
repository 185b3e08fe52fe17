"""A library error's hint names the knob its caller has: a script is told of the Python
parameter (``locked=True``, ``profile=``), never of a CLI flag it cannot pass; the CLI,
passing its CLI_SPELLING, keeps its texts word for word (the second half)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.build import build_bundle, write_build
from esp_cabundle.bundle import BundleSpec, Policy, resolve_bundle
from esp_cabundle.catalog import Catalog
from esp_cabundle.errors import EspCabundleError, InputError, LockMismatchError, PolicyError
from esp_cabundle.formats import render
from esp_cabundle.gate import CaSource, gate_ca
from esp_cabundle.images import image_spec, pack_ca
from esp_cabundle.lockfile import Lock
from tests.support.gate_cases import X1_PEM, cases

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
LE = BundleSpec(presets=("letsencrypt",))
# Every flag one of these hints named before it spoke the caller's terms.
FLAGS = ("--allow", "--service-until", "--preset", "--root", "--locked", "--no-lock")
FLAGS += ("--profile", "--ca-path", "esp-cabundle")


def _hint(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The error's hint, checked to name no CLI flag anywhere in what the caller sees."""
    said = str(e.value)
    assert not [f for f in FLAGS if f in said], said
    return e.value.hint or ""


def _idf_bundle() -> bytes:
    return render("idf-bundle", resolve_bundle(LE, Catalog.load()).bundle)


# --- library: the Python parameter ---------------------------------------------------


def test_a_policy_hint_names_policy_allow() -> None:
    with pytest.raises(PolicyError) as e:
        gate_ca(CaSource.finished("old.pem", cases()["dst-only-expired"].data), at=AT)
    assert _hint(e) == "fix the selection, or relax a rule with Policy(allow=...) naming expired"


def test_a_misspelt_policy_to_allow_says_the_close_name() -> None:
    """Policy(allow=("expird",)) said the valid names but not the one meant, which the
    CLI's --allow mends in its example."""
    with pytest.raises(InputError, match="unknown policy to allow: expird") as e:
        Policy(allow=frozenset({"expird"}))
    hint = _hint(e)
    assert hint.startswith("did you mean 'expired'? policies: expired, ")
    with pytest.raises(InputError) as far:
        Policy(allow=frozenset({"zzz"}))
    assert _hint(far).startswith("policies: expired, ")


def test_an_idf_bundle_given_as_the_ca_file_hints_at_bundlespec() -> None:
    with pytest.raises(InputError) as e:
        gate_ca(CaSource.finished("x509_crt_bundle.bin", _idf_bundle()), at=AT)
    assert "build one with BundleSpec(presets=..., roots=...)" in _hint(e)


def test_a_past_end_of_service_hints_at_policy_service_until() -> None:
    spec = BundleSpec(presets=("letsencrypt",), policy=Policy(service_until=datetime(2020, 1, 1)))
    with pytest.raises(InputError, match="end of service 2020-01-01") as e:
        gate_ca(CaSource.build(spec), at=AT)
    assert "(Policy(service_until=...), or service_until: in cabundle.yaml)" in _hint(e)


def test_locked_without_a_lock_says_locked_true(tmp_path: Path) -> None:
    lock = tmp_path / "cabundle.lock"
    with pytest.raises(InputError) as e:
        build_bundle(LE, (), at=AT, lock_path=lock, locked=True)
    assert e.value.message.startswith("locked=True needs a lock file")
    assert _hint(e) == (
        "build (build_bundle, write_build) without locked=True to write cabundle.lock, "
        "then commit it"
    )
    assert not lock.exists()


def test_a_corrupt_or_stale_lock_hints_at_locked_true(tmp_path: Path) -> None:
    lock = tmp_path / "cabundle.lock"
    lock.write_bytes(b"[]")
    with pytest.raises(InputError, match="corrupt lock file") as e:
        build_bundle(LE, (), at=AT, lock_path=lock, locked=True)
    assert "without locked=True to write it again" in _hint(e)
    other = resolve_bundle(BundleSpec(presets=("default",)), Catalog.load()).bundle
    lock.write_bytes(Lock.from_bundle(other).to_bytes())
    with pytest.raises(LockMismatchError) as mismatch:
        build_bundle(LE, (), at=AT, lock_path=lock, locked=True)
    assert "without locked=True to update the lock" in _hint(mismatch)
    assert lock.read_bytes() == Lock.from_bundle(other).to_bytes()


def test_a_lock_path_that_is_no_file_hints_at_lock_path_none(tmp_path: Path) -> None:
    lock = tmp_path / "cabundle.lock"
    lock.mkdir()
    with pytest.raises(InputError) as e:
        build_bundle(LE, (), at=AT, lock_path=lock)
    assert "(or build with lock_path=None)" in _hint(e)
    lock.rmdir()
    result = build_bundle(LE, (), at=AT, lock_path=lock)
    lock.mkdir()  # made between the build and the write
    with pytest.raises(InputError) as late:
        write_build(result)
    assert "(or build with lock_path=None)" in _hint(late)
    assert list(lock.iterdir()) == []


def test_an_image_without_a_profile_hints_at_profile() -> None:
    with pytest.raises(InputError, match="the image needs a profile") as e:
        image_spec(fs_type="spiffs", size=0x160000)
    assert "give the profile (profile=; 'profile:' in cabundle.yaml)" in _hint(e)
    with pytest.raises(InputError, match="picks a LittleFS profile only") as platform:
        image_spec(fs_type="spiffs", size=0x160000, platform="esp-idf-5.1")
    assert _hint(platform).startswith("give profile= (e.g. esp-idf;")


def test_a_file_over_the_ca_is_refused_without_moving_the_ca() -> None:
    """Moving the CA off the path the firmware reads was the old hint (tryout item 1)."""
    ca = gate_ca(CaSource.finished("ca.pem", X1_PEM), at=AT)
    with pytest.raises(InputError, match="would replace the bundle") as e:
        pack_ca(
            ca,
            fs_type="spiffs",
            profile="esp-idf",
            size=0x160000,
            ca_path="/certs/ca.pem",
            files=[("/certs/ca.pem", b"mine")],
        )
    assert _hint(e).startswith("remove /certs/ca.pem from the files")  # no directory named
    assert "ca_path" not in _hint(e) and "elsewhere" not in _hint(e)


# --- CLI: the flags, word for word ---------------------------------------------------


def _cli(runner: CliRunner, *args: str) -> tuple[int, str]:
    from esp_cabundle.cli import cli  # deferred: the library half never loads the CLI

    r = runner.invoke(cli, list(args))
    return r.exit_code, r.stderr


def test_the_cli_keeps_its_flags_in_the_build_hints(in_tmp: Path, runner: CliRunner) -> None:
    code, err = _cli(runner, "build", "--preset", "letsencrypt", "--locked")
    assert code == 2 and "--locked needs a lock file, and" in err
    assert (
        "hint: run 'esp-cabundle build --preset letsencrypt' without --locked to write "
        "cabundle.lock, then commit it" in err
    )
    (in_tmp / "cabundle.lock").write_bytes(b"[]")
    code, err = _cli(runner, "build", "--preset", "letsencrypt", "--locked")
    hint = "hint: run 'esp-cabundle build --preset letsencrypt' without --locked to "
    assert hint + "write it again; review" in err
    other = resolve_bundle(BundleSpec(presets=("default",)), Catalog.load()).bundle
    (in_tmp / "cabundle.lock").write_bytes(Lock.from_bundle(other).to_bytes())
    code, err = _cli(runner, "build", "--preset", "letsencrypt", "--locked")
    assert code == 1
    assert hint + "update the lock; review" in err
    (in_tmp / "cabundle.lock").unlink()
    (in_tmp / "cabundle.lock").mkdir()
    code, err = _cli(runner, "build", "--preset", "letsencrypt")
    assert code == 2 and "move this away (or build with --no-lock)" in err
    (in_tmp / "cabundle.lock").rmdir()
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\nservice_until: 2020-01-01\n")
    code, err = _cli(runner, "build", "--at", "2026-06-01")
    assert code == 2
    assert "(--service-until, or service_until: in cabundle.yaml), or leave it out" in err
    assert not (in_tmp / "ca.pem").exists() and not (in_tmp / "cabundle.lock").exists()


def test_the_cli_keeps_its_flags_in_the_gate_and_pack_hints(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "old.pem").write_bytes(cases()["dst-only-expired"].data)
    pack = ("pack", "--fs", "spiffs", "--size", "1408K", "-o", "out.bin", "--at", "2026-06-01")
    code, err = _cli(runner, *pack, "--profile", "esp-idf", "--bundle", "old.pem")
    assert code == 1 and "hint: fix the selection, or relax a rule with --allow expired" in err
    (in_tmp / "x509_crt_bundle.bin").write_bytes(_idf_bundle())
    code, err = _cli(runner, *pack, "--profile", "esp-idf", "--bundle", "x509_crt_bundle.bin")
    assert code == 2 and "build one with --preset/--root" in err
    code, err = _cli(runner, *pack, "--bundle", "old.pem")
    assert "hint: give the profile (--profile; 'profile:' in cabundle.yaml), e.g. esp-idf" in err
    code, err = _cli(runner, *pack, "--platform", "esp-idf-5.1", "--bundle", "old.pem")
    assert "hint: give --profile (e.g. esp-idf; 'profile:' in cabundle.yaml)" in err
    assert not (in_tmp / "out.bin").exists()


@pytest.mark.parametrize(
    ("config", "typed"),
    [
        # a config named with -c, from another directory: 'esp-cabundle build' read none
        ("fw/cabundle.yaml", ["-c", "fw/cabundle.yaml", "-q"]),
        # a selection that overrides the config's: the lock is written only with --lock
        ("cabundle.yaml", ["--preset", "letsencrypt", "-q", "--dry-run"]),
        # no config: 'esp-cabundle build' wrote the default preset's lock
        (None, ["--preset", "letsencrypt", "-q"]),
    ],
)
def test_a_locked_builds_hint_is_a_line_that_mends_its_lock(
    in_tmp: Path, runner: CliRunner, config: str | None, typed: list[str]
) -> None:
    """``build -c fw/cabundle.yaml --locked`` on a drifted lock said "run 'esp-cabundle
    build' without --locked": pasted, that built ./cabundle.yaml or the default preset
    (another lock), and the locked build failed again. Now the line typed, without
    --locked (and --dry-run), which rewrites the lock that line pins."""
    import shlex

    if config is not None:
        (in_tmp / config).parent.mkdir(parents=True, exist_ok=True)
        (in_tmp / config).write_text("preset: default\n")
    lock = in_tmp / Path(config or "cabundle.yaml").parent / "cabundle.lock"
    other = resolve_bundle(BundleSpec(presets=("aws-iot",)), Catalog.load()).bundle
    lock.write_bytes(Lock.from_bundle(other).to_bytes())
    code, err = _cli(runner, "build", "--locked", *typed)
    assert code == 1 and "the resolved roots differ from" in err, err
    line = err.partition("hint: run '")[2].partition("' without --locked")[0]
    words = shlex.split(line)
    assert words[:2] == ["esp-cabundle", "build"] and "--locked" not in words, err
    assert "--dry-run" not in words, err
    assert _cli(runner, *words[1:])[0] == 0
    assert _cli(runner, "build", "--locked", *typed)[0] == 0, "the hint's line mends the lock"
