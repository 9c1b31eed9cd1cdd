"""Property-based run of schemathesis against the running gateway's own OpenAPI document.

Every operation gets ``FUZZ_EXAMPLES`` generated cases (6 here; ``make fuzz`` runs more and the
stateful phase), authenticated as a user who owns one of everything, most of them with that
user's ids (``tests/e2e/fuzz.py``). No answer may be a 5xx, and every answer must be one the
document declares: its status, content type, headers and body schema.
"""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from _pytest.capture import CaptureManager
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case

from tests.e2e.fuzz import (
    CHECKS,
    CONFIG,
    EXAMPLES,
    Tally,
    World,
    build_world,
    fill,
    gateway_document,
)
from tests.e2e.helpers import auth, register
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as shared:
        yield shared


@pytest.fixture(scope="module")
def world(client: httpx.Client) -> World:
    return build_world(client)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """What was sent and answered, printed at the end of the module."""
    seen = Tally()
    yield seen
    capture: CaptureManager = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(f"fuzz: {line}" for line in seen.summary()))


# The cases are generated at collection, before the stack runs, from the document the gateway's
# code builds; the first test checks the running gateway serves that very document.
DOCUMENT = gateway_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


def test_the_running_gateway_serves_this_document(client: httpx.Client) -> None:
    served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    # The first failing case is reported as generated: shrinking it costs hundreds of calls.
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_gateway_answers_as_documented(
    case: Case[Any], world: World, tally: Tally, client: httpx.Client
) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    headers = world.headers()
    if tally.next_is_known(label):
        tally.known[label] += 1
        fill(case, world)
    if (case.method, case.path) == ("DELETE", "/api/v1/auth/me"):  # the world's user must live on
        headers = auth(register(client, "fuzz-doomed"))
    response = case.call(base_url=str(client.base_url), headers=headers, timeout=30)
    tally.record(label, response)
    case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/datasets",
        "/api/v1/backtests",
        "/api/v1/backtests/{run_id}/trades",
        "/api/v1/monte-carlo",
        "/api/v1/optimizations",
        "/api/v1/optimizations/{optimization_id}/results",
    ],
)
def test_an_offset_past_any_list_is_refused_not_a_500(
    path: str, world: World, client: httpx.Client
) -> None:
    """The coverage phase of ``make fuzz`` found these answering 500 to ``offset=2.3e20``."""
    url = path.format(**world.ids)
    for offset, status in ((2**70, 422), (1_000_000_001, 422), (1_000_000_000, 200)):
        response = client.get(url, params={"offset": offset}, headers=world.headers())
        assert response.status_code == status, response.text
    assert response.json()["items"] == []


def test_a_nul_character_in_an_upload_field_is_refused_not_a_500(
    world: World, client: httpx.Client
) -> None:
    """``make fuzz`` sent ``exchange`` with a NUL character, which PostgreSQL text cannot hold."""
    response = client.post(
        "/api/v1/datasets",
        headers=world.headers(),
        files={"file": ("nul.csv", b"time,close\n2024-01-02,1\n", "text/csv")},
        data={"exchange": "NAS\x00DAQ", "symbol": "GOOG"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "exchange", "message": "must not contain NUL characters"}
    ]
