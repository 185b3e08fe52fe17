"""Reading and writing units' flash: serial units (esptool) and flash dump files."""
