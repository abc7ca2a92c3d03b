import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from qira.config import Config, ensure_data_dir, load_config
from qira.errors import ConfigError, DataDirError

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_mirrors_builtin_defaults():
    with (ROOT / "config" / "default.toml").open("rb") as fh:
        assert Config.model_validate(tomllib.load(fh)) == Config()


def test_defaults_without_any_file(tmp_path):
    config = load_config(env={"QIRA_HUB_DATA_DIR": str(tmp_path)})
    assert config.hub.port == 8765
    assert config.hub.host == "127.0.0.1"
    assert config.inference.cloud.base_url == ""
    assert config.data_dir == tmp_path


def test_layers_file_then_env_then_flags(tmp_path):
    file = tmp_path / "q.toml"
    file.write_text('[hub]\nport = 9000\nlog_level = "debug"\n[inference]\npolicy = "local-only"\n')
    config = load_config(
        file,
        env={"QIRA_HUB_PORT": "9100", "QIRA_INFERENCE_CLOUD__BASE_URL": "http://127.0.0.1:1/v1"},
        overrides={"hub": {"port": 9200}},
    )
    assert config.hub.port == 9200
    assert config.hub.log_level == "debug"
    assert config.inference.policy == "local-only"
    assert config.inference.cloud.base_url == "http://127.0.0.1:1/v1"


def test_config_toml_in_data_dir_is_read(tmp_path):
    (tmp_path / "config.toml").write_text("[agent]\nskill_timeout_s = 3.5\n")
    config = load_config(env={"QIRA_HUB_DATA_DIR": str(tmp_path)})
    assert config.agent.skill_timeout_s == 3.5


def test_config_is_frozen():
    with pytest.raises(ValidationError):  # pydantic's frozen models refuse assignment
        Config().hub.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[hub]\nprot = 1\n", "hub.prot: unknown key"),
        ("[hubb]\nport = 1\n", "hubb: unknown key"),
        ('[hub]\nport = "high"\n', "hub.port:"),
        ("[hub]\nport = 70000\n", "hub.port:"),
        ('[inference]\npolicy = "cloud-always"\n', "inference.policy:"),
        ("[inference.cloud]\nmax_retries = 1.5\n", "inference.cloud.max_retries:"),
        ("[hub\nport = 1\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, expected):
    file = tmp_path / "bad.toml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(file, env={})
    message = str(info.value)
    assert message.startswith(str(file))
    assert expected in message
    assert "\n" not in message


def test_bad_environment_variable_names_the_key():
    with pytest.raises(ConfigError, match=r"^environment: hub\.port: "):
        load_config(env={"QIRA_HUB_PORT": "eighty"})


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path, env={})  # a directory


def test_unrelated_qira_variables_are_ignored():
    config = load_config(env={"QIRA_CLOUD_API_KEY": "secret", "QIRA_SOMETHING": "x"})
    assert config == Config()


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = load_config(env={"QIRA_HUB_DATA_DIR": str(blocker / "data")})
    with pytest.raises(DataDirError, match="not writable"):
        ensure_data_dir(config)
