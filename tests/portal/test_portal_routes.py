"""Every portal route has an owner: generated from the app's own routes (so a new page without
a rule fails here), anonymous visitors are sent to the login page, and every form POST is
refused without a session and its CSRF token. The API's routes are in the permission matrix
(tests/security), generated from the OpenAPI document."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fastapi.routing import APIRoute, iter_route_contexts

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

# Open to anyone, each for its reason.
PUBLIC = {
    ("GET", "/login"),  # the form itself
    ("POST", "/login"),  # checked by its own login-form token
    ("POST", "/logout"),  # ends whatever session there is
    ("GET", "/lang/{locale}"),  # a language cookie
    ("GET", "/api/docs"),  # the API's documentation
    # Citizens' field reports: anyone may report, follow a report and see the statistics.
    ("GET", "/reports"),
    ("GET", "/reports/new"),
    ("POST", "/reports/new"),  # checked by its signed form token and honeypot
    ("GET", "/reports/track"),
    ("GET", "/reports/nearby"),
    ("GET", "/reports/new/questions"),
    ("GET", "/reports/map"),
    ("GET", "/reports/map/communes.json"),
    ("GET", "/reports/{code}"),
    ("POST", "/reports/{code}/rating"),  # needs the reporter's secret key
    ("POST", "/reports/{code}/reopen"),  # needs the reporter's secret key
    ("GET", "/reports/photos/{photo_id:int}"),
    ("GET", "/reports/videos/{video_id:int}"),  # released by an official first
    ("GET", "/reports/videos/{video_id:int}/poster"),
    ("GET", "/reports/statistics"),
    # A reporter's own space: a signed link by e-mail, then a signed cookie (no account).
    ("GET", "/reports/mine"),
    ("POST", "/reports/mine"),  # checked by its signed form token and honeypot
    ("GET", "/reports/mine/sign-in"),  # needs a signed, unexpired link token
    ("POST", "/reports/mine/sign-out"),  # forgets the reporter's cookie, nothing else
    # Open data: anyone may read public datasets, with no account (the open data rules).
    ("GET", "/opendata"),
    ("GET", "/opendata/datasets/{name}"),
    ("GET", "/reports/statistics.xlsx"),
    ("GET", "/reports/statistics.csv"),
    # A wall screen without an account: its kiosk link's token is the key (revocable).
    ("GET", "/monitoring/kiosk"),
}


def _portal_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every route and method the OpenAPI document does not describe: the portal's."""
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    return [
        (method, str(context.path))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
        for method in sorted((context.methods or set()) - {"HEAD"})
        if (method, context.path_format) not in documented
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+(:int)?\}", lambda m: "1" if m.group(1) else "x", path)


def test_every_portal_page_needs_a_login_and_every_form_a_session(
    app: FastAPI, client: TestClient
) -> None:
    routes = _portal_routes(app)
    assert ("GET", "/admin/users") in routes and ("POST", "/exchange/requests/new") in routes
    assert len(routes) >= 25, routes
    wrong = []
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        answer = client.request(method, _concrete(path), follow_redirects=False)
        location = answer.headers.get("location", "")
        if method == "GET":
            ok = answer.status_code == 303 and location.startswith("/login")
        else:
            ok = answer.status_code in {303, 403} and (
                answer.status_code == 403 or location.startswith("/login")
            )
        if not ok:
            wrong.append(f"{method} {path}: {answer.status_code} {location}")
    assert wrong == []


# The dashboards' exports and print page (issue 15): any official who can see the dashboard,
# so a login and nothing more (the generated test above checks the login).
DASHBOARD_EXPORTS = {
    ("GET", "/monitoring/dashboards/{slug}/export.xlsx"),
    ("GET", "/monitoring/dashboards/{slug}/export.zip"),
    ("GET", "/monitoring/dashboards/{slug}/panels/{panel_id}/export.csv"),
    ("GET", "/monitoring/dashboards/{slug}/panels/{panel_id}/export.xlsx"),
    ("GET", "/monitoring/dashboards/{slug}/print"),
}


def test_the_dashboard_exports_are_portal_routes_behind_the_login(app: FastAPI) -> None:
    routes = set(_portal_routes(app))
    assert routes >= DASHBOARD_EXPORTS
    assert not DASHBOARD_EXPORTS & PUBLIC
