from qira.cli import main


def test_ask_streams_the_answer_and_explains_the_route(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("QIRA_CONFIG", raising=False)
    code = main(
        ["ask", "--data-dir", str(tmp_path), "--explain", "--max-tokens", "6", "--policy", "prefer-local", "Say hi."]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert out.strip()
    assert "route: local: no gigafactory endpoint is configured" in err
    assert "answered by: local" in err
    assert (tmp_path / "inference.db").exists()


def test_ask_falls_back_when_the_endpoint_is_down(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("QIRA_CONFIG", raising=False)
    monkeypatch.setenv("QIRA_INFERENCE_CLOUD__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("QIRA_INFERENCE_CLOUD__MAX_RETRIES", "0")
    code = main(
        ["ask", "--data-dir", str(tmp_path), "--explain", "--max-tokens", "4", "--policy", "prefer-cloud", "Hi"]
    )
    out, err = capsys.readouterr()
    assert code == 0 and out.strip()
    assert "route: cloud: your policy prefers the cloud" in err
    assert "note: the gigafactory endpoint failed before answering" in err
