"""Test-support code: certificate minting, virtual units, TLS servers."""
