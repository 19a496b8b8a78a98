"""Who may call what: the one place the role rules are written down.

A route states its rule by the dependency it takes (server/api/deps.py): `CurrentUser` (any signed-in user),
`AdminUser`, `EngineerUser`, `ClinicianUser` or `CurrentDevice`. Each of those is built from a POLICY below, and
the role-matrix test (tests/server/test_server_roles.py) reads the same table to know what every principal must get.
Routes with none of them are public; only PUBLIC_ROUTES may be.

Decisions:
- admin: everything users can do (users, devices, tokens, models, retraining, alerts, feedback, monitoring).
- engineer: devices and their tokens, predictions, models and promotion, retraining, monitoring; may read
  alerts but does not give clinical feedback.
- clinician: alerts and feedback, predictions, monitoring, reading devices; nothing that changes models,
  devices or users.
- device (a device token): only what a bridge does (ingest, for its own device).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.dependencies.models import Dependant

ADMIN: Final = "admin"
ENGINEER: Final = "engineer"
CLINICIAN: Final = "clinician"
DEVICE: Final = "device"

USER_ROLES: Final = frozenset({ADMIN, ENGINEER, CLINICIAN})
PRINCIPALS: Final = USER_ROLES | {DEVICE}

# policy name -> principals allowed
POLICIES: Final[dict[str, frozenset[str]]] = {
    "user": USER_ROLES,                         # CurrentUser
    "admin": frozenset({ADMIN}),                # AdminUser
    "engineer": frozenset({ADMIN, ENGINEER}),   # EngineerUser
    "clinician": frozenset({ADMIN, CLINICIAN}),  # ClinicianUser
    "device": frozenset({DEVICE}),              # CurrentDevice
}

# dependency -> the policy it enforces; server/api/deps.py enters each of its user and device dependencies
DEPENDENCY_POLICIES: Final[dict[Callable[..., object], str]] = {}

# (method, path) answering without any credentials
PUBLIC_ROUTES: Final = frozenset({
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
})


def route_policies(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """(method, path) -> the policy its dependencies declare, None for a public route. The role-matrix test and
    the OpenAPI "x-roles" field both come from this."""
    from fastapi.routing import APIRoute, iter_route_contexts

    def policies_of(dependant: Dependant) -> set[str]:
        found: set[str] = set()
        for dep in dependant.dependencies:
            policy = DEPENDENCY_POLICIES.get(dep.call) if dep.call is not None else None
            if policy:
                found.add(policy)
            found |= policies_of(dep)
        return found

    table: dict[tuple[str, str], str | None] = {}
    for context in iter_route_contexts(app.routes):  # FastAPI keeps included routers nested
        path, methods = context.path, context.methods
        if not isinstance(context.original_route, APIRoute) or path is None or methods is None:
            continue  # (an APIRoute always has a path and methods)
        found = policies_of(context.dependant)
        specific = (found - {"user"}) or found  # AdminUser etc. sit on top of CurrentUser
        if len(specific) > 1:
            raise RuntimeError(f"{path} declares several policies: {sorted(found)}")
        for method in methods:
            table[(method, path)] = next(iter(specific)) if specific else None
    return table
