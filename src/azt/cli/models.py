"""`azt models`: list the model catalog, or refresh it from the Codex backend."""

import asyncio
import datetime
import json

import click

from azt.catalog import Catalog, CatalogFormatError, models_from_reply
from azt.cli.common import EXIT_UNAVAILABLE, fail, open_stores, print_json
from azt.config import database_path, load_settings
from azt.errors import ApiError
from azt.exchange import Client, Exchange
from azt.pool.runtime import PoolRuntime
from azt.pool.upstream import UpstreamCall, UpstreamError


async def refresh_catalog() -> Catalog:
    """Fetch `/models` with a pooled account (refreshing its token if needed) and store it."""
    settings = load_settings()
    runtime = PoolRuntime(settings, database_path())
    try:
        call = UpstreamCall(
            "GET",
            "/models",
            {"accept": "application/json"},
            params={"client_version": settings.codex_client_version},
        )
        exchange = Exchange(id="azt-models", client=Client(""), method="GET", path="/models")
        opened = await runtime.dispatcher.open(call, exchange)
        try:
            body = opened.prelude + b"".join([chunk async for chunk in opened.chunks])
        except UpstreamError as e:
            raise ApiError(502, f"the backend's model list broke off: {e.reason}") from e
        finally:
            opened.release()
            await opened.response.aclose()
        try:
            models = models_from_reply(json.loads(body) if body else None)
        except (ValueError, CatalogFormatError) as e:
            raise ApiError(502, f"the backend's model list is unreadable: {e}") from e
        etag = opened.response.headers.get("etag") or opened.response.headers.get("x-models-etag")
        stored = await runtime.worker.run(
            runtime.catalog_store.save, models, etag, settings.codex_client_version
        )
        return Catalog.from_stored(stored)
    finally:
        await runtime.aclose()


@click.command()
@click.option("--refresh", is_flag=True, help="Fetch the current list from the Codex backend.")
@click.option("--all", "show_all", is_flag=True, help="Include models hidden from pickers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(refresh: bool, show_all: bool, as_json: bool) -> None:
    """List the models azt offers."""
    if refresh:
        try:
            catalog = asyncio.run(refresh_catalog())
        except ApiError as e:
            fail(f"could not refresh the model list: {e.message}", EXIT_UNAVAILABLE)
    else:
        with open_stores() as stores:
            catalog = Catalog.from_stored(stores.catalog.load())
    shown = list(catalog.models) if show_all else catalog.listed()
    if as_json:
        print_json(
            {
                "source": catalog.source,
                "fetched_at": catalog.fetched_at,
                "models": [m["slug"] for m in shown],
            }
        )
        return
    when = (
        datetime.datetime.fromtimestamp(catalog.fetched_at).isoformat(timespec="seconds")
        if catalog.fetched_at
        else "never"
    )
    click.echo(f"{len(shown)} models (source: {catalog.source}, fetched: {when})")
    for model in shown:
        click.echo(f"  {model['slug']}")


COMMANDS = [models]
