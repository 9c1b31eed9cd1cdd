"""A service's quota refusal becomes 429 ``quota_exceeded`` naming the quota, usage and limit."""

import uuid

import pytest

from tradelab_contracts.datasets_rpc import DatasetsError, DatasetsErrorCode, DatasetsReply
from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_gateway.api.datasets import STATUS_BY_CODE
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.service_replies import ask


def refusal(quota: QuotaUsage) -> DatasetsReply:
    error = DatasetsError(
        code=DatasetsErrorCode.QUOTA_EXCEEDED, message="Over your quota.", quota=quota
    )
    return DatasetsReply(request_id=uuid.uuid4(), ok=False, error=error)


async def refused(reply: DatasetsReply) -> ProblemError:
    async def call() -> DatasetsReply:
        return reply

    with pytest.raises(ProblemError) as caught:
        await ask(call, service="datasets", status_by_code=STATUS_BY_CODE, retry_after_s=5)
    return caught.value


@pytest.mark.asyncio
async def test_a_quota_refusal_is_429_with_the_quota_usage_limit_and_request() -> None:
    quota = QuotaUsage(quota=Quota.STORED_BYTES, usage=900, limit=1000, requested=200)
    problem = await refused(refusal(quota))
    assert (problem.status, problem.code, problem.headers) == (429, "quota_exceeded", {})
    assert problem.extra == {
        "quota": "stored_bytes",
        "usage": 900,
        "limit": 1000,
        "requested": 200,
    }


@pytest.mark.asyncio
async def test_a_quota_refusal_without_a_request_size_leaves_requested_out() -> None:
    problem = await refused(refusal(QuotaUsage(quota=Quota.DATASETS, usage=10, limit=10)))
    assert problem.extra == {"quota": "datasets", "usage": 10, "limit": 10}
