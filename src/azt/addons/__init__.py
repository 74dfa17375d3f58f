"""The azt addon chain. Its order is set here and nowhere else."""

from azt.addons.admin import AdminApi
from azt.addons.barrier import Barrier
from azt.addons.certadvice import CertAdvice
from azt.addons.codex import CodexRoute
from azt.addons.flowfile import FlowFile
from azt.addons.ingress import Ingress
from azt.addons.inspector import Inspector
from azt.addons.ledger import Ledger
from azt.addons.models import ModelList
from azt.addons.openai_api import CounterHolder, OpenAIApi
from azt.addons.pooled import PooledRoutes
from azt.addons.redaction import Redactor
from azt.addons.scope import Scope
from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.records.recorder import Recorder
from azt.records.served import ServedBoard


def addon_chain(
    settings: Settings,
    catalog: CatalogHolder,
    pool_port: int,
    pool_secret: str,
    *,
    recorder: Recorder | None = None,
    served: ServedBoard | None = None,
    admin: AdminApi | None = None,
) -> list[object]:
    """scope -> ingress -> local answers -> translation -> pool routes -> ledger -> barrier."""
    return [
        Scope(settings),
        CertAdvice(),
        Ingress(settings),
        ModelList(catalog),
        *([admin] if admin is not None else []),
        OpenAIApi(catalog, CounterHolder(settings), pool_port, pool_secret),
        PooledRoutes(pool_port, pool_secret),
        CodexRoute(catalog, pool_port, pool_secret),
        Ledger(recorder, served),
        *flow_debugging(settings, pool_secret),
        Barrier(),
    ]


def flow_debugging(settings: Settings, pool_secret: str) -> list[object]:
    """The flow file and the inspector, if asked for; after the ledger, which strips the
    pool's routing headers off replies, so they record flows as the client got them."""
    redactor = Redactor(keep_bodies=settings.flow_bodies, known_secrets=(pool_secret,))
    debugging: list[object] = []
    if settings.save_flows:
        debugging.append(FlowFile(settings.save_flows, redactor))
    if settings.inspect:
        debugging.append(Inspector(settings.inspect_port, redactor))
    return debugging
