"""The smallest Django project that mounts ssea: settings, a view and the URLs, in one
file. ssea is mounted in ``wsgi.py``, in front of Django, not in these URLs."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

# An example's key: a real project reads its own from the environment.
SECRET_KEY = "example-only-not-a-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True


def home(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"app": "django", "analytics": "/analytics/health"})


urlpatterns = [path("", home)]
