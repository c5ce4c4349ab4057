"""`python -m vaultapi …` is the `vaultapi` command."""

from vaultapi.cli import app

app()
