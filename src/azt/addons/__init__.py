"""The azt addon chain. Its order is set here and nowhere else."""

from azt.addons.barrier import Barrier
from azt.addons.certadvice import CertAdvice
from azt.addons.codex import CodexRoute
from azt.addons.ingress import Ingress
from azt.addons.ledger import Ledger
from azt.addons.models import ModelList
from azt.addons.openai_api import CounterHolder, OpenAIApi
from azt.addons.pooled import PooledRoutes
from azt.addons.scope import Scope
from azt.catalog import CatalogHolder
from azt.config import Settings


def addon_chain(
    settings: Settings, catalog: CatalogHolder, pool_port: int, pool_secret: str
) -> list[object]:
    """scope -> ingress -> local answers -> translation -> pool routes -> ledger -> barrier."""
    return [
        Scope(settings),
        CertAdvice(),
        Ingress(settings),
        ModelList(catalog),
        OpenAIApi(catalog, CounterHolder(settings), pool_port, pool_secret),
        PooledRoutes(pool_port, pool_secret),
        CodexRoute(catalog, pool_port, pool_secret),
        Ledger(),
        Barrier(),
    ]
