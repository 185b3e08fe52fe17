"""Pins esp-cabundle's clock in child processes started by the example and README tests.

Python imports ``sitecustomize`` at start-up from the first directory on ``sys.path``
that has one; those tests put this directory on ``PYTHONPATH`` and set
``ESP_CABUNDLE_TEST_TODAY=YYYY-MM-DD``, so ``esp-cabundle`` run by make, CMake or a
PlatformIO hook judges roots and chains as of that day, whatever day the tests run.
"""

import os

_today = os.environ.get("ESP_CABUNDLE_TEST_TODAY")
if _today:
    from datetime import datetime, timezone

    import esp_cabundle.dates as _dates

    _when = datetime.fromisoformat(_today).replace(tzinfo=timezone.utc)
    _dates.now = lambda: _when
