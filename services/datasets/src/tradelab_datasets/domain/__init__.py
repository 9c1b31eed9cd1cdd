"""Pure dataset logic: sniff, read, normalise, assess and fingerprint market data.

Nothing here talks to the network, a database or a framework; files are touched only through
paths handed in by the caller.
"""

from tradelab_datasets.domain.errors import IngestError
from tradelab_datasets.domain.ingest import IngestResult, ingest_file
from tradelab_datasets.domain.quality import QualityComponent, QualityReport
from tradelab_datasets.domain.storage_format import content_sha256, write_parquet

__all__ = [
    "IngestError",
    "IngestResult",
    "QualityComponent",
    "QualityReport",
    "content_sha256",
    "ingest_file",
    "write_parquet",
]
