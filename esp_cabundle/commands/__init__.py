"""One module per CLI command, imported only when that command runs (``cli.COMMANDS``).

Options more than one command takes are declared once, in :mod:`.options` (and the CA
flags of the write commands in :mod:`.ca_source`).
"""
