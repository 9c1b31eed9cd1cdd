"""Response body of ``GET /api/v1/me/usage``."""

from pydantic import BaseModel, Field

from tradelab_contracts.quotas import Quota


class QuotaPublic(BaseModel):
    """One of your quotas: what you use and what you may."""

    quota: Quota = Field(description="Which quota (the name a 429 quota_exceeded problem gives).")
    usage: int = Field(ge=0, description="Used now.")
    limit: int = Field(ge=0, description="Allowed at most.")


class UsagePublic(BaseModel):
    """Every quota of yours, from the service that enforces it."""

    quotas: list[QuotaPublic] = Field(description="Datasets' quotas first, then the engine's.")
