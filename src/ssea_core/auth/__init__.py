"""Authentication: API keys, session JWTs, the SSO exchange and viewer signatures.

What a plugin or integrator calls from Python: :func:`sign_viewer_context` makes the
two headers of a Moodle iframe request; :class:`Scope` is what the policy hands to
every read. The scheme of each credential is documented in its module and in
``docs/auth.md``.
"""

from ssea_core.auth.principal import Principal
from ssea_core.auth.scope import Scope
from ssea_core.auth.viewer import ViewerHeaders, sign_viewer_context

__all__ = ["Principal", "Scope", "ViewerHeaders", "sign_viewer_context"]
