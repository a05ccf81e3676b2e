"""Query parameters and answers of the risk and alert routes (SPEC §3, §6).

Field names follow the public page (``seed/dashboard-api.txt``) where it shows them:
an at-risk item is ``user_id, username, full_name, risk_level, risk_score,
last_seen_at, days_inactive, completion_pct, acknowledged``; an alert is ``alert_id,
user_id, alert_type, severity, message, triggered_at, acknowledged``. Every answer
that shows a score says when it was computed for (``as_of``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ssea_core.metrics.params import FilterId, PageQuery, RiskLevel
from ssea_core.metrics.results import FactorItem, factor_items
from ssea_core.risk.alerts import AlertType
from ssea_core.risk.records import AlertRecord, AtRiskStudent
from ssea_core.risk.repository import AtRiskSort


class AtRiskQuery(PageQuery):
    """``course_id`` (that course's scores), ``risk_level``, ``sort``, a page."""

    course_id: FilterId | None = None
    risk_level: RiskLevel | None = None
    sort: AtRiskSort = "score_desc"


class AlertsQuery(PageQuery):
    """Pending alerts (``include_acknowledged`` for all), filters, a page."""

    include_acknowledged: bool = False
    user_id: FilterId | None = None
    course_id: FilterId | None = None
    alert_type: AlertType | None = None


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class AtRiskItem(_Answer):
    """An item of ``GET …/at-risk``."""

    user_id: str
    username: str | None
    full_name: str | None
    course_id: str | None
    risk_level: RiskLevel | None
    risk_score: float | None
    factors: list[FactorItem]
    last_seen_at: datetime | None
    days_inactive: int | None
    completion_pct: float | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    as_of: datetime

    @classmethod
    def of(cls, row: AtRiskStudent) -> AtRiskItem:
        risk, mark = row.risk, row.acknowledgement if row.acknowledged else None
        return cls(
            user_id=row.user_id,
            username=row.username,
            full_name=row.full_name,
            course_id=risk.course_id,
            risk_level=risk.level,
            risk_score=risk.score,
            factors=factor_items(risk.factors),
            last_seen_at=row.last_seen_at,
            days_inactive=risk.days_inactive,
            completion_pct=risk.completion_pct,
            acknowledged=mark is not None,
            acknowledged_at=mark.acknowledged_at if mark is not None else None,
            acknowledged_by=mark.acknowledged_by if mark is not None else None,
            as_of=risk.as_of,
        )


class AlertItem(_Answer):
    """An item of ``GET …/alerts``."""

    alert_id: str
    user_id: str
    course_id: str | None
    alert_type: str
    severity: str
    message: str
    triggered_at: datetime
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, row: AlertRecord) -> AlertItem:
        return cls(
            alert_id=row.alert_id,
            user_id=row.user_id,
            course_id=row.course_id,
            alert_type=row.alert_type,
            severity=row.severity,
            message=row.message,
            triggered_at=row.triggered_at,
            acknowledged=row.acknowledged,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
        )
