"""Everything the pool needs at run time, built from settings in one place."""

from pathlib import Path

from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.pool.accounts import Account
from azt.pool.book import AccountBook
from azt.pool.dispatch import Dispatcher
from azt.pool.imagecache import ImageCache
from azt.pool.images import ImageService
from azt.pool.server import PoolApp, new_secret
from azt.pool.slots import Slots
from azt.pool.tokens import TokenManager
from azt.pool.upstream import make_client
from azt.records.served import ServedBoard
from azt.store.accounts import AccountStore
from azt.store.catalog import CatalogStore
from azt.store.db import open_database
from azt.store.worker import StoreWorker


class PoolRuntime:
    """Store, store worker, account book, upstream client, token manager and dispatcher.

    Must be created inside a running event loop and closed with `aclose()`.
    """

    def __init__(self, settings: Settings, database: Path) -> None:
        self.settings = settings
        self.database = database
        self.conn = open_database(database)
        self.accounts = AccountStore(self.conn)
        self.catalog_store = CatalogStore(self.conn)
        self.worker = StoreWorker()
        self.book = AccountBook(self.accounts, self.worker)
        self.client = make_client(settings)
        self.tokens = TokenManager(
            self.accounts, self.worker, self.client, settings, book=self.book
        )
        self.slots = Slots(settings.account_max_concurrency, settings.pool_queue_max)
        self.dispatcher = Dispatcher(settings, self.client, self.tokens, self.book, self.slots)
        self.catalog = CatalogHolder(lambda: self.worker.run(self.catalog_store.load))
        self.secret = new_secret()
        self.served = ServedBoard()  # what the pool tells the ledger about each request
        self.images = ImageService(
            self.dispatcher,
            ImageCache(database.parent / "images", settings.image_cache_ttl_seconds),
            settings.image_host_model,
            self.served,
        )
        self.app = PoolApp(
            self.dispatcher,
            self.secret,
            settings.codex_client_version,
            accounts=self.list_accounts,
            images=self.images,
            board=self.served,
        )
        self.book.start()

    async def list_accounts(self) -> list[Account]:
        """Every pooled account as the pool sees it, newest quota included (see AccountBook)."""
        return await self.book.accounts()

    async def aclose(self) -> None:
        await self.book.aclose()  # before the worker closes: queued writes still land
        await self.client.aclose()
        self.worker.close()
        self.conn.close()
