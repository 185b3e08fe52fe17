"""An output on a descriptor is judged by the file it has open, not by its spelling:
``build --root x.pem -o - >> x.pem`` appended the bundle to its own root file, while
``-o /dev/stdout`` was refused. Every spelling of standard output (and ``/dev/fd/N``)
is refused the same way when it leads to an input; each refusal is exit 2, and the
file is left as it was. Outputs through one descriptor (or descriptors appending) are
written one after another; two opened apart on one file, or one named by its own path
over such a file, are refused."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from esp_cabundle.clobber import refuse_clobbering
from esp_cabundle.errors import InputError

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)"
)

X1 = Path(__file__).parent / "data" / "letsencrypt" / "isrgrootx1.pem"


def _shell(cwd: Path, *args: str, redirect: str) -> subprocess.CompletedProcess[bytes]:
    line = f"{shlex.join([sys.executable, '-m', 'esp_cabundle', *args])} {redirect}"
    return subprocess.run(["sh", "-c", line], cwd=cwd, capture_output=True, timeout=120)


@pytest.mark.parametrize("spelling", ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_stdout_appended_to_an_input_is_refused_by_every_spelling(
    tmp_path: Path, spelling: str
) -> None:
    root = tmp_path / "x.pem"
    root.write_bytes(X1.read_bytes())
    args = ["build", "--no-lock", "--no-check", "--root", "x.pem", "-o", spelling]
    r = _shell(tmp_path, *args, redirect=">> x.pem")
    err = " ".join(r.stderr.decode().split())
    assert r.returncode == 2, err
    assert (
        f"the pem output {spelling} would be written into the root file {root}, which "
        "standard output leads to; nothing written"
    ) in err
    assert "send standard output to another file" in err
    assert root.read_bytes() == X1.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["x.pem"]


def test_another_descriptor_leading_to_an_input_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "x.pem"
    root.write_bytes(X1.read_bytes())
    args = ["build", "--no-lock", "--no-check", "--root", "x.pem", "-o", "/dev/fd/3"]
    r = _shell(tmp_path, *args, redirect="3>> x.pem")
    err = " ".join(r.stderr.decode().split())
    assert r.returncode == 2, err
    assert "which file descriptor 3 leads to; nothing written" in err
    assert root.read_bytes() == X1.read_bytes()


def test_stdout_elsewhere_is_written(tmp_path: Path) -> None:
    """The same build with standard output on another file goes ahead, each spelling."""
    (tmp_path / "x.pem").write_bytes(X1.read_bytes())
    for spelling in ("-", "/dev/stdout"):
        args = ["build", "--no-lock", "--no-check", "-q", "--root", "x.pem", "-o", spelling]
        r = _shell(tmp_path, *args, redirect="> out.pem")
        assert r.returncode == 0, r.stderr.decode()
        assert b"-----BEGIN CERTIFICATE-----" in (tmp_path / "out.pem").read_bytes()


def _open(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    return os.open(path, flags | os.O_CREAT, 0o644)


def test_descriptor_outputs_to_one_file_follow_each_other(tmp_path: Path) -> None:
    """Two outputs through descriptors on one file are written in turn (as two ``-``
    outputs always were): neither replaces the other."""
    fd = _open(tmp_path / "all.pem")
    try:
        spelled = Path(f"/dev/fd/{fd}")
        refuse_clobbering([("pem output", spelled), ("c output", spelled)])
    finally:
        os.close(fd)


@pytest.mark.parametrize("appended", [True, False])
def test_two_descriptors_opened_apart_on_one_file(tmp_path: Path, appended: bool) -> None:
    """``> all.pem 3> all.pem``: two opens, each at offset 0, the second write over the
    first; refused. ``>> all.pem 3>> all.pem``: both append, in turn; allowed."""
    flags = os.O_WRONLY | (os.O_APPEND if appended else os.O_TRUNC)
    one, two = _open(tmp_path / "all.pem", flags), _open(tmp_path / "all.pem", flags)
    try:
        outputs = [("pem output", Path(f"/dev/fd/{one}")), ("c output", Path(f"/dev/fd/{two}"))]
        if appended:
            refuse_clobbering(outputs)
            return
        with pytest.raises(InputError) as e:
            refuse_clobbering(outputs)
        assert e.value.exit_code == 2
        assert str(e.value.message).startswith(f"the c output /dev/fd/{two} would be written")
        assert f"file descriptor {two} and file descriptor {one} lead to one file" in str(e.value)
        assert "'>>'" in (e.value.hint or "")
    finally:
        os.close(one)
        os.close(two)
    assert (tmp_path / "all.pem").read_bytes() == b""  # nothing written


@pytest.mark.parametrize("descriptor_first", [True, False])
def test_an_output_by_name_over_a_descriptors_file_is_refused(
    tmp_path: Path, descriptor_first: bool
) -> None:
    """Renamed over, the file the descriptor has open would be gone by the time it is
    written through: the descriptor's output lost."""
    target = tmp_path / "ca.der"
    target.write_bytes(b"old")
    fd = _open(target)
    try:
        outs = [("pem output", Path(f"/dev/fd/{fd}")), ("der output", target)]
        with pytest.raises(InputError, match="nothing written"):
            refuse_clobbering(outs if descriptor_first else outs[::-1])
    finally:
        os.close(fd)
    assert target.read_bytes() == b"old"


def test_a_descriptor_on_a_pipe_replaces_nothing(tmp_path: Path) -> None:
    r, w = os.pipe()
    try:
        refuse_clobbering([("pem output", Path(f"/dev/fd/{w}"))], [("root file", X1)])
    finally:
        os.close(r)
        os.close(w)
