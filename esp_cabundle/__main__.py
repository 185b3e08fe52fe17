"""``python -m esp_cabundle``."""

from .cli import main

main()
