"""Persistence: engine, models, repositories, migrations glue."""
