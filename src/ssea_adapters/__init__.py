"""ssea adapters: mount the core on a runtime (ASGI, WSGI) and drive it from the
shell."""

from ssea_adapters.asgi import create_app
from ssea_adapters.wsgi import create_wsgi_app

__all__ = ["create_app", "create_wsgi_app"]
