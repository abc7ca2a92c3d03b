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
    assert parse_command("/send x.y {\"a\": 1}", None) == ("op", ("x.y", {"a": 1}))
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
    assert parse_command("and tomorrow?", printer.thread) == ("op", ("chat.send", {"text": "and tomorrow?", "thread": "t9"}))


def test_programs_get_one_json_object_per_event():
    printer = _Printer(io.StringIO(), json_lines=True)
    lines = run(printer, TURN).splitlines()
    assert [json.loads(line)["type"] for line in lines] == [e["type"] for e in TURN]
