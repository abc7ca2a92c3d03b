from qira.config import InferenceConfig
from qira.devices import DeviceKind
from qira.inference import BreakerState, ChatMessage, ChatRequest, CloudStatus, Router, Target

UP = CloudStatus(configured=True)


def ask(text: str, **kw) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **kw)


def decide(text="What time is it in Tokyo?", *, cloud=UP, device=None, config=None, **kw):
    return Router(config or InferenceConfig()).decide(ask(text, **kw), cloud=cloud, device_kind=device)


def test_no_cloud_configured_is_always_local():
    d = decide(cloud=CloudStatus(configured=False), tools=[{"type": "function"}], max_tokens=2000)
    assert d.target is Target.LOCAL
    assert "no gigafactory endpoint" in d.reasons[0]


def test_local_only_policy_wins_over_difficulty():
    d = decide(config=InferenceConfig(policy="local-only"), tools=[{"type": "function"}])
    assert d.target is Target.LOCAL and "local-only" in d.explain()


def test_personal_data_stays_local_even_when_preferring_cloud():
    d = decide("email jane@corp.example about my blood test", config=InferenceConfig(policy="prefer-cloud"))
    assert d.target is Target.LOCAL
    assert "an email address and health information" in d.reasons[0]
    assert set(d.personal_data) == {"email", "health"}
    assert "jane@corp.example" not in d.explain()  # the reason names kinds, never the data


def test_private_memory_in_context_stays_local():
    d = decide(private_context=True, config=InferenceConfig(policy="prefer-cloud"))
    assert d.target is Target.LOCAL and "private" in d.reasons[0]


def test_privacy_rule_can_be_turned_off():
    d = decide("email jane@corp.example", config=InferenceConfig(policy="prefer-cloud", privacy_rule=False))
    assert d.target is Target.CLOUD


def test_open_breaker_goes_local():
    down = CloudStatus(configured=True, breaker=BreakerState.OPEN, breaker_available=False, retry_in_s=12)
    d = decide(cloud=down, config=InferenceConfig(policy="prefer-cloud"))
    assert d.target is Target.LOCAL and "circuit open" in d.reasons[0] and "12s" in d.reasons[0]


def test_spent_budget_goes_local():
    d = decide(cloud=CloudStatus(configured=True, tokens_left=50), config=InferenceConfig(policy="prefer-cloud"))
    assert d.target is Target.LOCAL and "budget" in d.reasons[0]


def test_prefer_cloud():
    assert decide(config=InferenceConfig(policy="prefer-cloud")).target is Target.CLOUD


def test_prefer_local_keeps_easy_requests_local():
    d = decide()
    assert d.target is Target.LOCAL and "short request" in d.reasons[0]
    d = decide(intent_confidence=0.9)
    assert d.target is Target.LOCAL and "0.90" in d.reasons[0]


def test_prefer_local_sends_hard_requests_to_the_cloud():
    assert "tool planning" in decide(tools=[{"type": "function"}]).reasons[0]
    assert decide("word " * 400).target is Target.CLOUD
    assert "long answer" in decide(max_tokens=1000).reasons[0]
    assert "no skill matched" in decide(intent_confidence=0.2).reasons[0]
    d = decide("word " * 3000)
    assert any("context" in r for r in d.reasons)


def test_wearable_gets_short_local_answers():
    d = decide("word " * 400, device=DeviceKind.WEARABLE, max_tokens=1000)
    assert d.target is Target.LOCAL
    assert d.max_tokens == 96 and any("wearable" in r for r in d.reasons)
    d = decide(device=DeviceKind.WEARABLE, tools=[{"type": "function"}])
    assert d.target is Target.CLOUD  # tools still need the cloud
    assert decide(device=DeviceKind.PHONE, max_tokens=1000).max_tokens is None


def test_decision_as_json_for_the_wire():
    d = decide("call +1 415 555 0134", device=DeviceKind.WEARABLE, max_tokens=500)
    assert d.as_json() == {"target": "local", "reasons": list(d.reasons), "personal_data": ["phone"], "max_tokens": 96}


def test_tool_call_arguments_are_checked_for_personal_data():
    from qira.inference import ToolCall

    call = ToolCall(id="c1", name="send_email", arguments='{"to": "jane@corp.example"}')
    request = ChatRequest(
        messages=[
            ChatMessage(role="user", content="Send it"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", tool_call_id="c1", content="sent"),
        ]
    )
    d = Router(InferenceConfig(policy="prefer-cloud")).decide(request, cloud=UP)
    assert d.target is Target.LOCAL and d.personal_data == ("email",)
