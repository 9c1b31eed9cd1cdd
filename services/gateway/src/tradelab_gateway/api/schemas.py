"""API schemas of the gateway (the REST layer; separate from wire contracts)."""

from datetime import datetime

from pydantic import BaseModel, Field


class InstancePublic(BaseModel):
    """One process of a service as the API shows it."""

    instance_id: str
    status: str = Field(description="up, degraded or down")
    last_seen: datetime
    version: str
    checks: dict[str, bool]


class ServicePublic(BaseModel):
    """A service's overall status and its instances."""

    service: str
    status: str = Field(description="up, degraded or down")
    instances: list[InstancePublic]


class SystemHealthPublic(BaseModel):
    """``GET /api/v1/system/health``."""

    status: str = Field(description="up when every expected service is up, else degraded")
    checked_at: datetime
    services: list[ServicePublic]
