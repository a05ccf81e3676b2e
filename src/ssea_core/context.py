"""What a handler gets: the request, its path parameters, the caller and services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from ssea_core.artifacts import ArtifactStore
from ssea_core.auth.principal import Principal
from ssea_core.auth.scope import Scope
from ssea_core.clock import Clock
from ssea_core.errors import BadRequestError, ValidationFailedError
from ssea_core.http import Request, storable_text
from ssea_core.metrics.repository import AnalyticsRepository
from ssea_core.protocols import Store, TenantRepository
from ssea_core.settings import Settings
from ssea_core.validation import describe_errors

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived parts an application is built from.

    ``artifacts`` is where report artifacts go; None in an application that serves
    no report downloads (their routes then answer 503).
    """

    store: Store
    settings: Settings
    clock: Clock
    artifacts: ArtifactStore | None = None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request as a handler sees it; the policy already decided what it may see."""

    request: Request
    params: dict[str, str]
    services: Services
    principal: Principal | None = None
    granted: Scope | None = None

    @property
    def caller(self) -> Principal:
        """The authenticated principal; only public routes have none."""
        if self.principal is None:
            raise RuntimeError("this route is public: it has no principal")
        return self.principal

    @property
    def tenant_id(self) -> UUID:
        return self.caller.tenant_id

    @property
    def scope(self) -> Scope:
        """What the caller may see, as decided by ``ssea_core.policy``."""
        if self.granted is None:
            raise RuntimeError("this route is public: it has no scope")
        return self.granted

    def repository(self) -> TenantRepository:
        """The repository of the caller's tenant."""
        return self.services.store.for_tenant(self.caller.tenant_id)

    def analytics(self) -> AnalyticsRepository:
        """The dashboard reads of the caller's tenant, narrowed to the scope."""
        return self.repository().analytics(self.scope)

    def body(self, model: type[ModelT]) -> ModelT:
        """Parse the JSON body into ``model``: 400 when not JSON, 422 when invalid."""
        payload: Any = self.request.json()
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise ValidationFailedError(
                describe_errors(exc),
                details=exc.errors(include_url=False, include_input=False),
            ) from exc

    def query(self, model: type[ModelT]) -> ModelT:
        """Parse the query string into ``model``; a bad parameter is a 400, and so
        is a NUL character anywhere in the query (no store can search for one)."""
        flat = {key: values[-1] for key, values in self.request.query.items()}
        if not all(map(storable_text, [*flat, *flat.values()])):
            raise BadRequestError(
                "A query parameter holds a NUL character or an unpaired surrogate."
            )
        try:
            return model.model_validate(flat)
        except ValidationError as exc:
            raise BadRequestError(describe_errors(exc, what="query parameter")) from exc
