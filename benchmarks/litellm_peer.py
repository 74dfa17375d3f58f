"""LiteLLM proxy set up as azt's peer: the same Codex backend, the same client-facing routes.

LiteLLM's `chatgpt/` provider is its ChatGPT-subscription route: it sends Chat Completions and
Responses requests to the Codex backend's `/responses` as `store:false, stream:true` and folds
the SSE answer back into a non-streamed reply when the client asked for one, which is the work
azt does. The provider reads its OAuth tokens from `$CHATGPT_TOKEN_DIR/auth.json` (a flat
record, unlike Codex's nested `tokens`) and its backend from `$CHATGPT_API_BASE`, so we copy the
simulator's account into that file and point the base at the simulator. Everything LiteLLM
would otherwise fetch or record (cost map and other remote JSON, database, spend logs, message
logging, callbacks) is turned off, and it runs one uvicorn worker with warning-level logs.
"""

import base64
import json
import os
from pathlib import Path
from typing import Any

MODEL = "gpt-5.4"

# Fetched from GitHub at import or startup unless told to use the bundled copy.
_LOCAL_DATA = (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_BLOG_POSTS",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS",
    "LITELLM_LOCAL_POLICY_TEMPLATES",
)

# Inherited settings that would add a database, a cache or a key, or move the token file.
_DROPPED_ENV = (
    "CHATGPT_AUTH_FILE",
    "DATABASE_URL",
    "DIRECT_URL",
    "REDIS_HOST",
    "REDIS_URL",
    "LITELLM_MASTER_KEY",
    "LITELLM_CONFIG_PATH",
    "CONFIG_FILE_PATH",
)

_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: chatgpt/{model}
litellm_settings:
  callbacks: []
  success_callback: []
  failure_callback: []
  turn_off_message_logging: true
general_settings:
  # azt takes loopback requests without a client key; LiteLLM refuses that unless told.
  dangerously_permit_weak_or_unset_master_key: true
  disable_spend_logs: true
  disable_error_logs: true
  store_model_in_db: false
  background_health_checks: false
router_settings:
  # A benchmark should see an upstream failure, not a retry hiding it.
  num_retries: 0
"""


def _jwt_exp(token: str) -> int | None:
    """The `exp` claim of a JWT, read without verifying it (the simulator signs its own)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return int(exp) if isinstance(exp, int | float) else None


def _token_record(auth_file: Path) -> dict[str, Any]:
    """The provider's flat token record, from a Codex `auth.json` (tokens under `tokens`)."""
    tokens = json.loads(auth_file.read_text())["tokens"]
    record: dict[str, Any] = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "id_token": tokens["id_token"],
        "account_id": tokens["account_id"],
    }
    # Stored up front, else the provider derives it and rewrites the file on the first request.
    exp = _jwt_exp(tokens["access_token"])
    if exp is not None:
        record["expires_at"] = exp
    return record


def litellm_command(
    litellm: Path, workdir: Path, sim_url: str, auth_file: Path, port: int
) -> tuple[list[str], dict[str, str]]:
    """Write LiteLLM's config and token file into `workdir`; return its argv and environment."""
    workdir.mkdir(parents=True, exist_ok=True)
    token_dir = workdir / "chatgpt"
    token_dir.mkdir(mode=0o700, exist_ok=True)
    token_file = token_dir / "auth.json"
    token_file.write_text(json.dumps(_token_record(auth_file)))
    token_file.chmod(0o600)  # live tokens, even if only the simulator's
    config = workdir / "litellm.yaml"
    config.write_text(_CONFIG.format(model=MODEL))

    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(dict.fromkeys(_LOCAL_DATA, "True"))
    env.update(
        {
            "CHATGPT_TOKEN_DIR": str(token_dir),
            "CHATGPT_API_BASE": f"{sim_url.rstrip('/')}/backend-api/codex",
            # The provider's default is the Codex CLI's ~8 KB system prompt; azt adds none. A
            # non-empty value is needed (empty means default) and a space stays out of the way.
            "CHATGPT_DEFAULT_INSTRUCTIONS": " ",
            "LITELLM_LOG": "WARNING",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
            # Loopback traffic must not detour through an inherited HTTP proxy.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    argv = [
        str(litellm),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    return argv, env
