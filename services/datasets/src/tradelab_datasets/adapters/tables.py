"""Tables of the datasets service, all inside its own PostgreSQL schema."""

from sqlalchemy import MetaData

SCHEMA = "datasets"

metadata = MetaData(schema=SCHEMA)
