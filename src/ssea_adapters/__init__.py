"""ssea adapters: mount the core on a runtime (ASGI) and drive it from the shell."""

from ssea_adapters.asgi import create_app

__all__ = ["create_app"]
