"""The OpenAPI document: a valid 3.1 document of exactly the route table, served at
``GET /openapi.json`` and printed by ``ssea openapi``, whose schemas the answers of
the API meet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from ssea_adapters.cli import cli
from ssea_core.app import build_router
from ssea_core.openapi import build_document
from ssea_core.records import TenantRecord
from ssea_core.routing import Answer, Router
from tests.support import Answer as ApiAnswer
from tests.support import ApiClient
from tests.test_dashboard_api import load

ROUTES = build_router().routes


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # Through JSON, as a client gets it: no tuples, no Python-only values.
    built: dict[str, Any] = json.loads(json.dumps(build_document(ROUTES)))
    return built


def operation(document: dict[str, Any], method: str, template: str) -> Any:
    return document["paths"][template][method.lower()]


def conforms(
    document: dict[str, Any], method: str, template: str, answer: ApiAnswer
) -> None:
    """Assert that the answer's status is documented and its body meets the schema."""
    responses = operation(document, method, template)["responses"]
    assert str(answer.status) in responses, (answer.status, answer.body)
    response = responses[str(answer.status)]
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = document["components"]["responses"][name]
    schema = response["content"]["application/json"]["schema"]
    # The components travel along so that "#/components/..." resolves.
    rooted = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(
        rooted, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(answer.json())
    for name, header in response.get("headers", {}).items():
        if name == "X-Total-Count":
            assert answer.headers[name.lower()].isdigit(), header


# -- the document -----------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")

    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_is_an_operation_and_nothing_else(
    document: dict[str, Any],
) -> None:
    documented = {
        (method.upper(), template)
        for template, item in document["paths"].items()
        for method in item
    }

    assert documented == {(route.method, route.template) for route in ROUTES}
    assert len(ROUTES) == len(documented)
    ids = [
        op["operationId"] for item in document["paths"].values() for op in item.values()
    ]
    assert len(ids) == len(set(ids))


def test_the_artifact_key_is_one_path_parameter(document: dict[str, Any]) -> None:
    found = operation(document, "GET", "/v1/artifacts/{tenant_id}/{key}")

    names = [(item["name"], item["in"]) for item in found["parameters"]]
    assert names == [
        ("tenant_id", "path"),
        ("key", "path"),
        ("expires", "query"),
        ("signature", "query"),
    ]


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_each_operation_names_its_credentials_and_errors(
    document: dict[str, Any], route: Any
) -> None:
    found = operation(document, route.method, route.template)
    statuses = set(found["responses"])

    expected_security = {
        "api_key": [{"ApiKey": []}],
        "session": [{"Session": []}],
        "viewer": [{"ViewerContext": [], "ViewerSignature": []}],
    }
    if route.is_public:
        assert found["security"] == []
    else:
        wanted = [expected_security[kind][0] for kind in route.auth]
        assert found["security"] == wanted
        assert {"401", "403"} <= statuses
    assert "503" in statuses
    assert any(status.startswith(("2", "3")) for status in statuses)
    if route.body is not None:
        assert {"400", "413", "422"} <= statuses
        assert "requestBody" in found
    if route.query is not None:
        assert "400" in statuses
        names = {item["name"] for item in found["parameters"] if item["in"] == "query"}
        fields = {
            field.alias or name for name, field in route.query.model_fields.items()
        }
        assert names == fields
    if route.rate_group != "none":
        assert "429" in statuses
    path_names = [item["name"] for item in found["parameters"] if item["in"] == "path"]
    assert path_names == list(route.parameters)


def test_every_error_answer_is_the_envelope(document: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorAnswer"}
    for item in document["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    response = document["components"]["responses"][name]
                schema = response["content"]["application/json"]["schema"]
                assert schema == envelope, (op["operationId"], status)


def test_lists_document_their_total_header(document: dict[str, Any]) -> None:
    users = operation(document, "GET", "/v1/tenants/{tenant_id}/users")["responses"]

    assert "X-Total-Count" in users["200"]["headers"]
    assert users["200"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/UserSummary"},
    }


def test_a_path_model_must_name_the_path_parameters() -> None:
    from ssea_core.api.schemas import UserPath

    router = Router()

    async def handler(_ctx: Any) -> Any:
        raise NotImplementedError

    router.add(
        "GET",
        "/v1/tenants/{tenant_id}/courses/{course_id}",
        handler,
        path=UserPath,
        responses=(Answer(200, "ok"),),
    )

    with pytest.raises(ValueError, match="path model names"):
        build_document(router.routes)


# -- where to get it ------------------------------------------------------------------


async def test_the_service_serves_it_without_a_credential(
    anonymous: ApiClient, document: dict[str, Any]
) -> None:
    answer = await anonymous.get("/openapi.json")

    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == document
    assert "x-ratelimit-limit" not in answer.headers
    again = await anonymous.get("/openapi.json")
    assert again.body == answer.body


def test_the_cli_prints_it(document: dict[str, Any], tmp_path: Path) -> None:
    runner = CliRunner()

    pretty = runner.invoke(cli, ["openapi"])
    one_line = runner.invoke(cli, ["openapi", "--json"])
    written = runner.invoke(cli, ["openapi", "--output", str(tmp_path / "api.json")])

    assert pretty.exit_code == 0, pretty.output
    assert json.loads(pretty.stdout) == document
    assert pretty.stdout.startswith('{\n  "openapi"')
    assert one_line.stdout.count("\n") == 1
    assert json.loads(one_line.stdout) == document
    assert written.exit_code == 0, written.output
    assert json.loads((tmp_path / "api.json").read_text()) == document
    assert written.stdout.strip() == (
        f"Wrote {len(ROUTES)} operations to {tmp_path / 'api.json'}."
    )


# -- answers meet their schemas -----------------------------------------------------


async def test_dashboard_answers_meet_their_schemas(
    client: ApiClient, tenant: TenantRecord, document: dict[str, Any]
) -> None:
    await load(client)
    prefix = f"/v1/tenants/{tenant.tenant_id}"
    reads = [
        ("/overview", "/v1/tenants/{tenant_id}/overview", {}),
        ("/overview/trends", "/v1/tenants/{tenant_id}/overview/trends", {}),
        ("/users", "/v1/tenants/{tenant_id}/users", {"limit": 2}),
        ("/users/u1", "/v1/tenants/{tenant_id}/users/{user_id}", {}),
        ("/top", "/v1/tenants/{tenant_id}/top", {}),
        ("/heatmap", "/v1/tenants/{tenant_id}/heatmap", {"tz": "Europe/Madrid"}),
        ("/courses", "/v1/tenants/{tenant_id}/courses", {}),
        ("/grades", "/v1/tenants/{tenant_id}/grades", {}),
        (
            "/courses/c1/grades",
            "/v1/tenants/{tenant_id}/courses/{course_id}/grades",
            {},
        ),
        ("/enrollments", "/v1/tenants/{tenant_id}/enrollments", {}),
        ("/completion", "/v1/tenants/{tenant_id}/completion", {}),
        ("/branding", "/v1/tenants/{tenant_id}/branding", {}),
        ("/users/nobody", "/v1/tenants/{tenant_id}/users/{user_id}", {}),
        ("/users", "/v1/tenants/{tenant_id}/users", {"limit": 0}),
    ]
    for path, template, params in reads:
        answer = await client.get(prefix + path, params=params)
        conforms(document, "GET", template, answer)

    statuses = [
        (await client.get(prefix + path, params=params)).status
        for path, _template, params in reads[-2:]
    ]
    assert statuses == [404, 400]


async def test_write_and_error_answers_meet_their_schemas(
    client: ApiClient,
    anonymous: ApiClient,
    tenant: TenantRecord,
    document: dict[str, Any],
) -> None:
    prefix = f"/v1/tenants/{tenant.tenant_id}"
    event = {
        "event_type": "course_viewed",
        "user_id": 7,
        "course_id": 3,
        "timestamp": "2026-03-01T10:00:00Z",
    }
    calls: list[tuple[ApiClient, str, str, str, Any]] = [
        (client, "POST", "/v1/events", "/v1/events", event),
        (client, "POST", "/v1/events", "/v1/events", event),  # a duplicate
        (client, "POST", "/v1/events", "/v1/events", {"user_id": 7}),
        (
            client,
            "POST",
            "/v1/events/batch",
            "/v1/events/batch",
            {"events": [event, {"nope": 1}]},
        ),
        (
            client,
            "POST",
            "/v1/sync/users",
            "/v1/sync/{entity}",
            {"items": [{"user_id": 7}, {"user_id": ""}]},
        ),
        (
            client,
            "POST",
            prefix + "/monitors",
            "/v1/tenants/{tenant_id}/monitors",
            {"name": "Quiet", "target": "students", "filters": {"inactive_days": 7}},
        ),
        (
            client,
            "POST",
            prefix + "/reports/jobs",
            "/v1/tenants/{tenant_id}/reports/jobs",
            {"report_type": "activity_funnel"},
        ),
        (
            client,
            "POST",
            prefix + "/alerts/acknowledge-all",
            "/v1/tenants/{tenant_id}/alerts/acknowledge-all",
            None,
        ),
        (
            anonymous,
            "GET",
            prefix + "/overview",
            "/v1/tenants/{tenant_id}/overview",
            None,
        ),
        (anonymous, "GET", "/health", "/health", None),
        (anonymous, "POST", "/v1/auth/sso", "/v1/auth/sso", {"token": "x"}),
    ]
    seen = []
    for caller, method, path, template, body in calls:
        answer = await caller.request(method, path, json_body=body)
        conforms(document, method, template, answer)
        seen.append(answer.status)

    assert seen == [202, 202, 422, 202, 202, 201, 202, 200, 401, 200, 401]
    jobs = await client.get(prefix + "/reports/jobs")
    conforms(document, "GET", "/v1/tenants/{tenant_id}/reports/jobs", jobs)
    job_id = jobs.json()[0]["job_id"]
    one = await client.get(f"{prefix}/reports/jobs/{job_id}")
    conforms(document, "GET", "/v1/tenants/{tenant_id}/reports/jobs/{job_id}", one)
    monitors = await client.get(prefix + "/monitors")
    conforms(document, "GET", "/v1/tenants/{tenant_id}/monitors", monitors)
