"""A job's run span, in the trace of the request that submitted the job.

A job is handed over through its table, not a message: the row keeps the submitting request's
trace context (``trace_context``, stored at the insert) and the attempt that claims it runs in a
span that is that context's child, linked to the turn's message (which may have named another
job, or come from the sweeper's re-dispatch).
"""

from contextlib import AbstractContextManager
from uuid import UUID

from opentelemetry.trace import Span, Tracer

from tradelab_runtime.trace_context import TraceCarrier, continued_span


def run_span(
    tracer: Tracer, entity: str, job_id: UUID, attempt: int, trace_context: TraceCarrier | None
) -> AbstractContextManager[Span]:
    """The span of attempt ``attempt`` at job ``job_id`` of kind ``entity`` (``backtest``...)."""
    attributes = {"tradelab.job.kind": entity, "tradelab.job.id": str(job_id)}
    return continued_span(
        tracer, f"{entity} run", trace_context, {**attributes, "tradelab.job.attempt": attempt}
    )
