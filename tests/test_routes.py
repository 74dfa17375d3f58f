import pytest

from azt.routes import (
    PREFLIGHT_ROUTE,
    Handler,
    MethodNotAllowed,
    RouteHandler,
    RouteNotFound,
    UnhandledRoutes,
    all_routes,
    check_handled,
    methods_for,
    normalise_path,
    preflight,
    resolve,
)


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


class _Serves:
    def __init__(self, handler: Handler) -> None:
        self.HANDLES = handler


def test_a_route_without_its_handler_is_refused_before_any_request() -> None:
    """Assembling addons that leave a route unserved fails, naming the routes."""
    every = [_Serves(handler) for handler in Handler]
    check_handled(every)
    without_images = [addon for addon in every if addon.HANDLES is not Handler.POOL]
    with pytest.raises(UnhandledRoutes) as caught:
        check_handled([*without_images, object()])
    assert "images.generations" in str(caught.value) and "usage.pooled" in str(caught.value)


def test_the_gateway_chain_serves_every_route(tmp_path) -> None:
    """The real addon chain names a handler for every route of the table."""
    from azt.addons import addon_chain
    from azt.addons.admin import AdminApi
    from azt.addons.handoff import PoolLink
    from azt.catalog import CatalogHolder
    from azt.config import Settings
    from azt.exchange import Exchanges

    async def nothing() -> None:
        return None

    admin = AdminApi(None, None, None)  # type: ignore[arg-type]
    chain = addon_chain(Settings(), CatalogHolder(nothing), PoolLink(1, "s", Exchanges()), admin)
    check_handled(chain)
    assert {addon.HANDLES for addon in chain if isinstance(addon, RouteHandler)} == set(Handler)


def test_every_route_speaks_a_dialect_records_can_group_by() -> None:
    """Records store the route's dialect; the names are the ones statistics know."""
    assert {route.dialect.value for route in all_routes()} == {
        "codex",
        "chat",
        "responses",
        "images",
        "models",
        "usage",
        "admin",
    }


def test_methods_for_a_path() -> None:
    assert methods_for("/v1/images/generations") == ["POST"]
    assert methods_for("/api/openai/v1/models/") == ["GET"]
    assert methods_for("/_gateway/images/abc.png") == ["GET"]
    assert methods_for("/v1/files") == []


def test_preflights_have_a_route_for_every_path_of_the_table() -> None:
    assert preflight("/v1/chat/completions") is PREFLIGHT_ROUTE
    assert not PREFLIGHT_ROUTE.recorded
    with pytest.raises(RouteNotFound):
        preflight("/v1/files")
