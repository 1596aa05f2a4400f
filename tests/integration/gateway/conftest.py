"""The gateway tests use the end-user world of tests/integration/client (a tenant, its admin API, a client
that carries the bearer token)."""

from tests.integration.client.conftest import (  # noqa: F401 - fixtures
    api,
    client,
    fast_and_fresh,
    system_sid,
    tenant,
    world,
)
