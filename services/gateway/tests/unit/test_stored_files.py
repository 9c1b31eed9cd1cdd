"""Files of the object store read for a route while their owner deletes them: a 404, never a
500, and a download that started completes."""

import json
from pathlib import Path

import pytest

from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.stored import CHUNK_BYTES, read_stored, stored_file


async def body_of(response: object) -> bytes:
    iterator = response.body_iterator  # type: ignore[attr-defined]
    return b"".join([chunk async for chunk in iterator])


@pytest.mark.asyncio
async def test_a_file_deleted_before_it_is_read_answers_not_found(tmp_path: Path) -> None:
    gone = tmp_path / "charts.json"

    with pytest.raises(ProblemError) as raised:
        await read_stored(lambda p: json.loads(p.read_text()), gone)
    assert (raised.value.status, raised.value.code) == (404, "not_found")

    with pytest.raises(ProblemError) as raised:
        await stored_file(gone, "application/json")
    assert raised.value.status == 404


@pytest.mark.asyncio
async def test_a_download_deleted_while_it_streams_completes(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    content = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)  # several chunks
    path.write_bytes(content)

    response = await stored_file(path, "application/vnd.apache.parquet", filename="prices.parquet")
    path.unlink()  # deleted after the answer started

    assert await body_of(response) == content
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-disposition"] == 'attachment; filename="prices.parquet"'


@pytest.mark.asyncio
async def test_names_outside_ascii_are_sent_encoded(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<html></html>")

    response = await stored_file(path, "text/html", filename='Dax "Q1" €.html', inline=True)

    assert response.headers["content-disposition"] == (
        "inline; filename*=utf-8''Dax%20%22Q1%22%20%E2%82%AC.html"
    )
    assert await body_of(response) == b"<html></html>"
