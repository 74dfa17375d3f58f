"""The azt addon chain. Its order is set here and nowhere else."""

from azt.addons.admin import AdminApi
from azt.addons.barrier import Barrier
from azt.addons.certadvice import CertAdvice
from azt.addons.codex import CodexRoute
from azt.addons.connlimits import ConnectionLimits
from azt.addons.crosssite import CrossSite
from azt.addons.destinations import DestinationGuard
from azt.addons.flowfile import FlowFile
from azt.addons.handoff import PoolLink
from azt.addons.ingress import Ingress
from azt.addons.inspector import Inspector
from azt.addons.ledger import Ledger
from azt.addons.models import ModelList
from azt.addons.pooled import PooledRoutes
from azt.addons.poolerrors import PoolErrors
from azt.addons.redaction import Redactor
from azt.addons.scope import Scope
from azt.addons.translate import CounterHolder, Translate
from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.records.recorder import Recorder
from azt.routes import check_handled


def addon_chain(
    settings: Settings,
    catalog: CatalogHolder,
    pool: PoolLink,
    admin: AdminApi,
    *,
    recorder: Recorder | None = None,
) -> list[object]:
    """scope -> connection limits -> destination guard -> ingress -> cross-site checks ->
    local answers -> translation -> pool routes -> ledger -> barrier.

    Raises `UnhandledRoutes` if some route of the table would have no addon to serve it.
    """
    scope = Scope(settings)
    chain: list[object] = [
        scope,
        # After Scope, whose TLS decision says which tunnels pass through untimed.
        ConnectionLimits(settings),
        DestinationGuard(scope.intercepts, pool.port),
        CertAdvice(),
        Ingress(settings),
        CrossSite(settings),
        ModelList(catalog),
        admin,
        Translate(catalog, CounterHolder(settings), pool),
        PooledRoutes(pool),
        CodexRoute(catalog, pool),
        PoolErrors(),
        Ledger(recorder),
        *flow_debugging(settings, pool.secret),
        Barrier(),
    ]
    check_handled(chain)
    return chain


def flow_debugging(settings: Settings, pool_secret: str) -> list[object]:
    """The flow file and the inspector, if asked for; after the ledger, so they see each flow
    as the client got it, with its exchange complete."""
    redactor = Redactor(keep_bodies=settings.flow_bodies, known_secrets=(pool_secret,))
    debugging: list[object] = []
    if settings.save_flows:
        debugging.append(FlowFile(settings.save_flows, redactor))
    if settings.inspect:
        debugging.append(Inspector(settings.inspect_port, redactor))
    return debugging
