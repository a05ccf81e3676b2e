"""Dashboard metrics (SPEC §3, §5): periods, query parameters, answers and the reads.

``Analytics`` answers each dashboard read of one tenant from an
``AnalyticsRepository``, which reads rollups and the catalogue, never raw events.
Decisions where the SPEC is silent are written down in ``docs/metrics.md``.
"""

from ssea_core.metrics.period import Period, resolve_period
from ssea_core.metrics.repository import AnalyticsRepository
from ssea_core.metrics.service import Analytics

__all__ = ["Analytics", "AnalyticsRepository", "Period", "resolve_period"]
