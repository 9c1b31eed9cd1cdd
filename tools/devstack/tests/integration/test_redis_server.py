"""The dev stack's Redis: REDIS_URL when set, else the local one, else a server of its own."""

from pathlib import Path

import pytest
import redis

from tradelab_devstack.redis import RedisProcess, answers, redis_server

pytestmark = pytest.mark.integration


def test_own_server_answers_keeps_nothing_on_disk_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADELAB_STATE_DIR", str(tmp_path))
    process = RedisProcess(log_path=tmp_path / "redis.log")
    server = process.start()
    try:
        assert answers(server.url)
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client.close()
        assert (tmp_path / "pids" / "redis.pid").exists()
    finally:
        process.stop()
    assert not answers(server.url)
    assert not (tmp_path / "pids" / "redis.pid").exists()


def test_redis_url_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6399/3")
    with redis_server() as server:
        assert (server.url, server.source) == ("redis://127.0.0.1:6399/3", "REDIS_URL")
