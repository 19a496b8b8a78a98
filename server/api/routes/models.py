"""/models: the registered model versions (MLflow), and promotion to `champion` through the toolchain's gate.

Who: every signed-in user may read the versions (`CurrentUser`: a clinician may see which model is in use);
promotion and the promotion record are for engineers and administrators (`EngineerUser`); forcing a promotion
past a failed gate (a rollback) is for administrators only, with a note.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Path, Query

from server.api.deps import CurrentUser, EngineerUser, SessionDep, SettingsDep
from server.schemas.common import AUTH_ERRORS, error_responses
from server.schemas.models import ModelList, ModelVersionPublic, PromoteRequest, PromotionList, PromotionPublic
from server.services import registry

if TYPE_CHECKING:
    from toolchain.registry import VersionInfo

router = APIRouter(prefix="/models", tags=["models"])

VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="Registered version number.")]


def _public(info: VersionInfo) -> ModelVersionPublic:
    return ModelVersionPublic(name=info.name, version=info.version, aliases=list(info.aliases), run_id=info.run_id,
                              protocol=info.protocol, created_at=info.created_at, metrics=info.metrics,
                              model_sha256=info.model_sha256,
                              production_path=registry.production_path(info),
                              promoted_at=info.tags.get("promoted_at"),
                              promoted_reason=info.tags.get("promoted_reason"))


@router.get("", response_model=ModelList, summary="Registered model versions with metrics and aliases",
            responses=AUTH_ERRORS)
def list_models(settings: SettingsDep, _user: CurrentUser) -> ModelList:
    versions = registry.list_versions(settings)
    champion = next((v.version for v in versions if "champion" in v.aliases), None)
    return ModelList(items=[_public(v) for v in versions], champion=champion)


@router.get("/promotions", response_model=PromotionList, summary="Promotion attempts, newest first (engineer)",
            responses={**AUTH_ERRORS, **error_responses(422)})
def list_promotions(session: SessionDep, _user: EngineerUser,
                    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> PromotionList:
    rows = registry.promotions(session, version, limit)
    return PromotionList(items=[PromotionPublic.model_validate(r) for r in rows])


@router.get("/{version}", response_model=ModelVersionPublic, summary="One registered model version",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_model(settings: SettingsDep, _user: CurrentUser, version: VersionPath) -> ModelVersionPublic:
    return _public(registry.get_version(settings, version))


@router.post("/{version}/promote", response_model=PromotionPublic,
             summary="Promote a version to champion through the gate (engineer)",
             responses={**AUTH_ERRORS, **error_responses(404, 409, 422)})
def promote(session: SessionDep, settings: SettingsDep, user: EngineerUser, version: VersionPath,
            body: PromoteRequest | None = None) -> PromotionPublic:
    """The inter-patient gate (toolchain.gate) decides: a passing version becomes `champion` (the old one
    `previous-champion`), the new production model path is written to app.log and to the registry, and the
    promotion is recorded with who and why. A failing version changes nothing: 409 with the gate's reasons (the
    attempt is recorded too). Promoting the champion again changes nothing."""
    body = body or PromoteRequest()
    row = registry.promote(session, settings, version, user, note=body.note, force=body.force)
    return PromotionPublic.model_validate(row)
