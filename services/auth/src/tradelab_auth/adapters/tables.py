"""Tables of the auth service, all inside its own PostgreSQL schema."""

from sqlalchemy import MetaData

SCHEMA = "auth"

metadata = MetaData(schema=SCHEMA)
