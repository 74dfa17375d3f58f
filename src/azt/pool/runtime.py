"""Everything the pool needs at run time, built from settings in one place."""

from pathlib import Path

import httpx

from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.exchange import Exchanges
from azt.pool.accounts import Account
from azt.pool.book import AccountBook
from azt.pool.dispatch import Dispatcher
from azt.pool.hop import new_secret
from azt.pool.imagecache import ImageCache
from azt.pool.images import ImageService
from azt.pool.server import PoolApp
from azt.pool.slots import Slots
from azt.pool.tokens import TokenManager
from azt.pool.upstream import Upstream
from azt.store.accounts import AccountStore
from azt.store.catalog import CatalogStore
from azt.store.db import open_database
from azt.store.worker import StoreWorker


class PoolRuntime:
    """Store, store worker, account book, upstream client, token manager and dispatcher.

    Must be created inside a running event loop and closed with `aclose()`. `transport`
    replaces the network under the upstream client (tests use `httpx.MockTransport`).
    """

    def __init__(
        self,
        settings: Settings,
        database: Path,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.conn = open_database(database)
        self.accounts = AccountStore(self.conn)
        self.catalog_store = CatalogStore(self.conn)
        self.worker = StoreWorker()
        self.book = AccountBook(self.accounts, self.worker)
        self.upstream = Upstream(settings, transport)
        self.tokens = TokenManager(
            self.accounts, self.worker, self.upstream.client, settings, book=self.book
        )
        self.slots = Slots(settings.account_max_concurrency, settings.pool_queue_max)
        self.dispatcher = Dispatcher(settings, self.upstream, self.tokens, self.book, self.slots)
        self.catalog = CatalogHolder(lambda: self.worker.run(self.catalog_store.load))
        self.secret = new_secret()
        self.exchanges = Exchanges()  # the requests the gateway hands to the pool
        self.images = ImageService(
            self.dispatcher,
            ImageCache(database.parent / "images", settings.image_cache_ttl_seconds),
            settings.image_host_model,
        )
        self.app = PoolApp(
            self.dispatcher,
            self.secret,
            settings.codex_client_version,
            self.exchanges,
            accounts=self.list_accounts,
            images=self.images,
        )
        self.book.start()

    async def list_accounts(self) -> list[Account]:
        """Every pooled account as the pool sees it, newest quota included (see AccountBook)."""
        return await self.book.accounts()

    async def aclose(self) -> None:
        await self.book.aclose()  # before the worker closes: queued writes still land
        await self.upstream.aclose()
        self.worker.close()
        self.conn.close()
