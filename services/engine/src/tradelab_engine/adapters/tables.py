"""Tables of the engine service, all inside its own PostgreSQL schema."""

from sqlalchemy import MetaData

SCHEMA = "engine"

metadata = MetaData(schema=SCHEMA)
