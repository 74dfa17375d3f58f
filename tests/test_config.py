import os
from pathlib import Path

import pytest

from azt.config import Settings, SettingsError, config_path, data_dir, load_settings

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_defaults() -> None:
    settings = load_settings()
    assert (settings.host, settings.port, settings.proxy_port) == ("127.0.0.1", 8787, 8788)


def test_precedence_flags_over_env_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    config_path().write_text('port = 1111\nproxy_port = 2222\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("AZT_PROXY_PORT", "3333")
    monkeypatch.setenv("AZT_HOST", "127.0.0.3")
    settings = load_settings({"host": "127.0.0.4", "port": None})
    assert (settings.port, settings.proxy_port, settings.host) == (1111, 3333, "127.0.0.4")


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZT_PORT", "not-a-port")
    with pytest.raises(SettingsError, match="port"):
        load_settings()


def test_unknown_file_keys_are_refused() -> None:
    config_path().write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings()


def test_broken_toml_is_reported() -> None:
    config_path().write_text("port = \n")
    with pytest.raises(SettingsError, match="config.toml"):
        load_settings()


def test_azt_home_holds_the_state(azt_home: Path) -> None:
    assert data_dir() == azt_home and azt_home.is_dir()
    assert (azt_home.stat().st_mode & 0o777) == 0o700


def test_an_existing_loose_data_dir_is_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "made-by-the-user"
    home.mkdir(mode=0o755)
    home.chmod(0o775)  # mkdir's mode goes through the umask
    monkeypatch.setenv("AZT_HOME", str(home))
    assert data_dir() == home
    assert (home.stat().st_mode & 0o777) == 0o700


def test_a_data_dir_owned_by_someone_else_keeps_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o755)
    monkeypatch.setenv("AZT_HOME", str(home))
    monkeypatch.setattr(os, "getuid", lambda: home.stat().st_uid + 1)
    assert data_dir() == home
    assert (home.stat().st_mode & 0o777) == 0o755


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for name in Settings.model_fields:
        assert f"| `{name}` | `AZT_{name.upper()}` |" in text, name
