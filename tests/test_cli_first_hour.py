"""Issue 12, the CLI a new person meets: help, versions, usage on a wrong flag, validated
choices, ranges and names, read commands that never create a data directory, and one
config validation for `serve` and `doctor`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qira import __version__
from qira.cli import main

QIRA = [sys.executable, "-m", "qira.cli"]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QIRA, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def test_bare_qira_shows_help_and_version_is_a_flag(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: qira" in out and "pair" in out and "doctor" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"qira {__version__}"


@pytest.mark.parametrize(
    ("argv", "usage", "words"),
    [
        (["serve", "--prot"], "usage: qira serve", "unrecognized arguments: --prot"),
        (["devices", "list", "--bogus"], "usage: qira devices list", "unrecognized arguments: --bogus"),
        (["audit", "--outcome", "banana"], "usage: qira audit", "invalid choice: 'banana'"),
        (["audit", "--limit", "0"], "usage: qira audit", "--limit: must be at least 1"),
        (["memory", "list", "--limit", "-3"], "usage: qira memory list", "must be at least 1"),
        (["memory", "add", "x", "--importance", "2"], "usage: qira memory add", "must be from 0 to 1"),
        (["pair", "--name", "", "--kind", "pc"], "usage: qira pair", "device name ''"),
        (["pair", "--name", "my/phone", "--kind", "pc"], "usage: qira pair", "device name 'my/phone'"),
        (["pair", "--name", " x", "--kind", "pc"], "usage: qira pair", "device name ' x'"),
        (["devices", "revoke", "a\tb"], "usage: qira devices revoke", "device name 'a\\tb'"),
    ],
)
def test_a_wrong_flag_or_value_prints_that_commands_usage(capsys, argv, usage, words):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and usage in err and words in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["devices", "list"],
        ["memory", "list"],
        ["memory", "search", "keys"],
        ["memory", "export"],
        ["audit"],
        ["devices", "revoke", "x"],
    ],
)
def test_read_commands_never_create_a_data_directory(tmp_path, capsys, argv):
    missing = tmp_path / "typo"
    assert main([*argv, "--data-dir", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"no Qira data at {missing} — is your hub using another --data-dir?" in err
    assert not missing.exists()


def test_names_people_type_follow_one_rule(tmp_path, capsys):
    assert main(["skill", "new", "Dice Roller", "--dir", str(tmp_path)]) == 0
    assert main(["skill", "new", "my-weather", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(skill name: dice_roller)" in out and "(skill name: my_weather)" in out
    module = (tmp_path / "qira-skill-dice-roller" / "qira_skill_dice_roller" / "__init__.py").read_text()
    assert 'name="dice_roller"' in module and "ask dice roller to greet {who}" in module  # said, not typed
    assert "ask dice_roller" not in module
    assert f"{sys.executable} -m pip install -e ." in out  # Qira's own environment, not the first pip on PATH
    assert main(["skill", "new", "9 lives", "--dir", str(tmp_path)]) == 1
    assert "skill name '9 lives'" in capsys.readouterr().err


def test_pair_quotes_names_and_prints_the_configured_url_without_a_hub(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["pair", "--name", "Ana phone", "--kind", "phone", "--data-dir", str(data), "--no-qr"]) == 0
    out = capsys.readouterr().out
    assert "pairing code for phone 'Ana phone':" in out
    assert "--name 'Ana phone' --hub ws://127.0.0.1:8765/ws --pair " in out  # pastes into a shell
    assert f"no hub is running on {data}" in out
    assert main(["devices", "list", "--data-dir", str(data)]) == 0  # the pending code made the data dir


def test_the_cli_keeps_its_copies_of_enum_values_equal():
    from device_adapters._terminal import EXIT_CODES as TERMINAL_CODES
    from qira.agent import Outcome
    from qira.cli import _audit, _device, _memory
    from qira.memory import CONTEXT_KINDS, MemoryKind, Scope

    assert _audit.OUTCOMES == tuple(o.value for o in Outcome)
    assert _memory.KINDS == tuple(k.value for k in MemoryKind)
    assert _memory.SCOPES == tuple(s.value for s in Scope)
    assert _memory.CONTEXT == tuple(CONTEXT_KINDS)
    assert _device.EXIT_CODES == TERMINAL_CODES


def test_serve_and_doctor_refuse_the_same_bad_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[hub]\nport = "abc"\n')
    served = cli("serve", "--data-dir", str(data), "--port", "0")  # --port must not hide the file's mistake
    doctor = cli("doctor", "--data-dir", str(data), "--skip-models")
    assert served.returncode == doctor.returncode == 2
    line = f"qira: config error: {data / 'config.toml'}: hub.port: input should be a valid integer (got 'abc')"
    assert served.stderr.strip() == doctor.stderr.strip() == line


def test_skill_list_fails_when_a_skill_package_does_not_load(tmp_path):
    site = tmp_path / "site"
    info = site / "qira_skill_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qira_skill_broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qira.skills]\nbroken = qira_skill_broken:SKILLS\n")
    (site / "qira_skill_broken.py").write_text("raise RuntimeError('the author forgot something')\n")
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    listed = cli("skill", "list", "--data-dir", str(tmp_path / "data"), env=env)
    assert listed.returncode == 1
    assert (
        "not loaded: qira_skill_broken:qira_skill_broken:SKILLS: RuntimeError: the author forgot something"
        in listed.stdout
    )
    doctor = cli("doctor", "--data-dir", str(tmp_path / "data"), "--skip-models", env=env)
    assert doctor.returncode == 1 and "skills" in doctor.stdout and "the author forgot something" in doctor.stdout
    assert "verdict: broken: skills" in doctor.stdout


def test_a_stale_hub_file_is_ignored(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["pair", "--name", "tab", "--kind", "tablet", "--data-dir", str(data), "--no-qr"]) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = {
        "pid": int(dead.stdout),
        "host": "127.0.0.1",
        "port": 9,
        "http_url": "http://127.0.0.1:9",
        "ws_url": "ws://127.0.0.1:9/ws",
        "version": __version__,
        "data_dir": str(data),
        "admin_secret": "x",
        "started_at": 0.0,
    }
    (data / "hub.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["devices", "list", "--json", "--data-dir", str(data)]) == 0  # the data dir, not a dead hub
    assert capsys.readouterr().out == ""


def test_doctor_names_the_config_file_and_that_no_hub_runs(tmp_path):
    config = tmp_path / "qira.toml"
    config.write_text('[hub]\nlog_level = "warning"\n')
    data = tmp_path / "data"
    doctor = cli("doctor", "--config", str(config), "--data-dir", str(data), "--skip-models")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    lines = {line.split()[0]: line for line in doctor.stdout.splitlines() if line.strip()}
    assert str(config) in lines["config"]
    assert f"not running on {data}" in lines["hub"]
    assert "does not exist yet" in doctor.stdout and not Path(data).exists()


def test_doctor_names_a_model_the_endpoint_does_not_serve_and_an_unset_key(tmp_path):
    from tests.inference.servers import FaultServer

    with FaultServer() as endpoint:
        endpoint.models = ("llama-3-8b",)
        env = {
            "QIRA_INFERENCE_CLOUD__BASE_URL": endpoint.base_url,
            "QIRA_INFERENCE_CLOUD__MODEL": "gpt-7",
            "QIRA_INFERENCE_CLOUD__API_KEY_ENV": "QIRA_TEST_KEY_NOBODY_SET",
        }
        doctor = cli("doctor", "--data-dir", str(tmp_path / "data"), "--skip-models", env=env)
        line = next(line for line in doctor.stdout.splitlines() if line.startswith("cloud endpoint"))
        assert doctor.returncode == 1 and "FAIL" in line
        assert "does not serve model 'gpt-7' (it serves: llama-3-8b)" in line
        endpoint.models = ("gpt-7",)
        doctor = cli("doctor", "--data-dir", str(tmp_path / "data"), "--skip-models", env=env)
        line = next(line for line in doctor.stdout.splitlines() if line.startswith("cloud endpoint"))
        assert doctor.returncode == 0 and "serves gpt-7" in line and "QIRA_TEST_KEY_NOBODY_SET is not set" in line


def test_third_party_import_chatter_stays_out_of_the_log():
    import logging

    from qira._logging import setup_logging

    setup_logging("info")
    try:
        assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)
        assert logging.getLogger("qira.hub").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger().handlers.clear()
