"""The terminal device's input commands and its two ways of printing events."""

import io
import json

from device_adapters._terminal import _Printer, parse_command


def test_plain_text_is_chat_send_in_the_current_thread():
    assert parse_command("hello\n", None) == ("op", ("chat.send", {"text": "hello"}))
    assert parse_command("hello", "t1") == ("op", ("chat.send", {"text": "hello", "thread": "t1"}))
    assert parse_command("/approve a1", None) == ("op", ("approval.respond", {"approval": "a1", "approve": True}))
    assert parse_command("/deny a1", None) == ("op", ("approval.respond", {"approval": "a1", "approve": False}))
    assert parse_command("/context place home", None) == ("op", ("context.event", {"kind": "place", "value": "home"}))
    assert parse_command('/send x.y {"a": 1}', None) == ("op", ("x.y", {"a": 1}))
    assert parse_command("/send x.y [1]", None)[0] == "error"
    assert parse_command("/bogus", None) == ("error", "unknown command /bogus (type /help)")
    assert parse_command("   ", None) == ("noop", None)


def run(printer, events):
    for event in events:
        printer(event)
    return printer.out.getvalue()


TURN = [
    {"type": "reply", "seq": 1, "ok": True, "result": {"thread": "t9", "turn": "u1"}},
    {"type": "chat.delta", "thread": "t9", "turn": "u1", "text": "It's "},
    {"type": "chat.delta", "thread": "t9", "turn": "u1", "text": "noon."},
    {"type": "chat.done", "thread": "t9", "turn": "u1", "text": "It's noon.", "route": "local", "degraded": False},
    {"type": "notify", "title": "Reminder", "text": "stretch", "kind": "reminder"},
    {"type": "reply", "seq": 2, "ok": False, "code": "invalid_params", "message": "chat.send needs non-empty text"},
]


def test_a_person_sees_answers_stream_inline_and_later_lines_continue_the_thread():
    printer = _Printer(io.StringIO(), json_lines=False)
    out = run(printer, TURN)
    assert out.splitlines() == [
        "qira> It's noon.",
        "[Reminder] stretch",
        "error invalid_params: chat.send needs non-empty text",
    ]
    assert printer.thread == "t9"
    assert parse_command("and tomorrow?", printer.thread) == (
        "op",
        ("chat.send", {"text": "and tomorrow?", "thread": "t9"}),
    )


def test_programs_get_one_json_object_per_event():
    printer = _Printer(io.StringIO(), json_lines=True)
    lines = run(printer, TURN).splitlines()
    assert [json.loads(line)["type"] for line in lines] == [e["type"] for e in TURN]


# -- issue 12: what a person sees --------------------------------------------------------

from device_adapters._terminal import check_hub_url  # noqa: E402


def human(*events, **kwargs):
    printer = _Printer(io.StringIO(), json_lines=False, hub="ws://h:1/ws", name="desk", kind="pc", **kwargs)
    for event in events:
        printer(event)
    return printer, printer.out.getvalue()


READY = {"type": "session.ready", "device_id": "dev_desk", "name": "desk", "kind": "pc", "hub_seq": 0, "pending": 0}
PHONE = {
    "type": "presence",
    "device": "dev_phone",
    "name": "phone",
    "kind": "phone",
    "online": True,
    "last_seen": 1.0,
    "last_active": None,
    "capabilities": {},
}


def test_answers_to_other_devices_show_the_question_and_who_asked():
    printer, out = human(
        READY,
        PHONE,
        {"type": "chat.delta", "thread": "t1", "turn": "x1", "text": "Your notes"},
        {
            "type": "chat.done",
            "thread": "t1",
            "turn": "x1",
            "text": "Your notes: milk",
            "route": "local",
            "degraded": False,
            "fallback": False,
            "reason": "",
            "asked_by": "dev_phone",
            "question": "what are my notes",
        },
    )
    lines = out.splitlines()
    assert lines[0].startswith("connected to ws://h:1/ws as 'desk' (pc)")
    assert lines[1].startswith("· phone (phone) is online since ")
    assert lines[2].startswith("[phone, ") and lines[2].endswith("] asked: what are my notes")
    assert lines[3] == "qira> Your notes: milk"  # streamed deltas of someone else's turn are not interleaved
    assert lines[4] == "      (/thread 1 continues that conversation here)"
    assert printer.thread is None  # another device's answer does not redirect what this one types


def test_fallback_and_degraded_answers_say_why():
    _, out = human(
        {"type": "reply", "seq": 1, "ok": True, "result": {"thread": "t", "turn": "u"}},
        {
            "type": "chat.done",
            "thread": "t",
            "turn": "u",
            "text": "Blue light scatters.",
            "route": "local",
            "degraded": False,
            "fallback": True,
            "reason": "the endpoint sent no first token within 8s",
        },
    )
    assert out.splitlines() == [
        "qira> Blue light scatters.",
        "      (answered locally: the endpoint sent no first token within 8s)",
    ]
    _, out = human(
        {"type": "reply", "seq": 1, "ok": True, "result": {"thread": "t", "turn": "u"}},
        {
            "type": "chat.done",
            "thread": "t",
            "turn": "u",
            "text": "Half and half",
            "route": "local",
            "degraded": True,
            "fallback": False,
            "reason": "it broke",
        },
    )
    assert "(the cloud failed mid-answer; the local model finished it: it broke)" in out


def test_presence_is_quiet_and_a_handoff_says_how_to_continue():
    _, out = human(
        READY,
        PHONE,
        {**PHONE, "capabilities": {"battery": 0.5}},
        {**PHONE, "last_seen": 2.0},
        {
            "type": "notify",
            "title": "Handoff",
            "text": "continue on your pc",
            "kind": "handoff",
            "data": {"thread": "t7"},
        },
    )
    assert out.count("phone (phone) is online") == 1  # capability and last-seen updates print nothing
    assert "[Handoff] continue on your pc — type /thread 1 to continue it here" in out
    assert "dev_phone" not in out and "1.0" not in out


def test_unknown_events_show_names_and_local_times_not_ids_and_unix_times():
    _, out = human(READY, PHONE, {"type": "something.new", "device": "dev_phone", "at": 1790000000.0})
    line = out.splitlines()[-1]
    assert line.startswith("[something.new] device='phone' at=") and "1790000000" not in line


def test_reconnects_print_one_line_when_the_output_is_not_a_terminal():
    printer, out = human(
        READY,
        *[
            {
                "type": "session.disconnected",
                "code": 1006,
                "retry_in": 0.4,
                "error": "refused",
                "reason": "connection refused",
            }
        ]
        * 5,
        READY,
    )
    assert out.count("disconnected from ws://h:1/ws: connection refused; reconnecting") == 1
    assert out.splitlines()[-1] == "reconnected to ws://h:1/ws"


def test_each_failure_has_its_own_exit_status_and_fix():
    cases = [
        ({"type": "session.closed", "code": 4001, "reason": ""}, {"pair_code": "ABCD-1234"}, 4, "refused pairing code"),
        ({"type": "session.closed", "code": 4001, "reason": ""}, {}, 4, "does not know this device's token"),
        ({"type": "session.closed", "code": 4003, "reason": ""}, {}, 5, "was revoked"),
        ({"type": "session.closed", "code": 4004, "reason": ""}, {}, 6, "replaced this one"),
        (
            {"type": "session.error", "code": "unsupported_version", "message": "supported: [2]"},
            {},
            7,
            "different protocol versions",
        ),
        (
            {
                "type": "session.disconnected",
                "code": None,
                "retry_in": 1,
                "error": "http_status",
                "reason": "the server answered HTTP 404 instead of a WebSocket (is the path /ws?)",
            },
            {},
            3,
            "HTTP 404",
        ),
    ]
    for event, kwargs, code, words in cases:
        printer, _ = human(event, **kwargs)
        assert printer.fatal is not None and printer.fatal[0] == code and words in printer.fatal[1], (
            event,
            printer.fatal,
        )
        assert "qira pair --name desk --kind pc" in printer.fatal[1] or code in (3, 6, 7)


def test_hub_urls_are_checked_before_connecting():
    assert check_hub_url("ws://127.0.0.1:8765/ws") is None
    assert "--hub ws://127.0.0.1:8765/ws" in check_hub_url("http://127.0.0.1:8765")
    assert "--hub wss://hub.example/ws" in check_hub_url("https://hub.example/")
    assert "has no path" in check_hub_url("ws://127.0.0.1:8765")
    assert "not a WebSocket URL" in check_hub_url("127.0.0.1:8765")


def test_help_lists_every_command():
    from device_adapters._terminal import HELP

    for command in ("/thread", "/approve", "/deny", "/presence", "/context", "/audio", "/send", "/help", "/quit"):
        assert command in HELP
    assert parse_command("/help", None) == ("help", None)
    assert parse_command("/thread", "t1") == ("threads", None)  # lists; it no longer silently starts a new one
    assert parse_command("/thread new", "t1") == ("thread", None)
    assert parse_command("/context place", None)[0] == "error"
