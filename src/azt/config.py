"""Settings, paths and their precedence: flags > environment > config file > defaults.

`AZT_HOME` overrides every path: the database, the config file and the CA all live there.
Each setting `name` can be set in the environment as `AZT_<NAME>` (upper case) and in
`config.toml` as `name = value`.
"""

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from azt.sites import normalise_origin

KiB = 1024
MiB = 1024 * KiB

CONFIG_FILE = "config.toml"
DATABASE_FILE = "azt.db"


class Settings(BaseModel):
    """Everything a user can tune. Field descriptions double as documentation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Address both listeners bind to.")
    port: int = Field(8787, ge=0, le=65535, description="Reverse (base-URL) listener port.")
    proxy_port: int = Field(8788, ge=0, le=65535, description="HTTP proxy listener port.")
    proxy: bool = Field(True, description="Run the HTTP proxy listener.")
    socks_port: int | None = Field(
        None, ge=0, le=65535, description="Also run a SOCKS5 proxy listener on this port."
    )
    allowed_hosts: list[str] = Field(
        [],
        description="Host names the base-URL listener answers besides localhost and its own "
        "addresses (and, when it listens beyond loopback, this machine's addresses and host "
        "name); other Host headers get a 403, which stops DNS rebinding.",
    )
    allowed_origins: list[str] = Field(
        [],
        description="Web origins (`https://app.example`) whose pages may call the API from a "
        "browser, besides pages on this machine (http://localhost:*, http://127.0.0.1:*, "
        "http://[::1]:*); requests from other sites get a 403.",
    )

    codex_base_url: str = Field(
        "https://chatgpt.com/backend-api/codex",
        description="Codex backend base; /responses, /responses/compact and /models hang off it.",
    )
    chatgpt_base_url: str = Field(
        "https://chatgpt.com/backend-api", description="ChatGPT backend base (/wham/usage)."
    )
    auth_base_url: str = Field(
        "https://auth.openai.com", description="OAuth issuer (/oauth/authorize, /oauth/token)."
    )
    oauth_client_id: str = Field("app_EMoamEEZ73f0CkXaXp7hrann", description="OAuth client id.")
    codex_client_version: str = Field(
        "0.169.0", description="client_version sent when fetching the model catalog."
    )

    body_limit_mb: int = Field(128, ge=1, description="Largest request body accepted, in MiB.")
    compact_body_limit_mb: int = Field(
        256, ge=1, description="Largest body accepted on /responses/compact, in MiB."
    )
    header_limit_kb: int = Field(
        64,
        ge=1,
        description="Largest request head (request line and headers) accepted, in KiB; a "
        "bigger one is answered 431 and its connection closed.",
    )
    header_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds a client has to send a complete request head, counted from "
        "connecting (TLS and proxy handshakes included) or from the first byte after an idle "
        "wait; then its connection is closed.",
    )
    idle_timeout_seconds: float = Field(
        75.0,
        gt=0,
        description="Seconds a client connection may stay open with no request in flight "
        "before it is closed.",
    )
    upstream_connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect upstream.")
    upstream_idle_timeout: float = Field(
        300.0, gt=0, description="Seconds without a byte from upstream before giving up."
    )
    pool_strategy: Literal["quota", "round-robin", "fill-first"] = Field(
        "quota",
        description="How to pick an account: most quota headroom, take turns, or fill one first.",
    )
    account_max_concurrency: int = Field(
        6, ge=1, description="Requests in flight at once per account; more wait in the queue."
    )
    pool_queue_max: int = Field(
        64, ge=0, description="Requests allowed to wait for a free account before a 429 busy."
    )
    pool_max_attempts: int = Field(
        4, ge=1, description="Accounts tried for one request before giving up."
    )
    pool_deadline_seconds: float = Field(
        120.0, gt=0, description="Time one request may spend waiting and failing over in all."
    )
    intercept_hosts: list[str] = Field(
        ["api.openai.com", "chatgpt.com"],
        description="Hosts whose TLS the proxy listener intercepts; every other host passes "
        "through untouched.",
    )
    intercept_passthrough: list[str] = Field(
        [
            "chatgpt.com/backend-api/wham/accounts/check",
            "chatgpt.com/backend-api/wham/settings/",
            "chatgpt.com/backend-api/ps/",
            "chatgpt.com/backend-api/plugins/",
            "chatgpt.com/backend-api/codex/analytics-events/",
        ],
        description="`host/path-prefix` entries on intercepted hosts that go on to the real host "
        "with the client's own credentials instead of a 404 (ChatGPT calls the Codex CLI needs).",
    )
    image_host_model: str = Field(
        "gpt-5.4-mini", description="The model that calls the image tool for Images API requests."
    )
    image_cache_ttl_seconds: int = Field(
        3600, ge=60, description='How long images served as `response_format: "url"` are kept.'
    )
    tokenizer_file: str | None = Field(
        None,
        description="An o200k_base vocabulary (`.tiktoken` file) for counting tokens offline.",
    )
    refresh_skew_seconds: int = Field(
        300, ge=0, description="Refresh an access token this long before it expires."
    )
    save_flows: str | None = Field(
        None,
        description="Write a redacted copy of every flow to this mitmproxy flow file (open it "
        "with `mitmweb -r FILE`); a leading `+` appends instead of overwriting.",
    )
    flow_bodies: bool = Field(
        False,
        description="Keep request and response bodies (prompts and outputs) in saved and "
        "inspected flows; credentials are redacted either way.",
    )
    inspect: bool = Field(
        False,
        description="Serve mitmweb's UI on 127.0.0.1 to watch redacted flows live; the start "
        "banner prints its URL with the access token.",
    )
    inspect_port: int = Field(
        8789, ge=0, le=65535, description="Port of the `inspect` UI (0: any free port)."
    )
    request_log_retention_days: int = Field(
        90,
        ge=1,
        description="Days raw request records are kept; usage totals and daily rollups are "
        "kept for good.",
    )
    log_previews: bool = Field(
        False,
        description="Keep the first characters of each prompt and reply in request records "
        "(secrets redacted). Off by default: records hold metadata only.",
    )
    prices: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="API prices in USD per million tokens (`input`, `cached_input`, `output`) "
        'by model or pattern, e.g. `[prices."gpt-5.4*"]`; merged over the built-in table '
        "and used for the equivalent API cost.",
    )

    @field_validator(
        "intercept_hosts",
        "intercept_passthrough",
        "allowed_hosts",
        "allowed_origins",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        # Environment variables hold lists as "a,b,c".
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalise_origin(entry) for entry in value]

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_json(cls, value: object) -> object:
        # The environment holds the table as JSON.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as e:
                raise ValueError(f"prices must be a JSON object: {e}") from e
        return value

    @field_validator("prices")
    @classmethod
    def _price_entries(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for pattern, entry in value.items():
            missing = {"input", "output"} - entry.keys()
            unknown = entry.keys() - {"input", "cached_input", "output"}
            if missing or unknown:
                raise ValueError(
                    f"prices.{pattern} needs `input` and `output` (and may have "
                    f"`cached_input`), got {sorted(entry)}"
                )
            if any(price < 0 for price in entry.values()):
                raise ValueError(f"prices.{pattern}: prices cannot be negative")
        return value

    @property
    def body_limit(self) -> int:
        return self.body_limit_mb * MiB

    @property
    def compact_body_limit(self) -> int:
        return self.compact_body_limit_mb * MiB

    @property
    def header_limit(self) -> int:
        return self.header_limit_kb * KiB


def data_dir() -> Path:
    """Where azt keeps its state: `AZT_HOME`, else the platform's user data directory.

    The directory is made private (0700) even when it existed before, so accounts and the CA
    key are never readable through a directory the user created with a looser mode.
    """
    home = os.environ.get("AZT_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir("azt", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(path)
    return path


def make_private(path: Path) -> None:
    """Take group and other permissions off a directory the current user owns.

    A directory someone else owns (a shared mount, root's) is left alone: changing it is not
    azt's call, and chmod would fail anyway.
    """
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: no POSIX modes to tighten
        return
    info = path.stat()
    if info.st_uid == getuid() and info.st_mode & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def database_path() -> Path:
    return data_dir() / DATABASE_FILE


def config_path() -> Path:
    return data_dir() / CONFIG_FILE


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


def _from_environment() -> dict[str, str]:
    found = {}
    for name in Settings.model_fields:
        value = os.environ.get(f"AZT_{name.upper()}")
        if value is not None:
            found[name] = value
    return found


def _from_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: {e}") from e


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Merge the sources in precedence order; `None` overrides mean "not given"."""
    merged: dict[str, Any] = {}
    merged.update(_from_file(config_path()))
    merged.update(_from_environment())
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from e
