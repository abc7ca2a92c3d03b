from qira.inference import ChatMessage, ChatRequest, Finish, TextDelta, ToolCall, ToolCallDelta, Usage
from qira.inference._wire import ChunkParser, request_json


def chunk(delta=None, finish=None, **extra):
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def test_tool_call_fragments_are_joined_and_emitted_once():
    parser = ChunkParser()
    out = []
    for c in [
        chunk({"content": "Let me check."}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "weather", "arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]}),
        chunk(finish="tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    ]:
        out.extend(parser.feed(c))
    out.extend(parser.finish())
    assert out == [
        TextDelta(text="Let me check."),
        ToolCallDelta(call=ToolCall(id="c1", name="weather", arguments='{"city": "Oslo"}')),
        Usage(prompt_tokens=9, completion_tokens=4),
        Finish(reason="tool_calls"),
    ]


def test_request_json_local_drops_tools_and_closes_schemas():
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="hi")],
        tools=[{"type": "function", "function": {"name": "x", "parameters": {}}}],
        json_schema={"type": "object", "properties": {"a": {"type": "object", "properties": {}}}},
    )
    local = request_json(request, local=True)
    assert "tools" not in local
    assert local["json_schema"]["additionalProperties"] is False
    assert local["json_schema"]["properties"]["a"]["additionalProperties"] is False
    cloud = request_json(request, model="m")
    assert cloud["tools"] and cloud["model"] == "m"
    assert cloud["response_format"]["json_schema"]["schema"]["additionalProperties"] is False
