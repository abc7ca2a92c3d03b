import pytest

from tests.agent.conftest import make_harness  # noqa: F401  (the agent's test harness, for the routing tests)


@pytest.fixture
def anyio_backend():
    return "asyncio"
