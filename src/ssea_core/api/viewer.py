"""Viewer routes for Moodle iframes (SPEC §3, §4.3): signed contexts, no JWT.

A student context reaches only its own pages (profile, progress, alerts); a teacher
context its own course health and at-risk students, and the student pages of students
in the courses it teaches. The policy narrows every
read to that scope, and the app writes an audit row for every viewer access.
"""

from __future__ import annotations

from ssea_core.api.dashboard import (
    analytics_for,
    list_answer,
    object_answer,
    page_answer,
)
from ssea_core.api.risk import alerts_answer, at_risk_answer
from ssea_core.api.schemas import ViewerPath
from ssea_core.context import RequestContext
from ssea_core.http import Response
from ssea_core.metrics.params import CoursesQuery, PeriodQuery
from ssea_core.metrics.results import CourseSummary, StudentProgress, UserProfile
from ssea_core.risk.answers import AlertItem, AlertsQuery, AtRiskItem, AtRiskQuery
from ssea_core.routing import Answer, Router

PREFIX = "/v1/tenants/{tenant_id}/viewer"


async def student_profile(ctx: RequestContext) -> Response:
    query = ctx.query(PeriodQuery)
    user_id = ctx.params["moodle_user_id"]
    return object_answer(await analytics_for(ctx).profile(user_id, query))


async def student_progress(ctx: RequestContext) -> Response:
    user_id = ctx.params["moodle_user_id"]
    return object_answer(await analytics_for(ctx).progress(user_id))


async def teacher_course_health(ctx: RequestContext) -> Response:
    return list_answer(*await analytics_for(ctx).courses(ctx.query(CoursesQuery)))


async def student_alerts(ctx: RequestContext) -> Response:
    """The student's own alerts (a teacher: those in the courses they teach)."""
    return await alerts_answer(ctx)


async def teacher_students_at_risk(ctx: RequestContext) -> Response:
    """The at-risk students of the courses the teacher teaches."""
    return await at_risk_answer(ctx)


def register(router: Router) -> None:
    """Add the viewer routes (viewer signatures only)."""
    student = PREFIX + "/student/{moodle_user_id}"
    no_user = Answer(404, "No such user in this tenant.")
    for suffix, handler, summary, query, responses in (
        (
            "/profile",
            student_profile,
            "The student's profile",
            PeriodQuery,
            (Answer(200, "As `GET …/users/{user_id}`.", UserProfile), no_user),
        ),
        (
            "/progress",
            student_progress,
            "The student's progress by course and activity",
            None,
            (Answer(200, "Each course with its activities.", StudentProgress), no_user),
        ),
        (
            "/alerts",
            student_alerts,
            "The student's alerts",
            AlertsQuery,
            (page_answer(AlertItem, "A page of the student's alerts."), no_user),
        ),
    ):
        router.add(
            "GET",
            student + suffix,
            handler,
            name=f"viewer_{handler.__name__}",
            auth=("viewer",),
            roles=("student", "teacher"),
            summary=summary,
            tags=("viewer",),
            path=ViewerPath,
            query=query,
            responses=responses,
        )
    router.add(
        "GET",
        PREFIX + "/teacher/{moodle_user_id}/courses/health",
        teacher_course_health,
        name="viewer_teacher_course_health",
        auth=("viewer",),
        roles=("teacher",),
        caller_path=True,
        summary="Health of the calling teacher's courses",
        tags=("viewer",),
        path=ViewerPath,
        query=CoursesQuery,
        responses=(
            page_answer(CourseSummary, "As `GET …/courses`, for their courses."),
            no_user,
        ),
    )
    router.add(
        "GET",
        PREFIX + "/teacher/{moodle_user_id}/students/at-risk",
        teacher_students_at_risk,
        name="viewer_teacher_students_at_risk",
        auth=("viewer",),
        roles=("teacher",),
        caller_path=True,
        summary="At-risk students of the calling teacher's courses",
        tags=("viewer",),
        path=ViewerPath,
        query=AtRiskQuery,
        responses=(
            page_answer(AtRiskItem, "As `GET …/at-risk`, for their courses."),
            no_user,
        ),
    )
