"""``python -m esp_cabundle``."""

from ._entry import main

main()
