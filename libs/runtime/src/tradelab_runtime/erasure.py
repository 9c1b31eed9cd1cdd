"""Erasing what a service keeps in the object store when its owner deletes it (cascades)."""

import contextlib
import shutil
from pathlib import Path

from .storage import LocalObjectStore


def remove_prefix(store: LocalObjectStore, prefix: str, keep: frozenset[str] = frozenset()) -> int:
    """Remove every object under ``prefix`` but the URIs in ``keep``, and the folders this leaves
    empty (above it too); return how many files went.

    Nothing there is fine: an erasure is retried and redelivered, so it must be idempotent.
    """
    root = store.path(store.uri(prefix))
    if not root.exists():
        return 0
    if not keep:
        removed = sum(1 for path in root.rglob("*") if path.is_file())
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(root)
    else:
        kept = {store.path(uri) for uri in keep}
        removed = 0
        for path in sorted(root.rglob("*"), reverse=True):  # files before their folders
            if path.is_dir():
                _remove_if_empty(path)
            elif path not in kept:
                path.unlink(missing_ok=True)
                removed += 1
        _remove_if_empty(root)
    parent = root.parent
    while parent != store.root and parent.is_relative_to(store.root) and _remove_if_empty(parent):
        parent = parent.parent
    return removed


def _remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()  # only if empty: a folder another writer just filled stays
    except OSError:
        return False
    return True
