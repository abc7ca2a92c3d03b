"""Fixtures for the inference tests: a real llama.cpp endpoint, the local model, a fault server."""

from __future__ import annotations

import pytest

from qira.config import CloudConfig, InferenceConfig, LocalModelConfig
from qira.inference import InferenceService, LocalModel

from .servers import FaultServer, LlamaServer


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def llama():
    """A real llama.cpp server on 127.0.0.1 requiring an API key: the stand-in gigafactory."""
    server = LlamaServer(api_key="test-key", threads=2, parallel=2)
    yield server
    server.close()


@pytest.fixture(scope="session")
def local_model(tmp_path_factory):
    """The in-process local model, loaded once per session."""
    model = LocalModel(LocalModelConfig(threads=2, parallel=2), socket_dir=tmp_path_factory.mktemp("run"))
    model.load()
    yield model
    model.close()


@pytest.fixture
def fault_server():
    with FaultServer() as server:
        yield server


def cloud_config(base_url: str, **overrides) -> CloudConfig:
    """Fast timeouts and backoff so fault tests take milliseconds, not minutes."""
    values = dict(
        base_url=base_url,
        model="test",
        connect_timeout_s=0.5,
        read_timeout_s=1.0,
        max_retries=2,
        backoff_base_s=0.01,
        backoff_max_s=1.0,
        breaker_failures=50,
        breaker_reset_s=30.0,
        # the first-token deadline has its own tests (test_probe.py); elsewhere a llama.cpp
        # stand-in on a loaded 2-core machine must not trip it
        first_token_timeout_s=120.0,
    )
    values.update(overrides)
    return CloudConfig(**values)


@pytest.fixture
def make_service(tmp_path, local_model):
    """Builds an InferenceService on the session's local model; closes what it built."""
    built: list[InferenceService] = []

    def make(cloud: CloudConfig | None = None, **inference) -> InferenceService:
        config = InferenceConfig(cloud=cloud or CloudConfig(), **inference)
        service = InferenceService(config, local=local_model, data_dir=tmp_path)
        built.append(service)
        return service

    yield make
    for service in built:
        service.ledger.close()
