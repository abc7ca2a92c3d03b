import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests._hub import HubProcess  # noqa: E402


@pytest.fixture
def hub(tmp_path):
    """A running ``qira serve`` subprocess with its own data directory (models warm lazily)."""
    process = HubProcess(tmp_path / "hub-data", env={"QIRA_HUB_WARM_UP": "false"})
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def embedder():
    """The real embedding model, loaded once per test session."""
    from qira.memory import Embedder

    model = Embedder()
    model.load()
    return model
