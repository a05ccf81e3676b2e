"""Who may call what. The only place that decides on roles and tenants.

Invariants: a path that names a tenant is served only to a principal of that tenant
(403 otherwise), and a route is served only to the roles it lists.
"""

from __future__ import annotations

from uuid import UUID

from ssea_core.auth.principal import Principal
from ssea_core.errors import ForbiddenError, TenantMismatchError
from ssea_core.routing import Route


def path_tenant(params: dict[str, str]) -> UUID | None:
    """The tenant a path names; an unparsable id names no tenant of anyone's."""
    raw = params.get("tenant_id")
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError as exc:
        raise TenantMismatchError from exc


def authorize(route: Route, principal: Principal, params: dict[str, str]) -> None:
    """Raise 403 unless ``principal`` may call ``route`` with these path parameters."""
    tenant = path_tenant(params)
    if tenant is not None and tenant != principal.tenant_id:
        raise TenantMismatchError
    if principal.role not in route.roles:
        raise ForbiddenError(f"The role {principal.role} may not call {route.name}.")
