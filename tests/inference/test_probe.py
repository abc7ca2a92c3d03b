"""Issue 12, honest health: the /models probe names the cause in words, and a hanging endpoint
costs a turn the first-token deadline, not the read timeout, before the local model answers."""

from __future__ import annotations

import pytest

from qira.inference import ChatMessage, ChatRequest, CloudChatModel, Finish, Target, TextDelta, probe_endpoint
from qira.inference._cloud import FirstTokenTimeout, judge_models

from .conftest import cloud_config
from .servers import Fault, closed_port

pytestmark = pytest.mark.anyio

HELLO = ChatRequest(messages=[ChatMessage(role="user", content="Capital of France?")], max_tokens=20)


async def test_the_probe_finds_the_configured_model(fault_server):
    fault_server.models = ("test", "other")
    result = await probe_endpoint(cloud_config(fault_server.base_url))
    assert result.ok and result.models == ("test", "other") and "serves test" in result.detail
    assert fault_server.requests == []  # a GET /models is not a chat request


async def test_a_model_the_endpoint_does_not_serve_is_named(fault_server):
    fault_server.models = ("llama-3-8b",)
    result = await probe_endpoint(cloud_config(fault_server.base_url, model="gpt-7"))
    assert not result.ok
    assert "does not serve model 'gpt-7'" in result.detail and "llama-3-8b" in result.detail


async def test_an_unset_key_variable_is_named(llama, monkeypatch):
    monkeypatch.delenv("QIRA_TEST_KEY_NOBODY_SET", raising=False)
    config = cloud_config(llama.base_url, model="", api_key_env="QIRA_TEST_KEY_NOBODY_SET")
    result = await probe_endpoint(config)
    assert not result.ok and "QIRA_TEST_KEY_NOBODY_SET is not set" in result.detail
    monkeypatch.setenv("QIRA_TEST_KEY_NOBODY_SET", llama.api_key)
    assert (await probe_endpoint(config)).ok


async def test_an_unreachable_endpoint_says_so():
    result = await probe_endpoint(cloud_config(f"http://127.0.0.1:{closed_port()}/v1"))
    assert not result.ok and result.detail.startswith("cannot reach")


def test_judging_model_lists():
    config = cloud_config("http://127.0.0.1:1/v1", model="m")
    assert judge_models(config, "u", 200, b'{"data": [{"id": "m"}]}', key_set=True).ok
    assert "not an OpenAI-compatible" in judge_models(config, "u", 200, b"<html>", key_set=True).detail
    assert "end in /v1" in judge_models(config, "u", 404, b"", key_set=True).detail
    assert "refused the key" in judge_models(config, "u", 403, b"", key_set=True).detail


async def test_a_hanging_endpoint_fails_at_the_first_token_deadline_not_the_read_timeout(fault_server):
    fault_server.script(Fault.HANG, Fault.HANG)
    model = CloudChatModel(cloud_config(fault_server.base_url, read_timeout_s=60.0, first_token_timeout_s=0.5))
    with pytest.raises(FirstTokenTimeout, match="no first token within 0.5s"):
        async for _ in model.stream(HELLO):
            pass
    assert len(fault_server.requests) == 1  # not retried: the deadline covers every attempt
    assert model.breaker.consecutive_failures == 1
    await model.aclose()


async def test_the_deadline_does_not_cut_a_slow_answer_once_it_has_started(fault_server):
    fault_server.token_delay_s = 1.0
    fault_server.answer = "one two three four five"  # 5 s in all, past the 3 s deadline
    model = CloudChatModel(cloud_config(fault_server.base_url, read_timeout_s=10.0, first_token_timeout_s=3.0))
    text = "".join([d.text async for d in model.stream(HELLO) if isinstance(d, TextDelta)])
    assert text == "one two three four five"
    await model.aclose()


async def test_the_service_falls_back_before_the_first_token_and_says_why(make_service, fault_server):
    fault_server.script(Fault.HANG)
    service = make_service(
        cloud_config(fault_server.base_url, read_timeout_s=60.0, first_token_timeout_s=0.5), policy="prefer-cloud"
    )
    turn = service.chat(HELLO)
    deltas = [d async for d in turn]
    finish = deltas[-1]
    assert isinstance(finish, Finish) and not finish.degraded  # nothing came from the cloud: not "mid-answer"
    assert turn.answered_by is Target.LOCAL and "no first token within 0.5s" in turn.fallback
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)).strip()
    await service.close()
