"""Every table of the schema, imported in one place so that `metadata` is
complete for Alembic's autogenerate and for the model/migration agreement test.

ORM models are never response models: the API answers with `vaultapi.schemas`.
Domain tables arrive with their issues (accounts, vault, second factors, …).
"""

from vaultapi.db.base import metadata

__all__ = ["metadata"]
