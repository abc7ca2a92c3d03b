"""``qira memory`` end to end, in process (the model loads once for the session)."""

from __future__ import annotations

import json

import pytest

from qira.cli import main


@pytest.fixture
def qira(tmp_path, capsys, embedder):
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["memory", *args, "--data-dir", str(data)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_add_search_list_history_forget(qira):
    code, out, _ = qira("add", "My flight to Recife leaves on June 12", "--kind", "episode", "--json")
    assert code == 0
    added = json.loads(out)
    assert added["action"] == "added"
    code, out, _ = qira("search", "when do I fly to Brazil?", "-k", "1", "--json")
    assert code == 0 and json.loads(out)["memory"]["id"] == added["id"]
    code, out, _ = qira("search", "when do I fly to Brazil?", "--explain")
    assert "Recife" in out and "similarity=" in out
    code, out, _ = qira("list")
    assert added["id"] in out and "episode" in out
    code, out, _ = qira("history", added["id"], "--json")
    assert json.loads(out)["op"] == "add" and json.loads(out)["actor"] == "cli"
    assert qira("forget", added["id"])[0] == 0
    code, out, _ = qira("search", "when do I fly to Brazil?")
    assert "no memories found" in out


def test_errors_are_one_clear_line(qira):
    code, _, err = qira("add", "   ")
    assert code == 1 and err.strip() == "qira: error: text is empty: there is nothing to remember"
    code, _, err = qira("forget", "m_nope")
    assert code == 1 and "no memory with id 'm_nope'" in err
    with pytest.raises(SystemExit) as exit_:  # a range error is a usage error, caught by argparse (issue 12)
        qira("search", "x", "-k", "0")
    assert exit_.value.code == 2


def test_export_import_round_trip(qira, tmp_path, capsys):
    for text in ["I prefer window seats", "My bike lock code is 3141", "Joana is my manager"]:
        qira("add", text)
    dump = tmp_path / "memories.jsonl"
    assert qira("export", str(dump))[0] == 0
    assert len(dump.read_text().splitlines()) == 3
    before = [json.loads(line) for line in qira("search", "who is my boss?", "-k", "3", "--json")[1].splitlines()]

    other = tmp_path / "other"
    assert main(["memory", "import", str(dump), "--data-dir", str(other)]) == 0
    capsys.readouterr()
    main(["memory", "search", "who is my boss?", "-k", "3", "--json", "--data-dir", str(other)])
    after = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [h["memory"] for h in after] == [h["memory"] for h in before]
    assert [h["score"] for h in after] == pytest.approx([h["score"] for h in before], abs=1e-4)


def test_import_refuses_a_bad_file_whole(qira, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\nnot json\n')
    code, _, err = qira("import", str(bad))
    assert code == 1 and "line 2: not JSON" in err
    code, _, err = qira("list")  # nothing was imported: not even a data directory was made
    assert code == 1 and "no Qira data at" in err
