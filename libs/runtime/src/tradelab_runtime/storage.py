"""The object store of the data plane: raw uploads, normalised Parquet, result files.

Kafka events carry ``file://`` URIs, never the bytes. The local store keeps files under one root
directory (``OBJECT_STORE_URL=file:///var/lib/tradelab/objects``); writes go to a temporary file
in the same directory and are renamed into place, so a reader never sees half a file and a crash
leaves no partial object behind. Every path is checked to stay inside the root.
"""

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse


class LocalObjectStore:
    """Objects as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_url(cls, url: str) -> "LocalObjectStore":
        """Open the store named by ``file:///abs/path`` or ``file://relative/path``."""
        parsed = urlparse(url)
        if parsed.scheme != "file":
            msg = f"unsupported object store {url!r}: only file:// is implemented"
            raise ValueError(msg)
        return cls(Path(unquote(parsed.netloc + parsed.path)))

    def uri(self, key: str) -> str:
        """Return the URI of ``key``."""
        return self._path(key).as_uri()

    def path(self, uri: str) -> Path:
        """Return the local path of an object URI, refusing anything outside the root."""
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            msg = f"not a file:// URI: {uri!r}"
            raise ValueError(msg)
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            msg = f"URI outside the object store: {uri!r}"
            raise ValueError(msg)
        return path

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            msg = f"invalid object key {key!r}"
            raise ValueError(msg)
        return path

    def put_file(self, key: str, source: Path) -> str:
        """Move (or copy across file systems) a finished file into the store; return its URI."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        os.close(fd)
        try:
            shutil.move(source, tmp_name)
            Path(tmp_name).replace(target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target.as_uri()

    def delete(self, uri: str) -> None:
        """Remove an object (a missing one is fine: deletes are retried)."""
        self.path(uri).unlink(missing_ok=True)

    def delete_tree(self, prefix: str, keep: frozenset[str] = frozenset()) -> int:
        """Remove every object under ``prefix`` except the URIs in ``keep``; return how many.

        What a job's earlier attempts wrote before they died is removed this way once the job's
        own files are recorded, so no orphan is left behind.
        """
        root = self._path(prefix)
        if not root.is_dir():
            return 0
        kept = {self.path(uri) for uri in keep}
        removed = 0
        for path in sorted(root.rglob("*"), reverse=True):  # files before their directories
            if path in kept:
                continue
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                path.unlink(missing_ok=True)
                removed += 1
        if not any(root.iterdir()):
            root.rmdir()
        return removed

    def scratch_dir(self) -> Path:
        """A directory for temporary files on the store's file system (cheap final rename)."""
        scratch = self.root / ".scratch"
        scratch.mkdir(exist_ok=True)
        return scratch
