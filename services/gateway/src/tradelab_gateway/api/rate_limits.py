"""Rate limits at the HTTP edge: refusals as problem+json, and the job-submission limit."""

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from tradelab_gateway.api.deps import CurrentUser, RateLimiterDep
from tradelab_gateway.api.problems import ProblemError, problem_response
from tradelab_gateway.ratelimit.limiter import RateLimitedError, RateLimitUnavailableError
from tradelab_gateway.ratelimit.policy import LimitName

RATE_LIMITED = "rate_limited"
RATE_LIMIT_UNAVAILABLE = "rate_limit_unavailable"


def install_rate_limit_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Answer 429 ``rate_limited`` naming the limit (``rate_limit``), 503 when Redis is silent.

    Without Redis no limit can be checked, and the limits guard what an attacker wants most
    (password guessing, argon2 work, the job queue): the request is refused, not waved through.
    """

    @app.exception_handler(RateLimitedError)
    async def on_limited(request: Request, exc: RateLimitedError) -> JSONResponse:
        problem = ProblemError(
            429,
            f"Too many requests: the {exc.limit.value} limit is reached; retry in "
            f"{exc.retry_after_s} s.",
            code=RATE_LIMITED,
            headers={"Retry-After": str(exc.retry_after_s)},
            extra={"rate_limit": exc.limit.value, "retry_after_s": exc.retry_after_s},
        )
        return problem_response(problem, request.url.path)

    @app.exception_handler(RateLimitUnavailableError)
    async def on_unavailable(request: Request, _: RateLimitUnavailableError) -> JSONResponse:
        problem = ProblemError(
            503,
            "Rate limits cannot be checked (their store is not answering); retry shortly.",
            code=RATE_LIMIT_UNAVAILABLE,
            headers={"Retry-After": str(retry_after_s)},
        )
        return problem_response(problem, request.url.path)


async def limit_job_submission(user: CurrentUser, limiter: RateLimiterDep) -> None:
    """Count a job submission of ``user`` (before its body is even read)."""
    await limiter.hit(LimitName.JOBS_PER_USER, str(user.user_id))


JOB_SUBMISSION_LIMIT = Depends(limit_job_submission)
"""Add to the ``dependencies`` of every route that submits a job."""
