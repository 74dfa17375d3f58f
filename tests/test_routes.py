import pytest

from azt.routes import MethodNotAllowed, RouteNotFound, normalise_path, resolve


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("POST", "/codex/v1/responses", "codex.responses"),
        ("POST", "/codex/v1/responses/", "codex.responses"),
        ("POST", "/codex/v1/responses/compact", "codex.compact"),
        ("GET", "/codex/v1/models?client_version=0.169.0", "codex.models"),
        ("GET", "/v1/models", "models.list"),
        ("get", "/v1/models", "models.list"),
        ("POST", "/v1/chat/completions", "chat.completions"),
        ("POST", "/v1/responses", "responses.create"),
        ("POST", "/api/openai/chat/completions", "chat.completions"),
        ("POST", "/api/openai/v1/chat/completions", "chat.completions"),
        ("POST", "/api/openai/v1/responses", "responses.create"),
        ("GET", "/api/openai/v1/models", "models.list"),
        ("GET", "/api/openai/models", "models.list"),
        ("POST", "/v1/images/generations", "images.generations"),
        ("POST", "/api/openai/v1/images/edits", "images.edits"),
        ("GET", "/_gateway/images/abc.png", "images.cached"),
        ("GET", "/backend-api/wham/usage", "usage.pooled"),
        ("GET", "/api/codex/usage", "usage.pooled"),
        ("GET", "/codex/v1/wham/usage", "usage.pooled"),
        ("GET", "/codex/v1/usage/", "usage.pooled"),
    ],
)
def test_known_routes(method: str, path: str, name: str) -> None:
    assert resolve(method, path).name == name


def test_wrong_method_names_the_allowed_ones() -> None:
    with pytest.raises(MethodNotAllowed) as info:
        resolve("GET", "/codex/v1/responses")
    assert info.value.allowed == ["POST"]


def test_unknown_route() -> None:
    with pytest.raises(RouteNotFound):
        resolve("GET", "/v2/everything")


def test_normalise_path() -> None:
    assert normalise_path("/a/b/?x=1") == "/a/b"
    assert normalise_path("/") == "/"
    assert normalise_path("/api/openai/v1/chat/completions?x") == "/v1/chat/completions"
