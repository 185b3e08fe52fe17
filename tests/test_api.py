"""The package's public surface: every name in ``__all__`` resolves, lazily."""

from __future__ import annotations

import subprocess
import sys


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
