"""The one exception the domain raises for input it refuses."""

from __future__ import annotations

from tradelab_contracts.datasets import DatasetRejectReason

# DatasetRejected.message allows 2048 characters; messages quote file content (column names,
# cell values), which an upload can make arbitrarily long.
MAX_MESSAGE_CHARS = 1000


class IngestError(Exception):
    """An uploaded file was rejected; carries a machine-readable reason and a human message.

    Parameters
    ----------
    reason
        Reason code from the contract, published as ``DatasetRejected.reason_code``.
    message
        Explanation for the uploader: what is wrong and, where possible, where (row, value).
        Cut to `MAX_MESSAGE_CHARS`.
    """

    def __init__(self, reason: DatasetRejectReason, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
