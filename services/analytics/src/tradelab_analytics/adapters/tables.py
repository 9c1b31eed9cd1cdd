"""Tables of the analytics service, all inside its own PostgreSQL schema."""

from sqlalchemy import MetaData

SCHEMA = "analytics"

metadata = MetaData(schema=SCHEMA)
