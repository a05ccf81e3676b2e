"""ssea core: framework-free learning analytics for Moodle (SPEC of SoftSys Edu
Analytics). Depends on protocols, never on a web framework or a database driver."""

from ssea_core.app import SseaApp, build_router
from ssea_core.clock import Clock, FixedClock, SystemClock
from ssea_core.context import Services
from ssea_core.errors import SseaError
from ssea_core.http import Request, Response
from ssea_core.ingest.models import EventIn
from ssea_core.ingest.service import Ingestor, IngestOutcome
from ssea_core.protocols import OperatorRepository, Store, TenantRepository
from ssea_core.settings import Settings

__all__ = [
    "Clock",
    "EventIn",
    "FixedClock",
    "IngestOutcome",
    "Ingestor",
    "OperatorRepository",
    "Request",
    "Response",
    "Services",
    "Settings",
    "SseaApp",
    "SseaError",
    "Store",
    "SystemClock",
    "TenantRepository",
    "build_router",
]
