"""The request/reply responder as pure logic: fake requests, fake handlers, a fake publisher."""

import asyncio
import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID, uuid4

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from tradelab_contracts.topics import reply_topic
from tradelab_runtime.logging import configure_logging
from tradelab_runtime.responder import (
    HEADROOM_BYTES,
    Responder,
    Routes,
    json_bytes,
    merge_handlers,
)

REPLY = reply_topic("unit")


class Fake(BaseModel):
    model_config = ConfigDict(frozen=True)
    message_id: UUID = Field(default_factory=uuid4)
    reply_to: str = REPLY
    deadline: AwareDatetime | None = None


class Ping(Fake):
    kind: Literal["ping"] = "ping"


class Echo(Fake):
    kind: Literal["echo"] = "echo"
    text: str


class Slow(Fake):
    kind: Literal["slow"] = "slow"


FakeRequest: TypeAlias = Annotated[Ping | Echo | Slow, Field(discriminator="kind")]
ADAPTER: TypeAdapter[FakeRequest] = TypeAdapter(FakeRequest)


class Answer(BaseModel):
    request_id: UUID
    text: str


def internal(cmd: Fake) -> Answer:
    return Answer(request_id=cmd.message_id, text="internal")


def too_large(cmd: Fake, message: str) -> Answer:
    return Answer(request_id=cmd.message_id, text=f"reply_too_large: {message}")


class Service:
    """Handlers with knobs: a failure to raise, a gate slow requests wait on."""

    def __init__(self) -> None:
        self.fail_with: Exception | None = None
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.entered: asyncio.Queue[Slow] = asyncio.Queue()

    async def ping(self, cmd: Ping) -> Answer:
        if self.fail_with is not None:
            raise self.fail_with
        return Answer(request_id=cmd.message_id, text="pong")

    async def echo(self, cmd: Echo) -> Answer:
        return Answer(request_id=cmd.message_id, text=cmd.text)

    async def slow(self, cmd: Slow) -> Answer:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.entered.put_nowait(cmd)
        await self.gate.wait()
        self.in_flight -= 1
        return Answer(request_id=cmd.message_id, text="slow")


class Wiring:
    """A responder over `Service` whose replies land in ``published``."""

    def __init__(
        self,
        concurrency: int = 1,
        background: frozenset[type] = frozenset(),
        max_message_bytes: int = 1024 * 1024,
        **responder_options: Any,
    ) -> None:
        self.service = Service()
        self.published: list[tuple[Answer, str, bytes]] = []
        self.sizes: list[int] = []
        routes = Routes(
            adapter=ADAPTER,
            handlers={Ping: self.service.ping, Echo: self.service.echo, Slow: self.service.slow},
            internal_error=internal,
            too_large=too_large,
            background=background,
        )
        self.responder = Responder(
            routes, self.publish, concurrency, max_message_bytes, **responder_options
        )

    async def publish(self, body: bytes, topic: str, key: bytes) -> None:
        self.sizes.append(len(body))
        self.published.append((Answer.model_validate_json(body), topic, key))

    async def send(self, cmd: Fake) -> None:
        await self.responder.receive(cmd.model_dump_json().encode())

    def texts(self) -> list[str]:
        return [reply.text for reply, _, _ in self.published]


@pytest.fixture
def structured_logs() -> Iterator[None]:
    # Route structlog through the standard library so caplog sees the responder's records.
    configure_logging("unit", "json", "INFO")
    yield
    logging.getLogger().handlers.clear()


@pytest.mark.asyncio
async def test_each_request_goes_to_the_handler_of_its_type_and_back_to_its_reply_topic() -> None:
    wiring = Wiring()
    ping, echo = Ping(), Echo(text="hello")
    await wiring.send(ping)
    await wiring.send(echo)
    assert wiring.published == [
        (Answer(request_id=ping.message_id, text="pong"), REPLY, ping.message_id.bytes),
        (Answer(request_id=echo.message_id, text="hello"), REPLY, echo.message_id.bytes),
    ]


@pytest.mark.asyncio
@pytest.mark.usefixtures("structured_logs")
async def test_a_failing_handler_is_answered_internal_logged_with_its_kind_and_the_next_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring()
    wiring.service.fail_with = RuntimeError("database unreachable")
    await wiring.send(Ping())
    wiring.service.fail_with = None
    await wiring.send(Ping())
    assert wiring.texts() == ["internal", "pong"]
    assert "request failed" in caplog.text
    assert "'kind': 'ping'" in caplog.text


@pytest.mark.asyncio
@pytest.mark.usefixtures("structured_logs")
async def test_unreadable_requests_are_dropped_with_a_warning_that_omits_their_input(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring()
    await wiring.responder.receive(b"\xff not json")
    await wiring.responder.receive(b'{"kind": "echo", "text": 42, "secret": "hunter2"}')
    await wiring.responder.receive(b'{"kind": "no-such-kind"}')
    assert wiring.published == []
    assert caplog.text.count("does not parse") == 3
    assert "hunter2" not in caplog.text


@pytest.mark.asyncio
async def test_a_request_naming_a_topic_that_is_not_a_reply_topic_gets_no_answer() -> None:
    wiring = Wiring()
    await wiring.send(Ping(reply_to="auth.user.registered.v1"))
    assert wiring.published == []


@pytest.mark.asyncio
async def test_at_most_concurrency_requests_are_answered_at_once_and_all_are_answered() -> None:
    wiring = Wiring(concurrency=2)
    async with asyncio.TaskGroup() as tasks:
        # The third send waits for a slot, so the consumer sends from a task of its own.
        consumer = tasks.create_task(_send_all(wiring, [Slow() for _ in range(5)]))
        async with asyncio.timeout(5):
            for _ in range(2):
                await wiring.service.entered.get()
        for _ in range(20):
            await asyncio.sleep(0)  # room for a third to start, were it allowed
        assert wiring.service.in_flight == 2
        assert not consumer.done()  # the burst waits in the topic, not in memory
        wiring.service.gate.set()
    await wiring.responder.drain()
    assert wiring.service.most_in_flight == 2
    assert wiring.texts() == ["slow"] * 5


@pytest.mark.asyncio
async def test_a_background_request_leaves_the_consumer_free_for_the_next() -> None:
    wiring = Wiring(background=frozenset({Slow}))
    await wiring.send(Slow())
    await wiring.send(Ping())
    assert wiring.texts() == ["pong"]  # answered while the slow one still runs
    wiring.service.gate.set()
    await wiring.responder.drain()
    assert wiring.texts() == ["pong", "slow"]


@pytest.mark.asyncio
async def test_a_reply_that_cannot_be_published_is_logged_and_the_consumer_keeps_going() -> None:
    wiring = Wiring()

    async def broken(body: bytes, topic: str, key: bytes) -> None:
        raise ConnectionError(topic)

    wiring.responder = Responder(wiring.responder.routes, broken)
    await wiring.send(Ping())  # does not raise


MAX_MESSAGE = 64 * 1024
MAX_REPLY = MAX_MESSAGE - HEADROOM_BYTES


def answer_of_bytes(size: int) -> Echo:
    """An echo whose reply's JSON takes exactly ``size`` bytes."""
    cmd = Echo(text="")
    empty = len(Answer(request_id=cmd.message_id, text="").model_dump_json())
    return Echo(message_id=cmd.message_id, text="x" * (size - empty))


@pytest.mark.asyncio
@pytest.mark.usefixtures("structured_logs")
async def test_a_reply_over_the_broker_message_size_is_answered_reply_too_large_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring(max_message_bytes=MAX_MESSAGE)
    await wiring.send(answer_of_bytes(MAX_REPLY + 1))
    [(reply, topic, _)] = wiring.published
    assert topic == REPLY
    assert reply.text == (
        f"reply_too_large: The answer would take {MAX_REPLY + 1:,} bytes; at most "
        f"{MAX_REPLY:,} fit in one broker message. Ask for less (a smaller page)."
    )
    assert wiring.sizes[0] < 1024
    assert "reply too large for the broker" in caplog.text
    assert f"'reply_bytes': {MAX_REPLY + 1}" in caplog.text
    assert "'kind': 'echo'" in caplog.text


@pytest.mark.asyncio
async def test_a_reply_of_exactly_the_most_that_fits_is_published_as_it_is() -> None:
    wiring = Wiring(max_message_bytes=MAX_MESSAGE)
    cmd = answer_of_bytes(MAX_REPLY)
    await wiring.send(cmd)
    assert wiring.sizes == [MAX_REPLY]
    assert wiring.texts() == [cmd.text]


def test_a_reply_is_measured_and_sent_as_its_utf8_json() -> None:
    cmd = Echo(text="prix \u20ac, \u4fa1\u683c")  # three-byte characters
    assert json_bytes(cmd) == cmd.model_dump_json().encode()
    assert len(json_bytes(cmd)) > len(cmd.model_dump_json())


def test_a_message_size_leaving_no_room_for_a_reply_is_refused() -> None:
    with pytest.raises(ValueError, match="max_message_bytes"):
        Wiring(max_message_bytes=HEADROOM_BYTES)


def test_routes_refuse_a_request_class_without_a_handler() -> None:
    wiring = Wiring()
    routes = Routes(
        adapter=ADAPTER,
        handlers={Ping: wiring.service.ping},
        internal_error=internal,
        too_large=too_large,
    )
    routes.check_covers([Ping])
    with pytest.raises(ValueError, match="Echo"):
        routes.check_covers([Ping, Echo])


def test_merging_tables_refuses_a_request_class_handled_twice() -> None:
    service = Service()
    assert merge_handlers({Ping: service.ping}, {Echo: service.echo}).keys() == {Ping, Echo}
    with pytest.raises(ValueError, match="Ping"):
        merge_handlers({Ping: service.ping}, {Ping: service.ping})


async def _send_all(wiring: Wiring, requests: list[Slow]) -> None:
    for cmd in requests:
        await wiring.send(cmd)
