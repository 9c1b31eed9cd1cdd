"""How a process authenticates to Kafka: nothing on the development broker, SASL/SCRAM (over TLS
or a private network) where the broker enforces per-service ACLs. One place turns the settings
into FastStream's security object and into aiokafka's keyword arguments for admin clients."""

import ssl
from typing import Any

from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from .settings import ServiceSettings


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """Return the FastStream security of ``settings`` (None for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol == "SASL_SSL":
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    return scram(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_options(security: BaseSecurity | None) -> dict[str, Any]:
    """Return the aiokafka client keyword arguments for ``security`` (empty for PLAINTEXT)."""
    options: dict[str, Any] = parse_security(security)
    return options
