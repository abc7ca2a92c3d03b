"""The cloud backend against a real llama.cpp server and a fault-injecting one."""

import asyncio
import json
import time

import httpx
import pytest

from qira.errors import CircuitOpen, EndpointBadResponse, EndpointRateLimited, EndpointUnavailable
from qira.inference import BreakerState, ChatMessage, ChatRequest, CloudChatModel, Finish, TextDelta, Usage

from .conftest import cloud_config
from .servers import Blackhole, Fault, closed_port

pytestmark = pytest.mark.anyio

HELLO = ChatRequest(messages=[ChatMessage(role="user", content="Say hello.")], max_tokens=8, temperature=0.0)


async def collect(model, request=HELLO):
    return [d async for d in model.stream(request)]


async def partial_then_error(model, request=HELLO):
    seen = []
    with pytest.raises(Exception) as info:
        async for delta in model.stream(request):
            seen.append(delta)
    return seen, info.value


# -- a real llama.cpp server ------------------------------------------------------------


async def test_streams_from_llama_cpp_with_the_api_key(llama):
    model = CloudChatModel(cloud_config(llama.base_url, read_timeout_s=60), api_key=llama.api_key)
    try:
        deltas = await collect(model)
    finally:
        await model.aclose()
    texts = [d for d in deltas if isinstance(d, TextDelta)]
    assert len(texts) >= 2
    assert isinstance(deltas[-1], Finish) and deltas[-1].reason == "length"
    usage = [d for d in deltas if isinstance(d, Usage)]
    assert usage and usage[0].completion_tokens == 8


async def test_api_key_is_read_from_the_variable_named_in_config(llama, monkeypatch):
    monkeypatch.setenv("GIGAFACTORY_TEST_KEY", llama.api_key)
    model = CloudChatModel(cloud_config(llama.base_url, read_timeout_s=60, api_key_env="GIGAFACTORY_TEST_KEY"))
    try:
        assert isinstance((await collect(model))[-1], Finish)
    finally:
        await model.aclose()


async def test_wrong_api_key_is_a_bad_response_and_not_retried(llama):
    model = CloudChatModel(cloud_config(llama.base_url, read_timeout_s=60), api_key="wrong")
    try:
        with pytest.raises(EndpointBadResponse, match="401"):
            await collect(model)
    finally:
        await model.aclose()


async def test_structured_output_from_llama_cpp(llama):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="Name a city in JSON.")],
        max_tokens=40,
        temperature=0.0,
        json_schema=schema,
    )
    model = CloudChatModel(cloud_config(llama.base_url, read_timeout_s=60), api_key=llama.api_key)
    try:
        deltas = await collect(model, request)
    finally:
        await model.aclose()
    assert deltas[-1].reason == "stop"
    assert set(json.loads("".join(d.text for d in deltas if isinstance(d, TextDelta)))) == {"city"}


# -- faults -----------------------------------------------------------------------------


async def test_5xx_is_retried_then_succeeds(fault_server):
    fault_server.script(Fault.HTTP_500, Fault.HTTP_503)
    model = CloudChatModel(cloud_config(fault_server.base_url))
    deltas = await collect(model)
    await model.aclose()
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Paris is the capital of France."
    assert [r.fault for r in fault_server.requests] == [Fault.HTTP_500, Fault.HTTP_503, Fault.OK]


async def test_5xx_gives_up_after_max_retries(fault_server):
    fault_server.script(*[Fault.HTTP_503] * 5)
    model = CloudChatModel(cloud_config(fault_server.base_url, max_retries=2))
    with pytest.raises(EndpointUnavailable, match="503"):
        await collect(model)
    await model.aclose()
    assert len(fault_server.requests) == 3


async def test_429_honours_retry_after(fault_server):
    fault_server.retry_after = 0.4
    fault_server.script(Fault.RATE_LIMIT)
    model = CloudChatModel(cloud_config(fault_server.base_url))
    await collect(model)
    await model.aclose()
    first, second = fault_server.requests
    assert second.at - first.at >= 0.4


async def test_429_with_a_long_retry_after_gives_up_at_once(fault_server):
    fault_server.retry_after = 120
    fault_server.script(Fault.RATE_LIMIT)
    model = CloudChatModel(cloud_config(fault_server.base_url, backoff_max_s=2.0))
    with pytest.raises(EndpointRateLimited) as info:
        await collect(model)
    await model.aclose()
    assert info.value.retry_after == 120 and len(fault_server.requests) == 1


async def test_4xx_is_not_retried(fault_server):
    fault_server.script(Fault.BAD_REQUEST)
    model = CloudChatModel(cloud_config(fault_server.base_url))
    with pytest.raises(EndpointBadResponse, match="400"):
        await collect(model)
    await model.aclose()
    assert len(fault_server.requests) == 1


async def test_read_timeout_before_the_first_token(fault_server):
    fault_server.script(Fault.HANG)
    model = CloudChatModel(cloud_config(fault_server.base_url, read_timeout_s=0.3))
    started = time.monotonic()
    with pytest.raises(EndpointUnavailable, match="in time"):
        await collect(model)
    await model.aclose()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.HANG_MID, EndpointUnavailable),
        (Fault.RESET_MID, EndpointUnavailable),
        (Fault.MALFORMED, EndpointBadResponse),
        (Fault.TRUNCATED, EndpointUnavailable),
    ],
)
async def test_failures_mid_stream_are_raised_after_the_partial_answer(fault_server, fault, error):
    fault_server.script(fault)
    model = CloudChatModel(cloud_config(fault_server.base_url, read_timeout_s=0.3))
    seen, exc = await partial_then_error(model)
    await model.aclose()
    assert isinstance(exc, error)
    assert [d.text for d in seen] == ["Paris", " is"]
    assert len(fault_server.requests) == 1  # never retried once the person has seen text


async def test_reset_before_the_answer_is_retried_at_once(fault_server):
    # what a stale keep-alive connection looks like (llama.cpp's server closes after each stream)
    fault_server.script(Fault.RESET)
    model = CloudChatModel(cloud_config(fault_server.base_url, backoff_base_s=5.0))
    started = time.monotonic()
    assert isinstance((await collect(model))[-1], Finish)
    assert time.monotonic() - started < 1 and model.breaker.consecutive_failures == 0
    fault_server.script(*[Fault.RESET] * 5)
    with pytest.raises(EndpointUnavailable, match="broke"):
        await collect(model)
    await model.aclose()
    assert len(fault_server.requests) == 2 + 1 + 1 + 2  # one free retry, then the usual ones with backoff


async def test_llama_cpp_connection_reuse(llama):
    model = CloudChatModel(cloud_config(llama.base_url, read_timeout_s=60), api_key=llama.api_key)
    try:
        for _ in range(3):
            assert isinstance((await collect(model))[-1], Finish)
    finally:
        await model.aclose()


async def test_wrong_content_type(fault_server):
    fault_server.script(Fault.WRONG_TYPE)
    model = CloudChatModel(cloud_config(fault_server.base_url))
    with pytest.raises(EndpointBadResponse, match="text/html"):
        await collect(model)
    await model.aclose()


async def test_connect_refused_is_retried_then_raised():
    model = CloudChatModel(cloud_config(f"http://127.0.0.1:{closed_port()}/v1", max_retries=1))
    with pytest.raises(EndpointUnavailable, match="cannot reach"):
        await collect(model)
    await model.aclose()


async def test_connect_timeout():
    hole = Blackhole()
    model = CloudChatModel(cloud_config(hole.base_url, connect_timeout_s=0.2, max_retries=0))
    try:
        started = time.monotonic()
        with pytest.raises(EndpointUnavailable, match="ConnectTimeout"):
            await collect(model)
        assert time.monotonic() - started < 2
    finally:
        await model.aclose()
        hole.close()


async def test_breaker_opens_then_half_open_probe_closes_it(fault_server):
    changes = []
    fault_server.script(Fault.HTTP_500, Fault.HTTP_500)
    config = cloud_config(fault_server.base_url, max_retries=0, breaker_failures=2, breaker_reset_s=0.3)
    model = CloudChatModel(config, on_breaker_change=changes.append)
    for _ in range(2):
        with pytest.raises(EndpointUnavailable):
            await collect(model)
    with pytest.raises(CircuitOpen):
        await collect(model)
    assert len(fault_server.requests) == 2  # the open breaker did not call the endpoint
    await asyncio.sleep(0.35)
    assert model.breaker.state is BreakerState.HALF_OPEN
    assert isinstance((await collect(model))[-1], Finish)
    assert changes == [BreakerState.OPEN, BreakerState.CLOSED]
    await model.aclose()


async def test_closing_the_stream_cancels_without_blaming_the_endpoint(fault_server):
    fault_server.token_delay_s = 0.05
    model = CloudChatModel(cloud_config(fault_server.base_url, breaker_failures=1))
    stream = model.stream(HELLO)
    assert isinstance(await stream.__anext__(), TextDelta)
    await stream.aclose()
    assert model.breaker.state is BreakerState.CLOSED
    await model.aclose()


async def test_transport_seam():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        body = b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    model = CloudChatModel(cloud_config("http://gigafactory.invalid/v1"), transport=httpx.MockTransport(handler))
    deltas = await collect(model)
    await model.aclose()
    assert deltas == [TextDelta(text="hi"), Finish(reason="stop")]


@pytest.mark.parametrize("url", ["http://[::1", "not a url", "ftp://example.com/v1"])
async def test_a_bad_base_url_is_a_config_error(url):
    from qira.errors import ConfigError

    with pytest.raises(ConfigError, match="base_url"):
        CloudChatModel(cloud_config(url))
