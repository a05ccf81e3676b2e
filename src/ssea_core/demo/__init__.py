"""A deterministic generator of a realistic Moodle term: ``ssea demo``, benchmarks.

``generate_catalogue`` (or the streaming ``iter_catalogue``) gives the sync items,
``generate_events`` the event stream, and ``load_demo`` sends both to a tenant. Same
:class:`TermShape`, same output: only ``random.Random`` instances seeded from the shape
are used, and nothing is drawn at import time.
"""

from ssea_core.demo.catalogue import ENTITIES, generate_catalogue, iter_catalogue
from ssea_core.demo.events import generate_events
from ssea_core.demo.load import DemoPlanError, DemoProgress, DemoSummary, load_demo
from ssea_core.demo.shape import ARCHETYPE_NAMES, TermShape

__all__ = [
    "ARCHETYPE_NAMES",
    "ENTITIES",
    "DemoPlanError",
    "DemoProgress",
    "DemoSummary",
    "TermShape",
    "generate_catalogue",
    "generate_events",
    "iter_catalogue",
    "load_demo",
]
