"""Receiving a multipart upload at the HTTP edge: its size bounds and refusals as problems.

The dataset upload and the quick backtest take the same form (one ``file`` part, a few fields)
under different limits; both refuse it the same way.
"""

from pathlib import Path

from fastapi import Request

from tradelab_gateway.adapters.upload import (
    MalformedUploadError,
    ReceivedFile,
    UploadTooLargeError,
    receive_upload,
)
from tradelab_gateway.api.problems import ProblemError

MULTIPART_OVERHEAD = 1024 * 1024
"""Bytes a declared ``Content-Length`` may hold on top of the file (boundaries, part headers,
form fields) before the body is refused unread."""


def too_large(detail: str) -> ProblemError:
    """The 413 ``too_large`` problem of an upload past its limit."""
    return ProblemError(413, detail, code="too_large")


def declared_length(request: Request, limit: int, detail: str) -> int:
    """Return the body's declared size (0 if unsaid); 413 when it cannot hold a file of
    ``limit`` bytes."""
    length = int(request.headers.get("content-length") or 0)
    if length > limit + MULTIPART_OVERHEAD:
        raise too_large(detail)
    return length


async def receive_form(
    request: Request, scratch: Path, limit: int, detail: str
) -> tuple[dict[str, str], ReceivedFile]:
    """Stream the form's file into ``scratch`` and return its fields and the file.

    413 ``too_large`` (``detail``) past ``limit`` bytes, 400 ``malformed_upload`` for a body
    that is not the form, 422 when it has no ``file`` part.
    """
    try:
        fields, received = await receive_upload(
            request.headers.get("content-type", ""), request.stream(), scratch, limit
        )
    except UploadTooLargeError as exc:
        raise too_large(detail) from exc
    except MalformedUploadError as exc:
        raise ProblemError(400, str(exc), code="malformed_upload") from exc
    if received is None:
        raise ProblemError(422, "A 'file' part is required.", code="validation_error")
    return fields, received
