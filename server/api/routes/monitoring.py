"""/monitoring: the champion on real patients (clinician verdicts) beside its test set; every count kept.

Who: /monitoring is for every signed-in user (`CurrentUser`: clinicians judge the alerts it is built from);
/monitoring/all (operational counts: devices, jobs, ingest) is for engineers and administrators (`EngineerUser`).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.deps import CurrentUser, EngineerUser, SessionDep, SettingsDep
from server.schemas.common import AUTH_ERRORS, error_responses
from server.schemas.monitoring import MonitoringAll, MonitoringReport
from server.services import monitoring as monitoring_service
from server.services.registry import NoChampion

router = APIRouter(prefix="/monitoring", tags=["monitoring"])

NO_CHAMPION = error_responses(503)
NO_CHAMPION[503]["description"] = "No model is promoted to champion yet"


@router.get("", response_model=MonitoringReport,
            summary="Champion accuracy, precision and recall per class on clinician-judged beats vs its test set",
            responses={**AUTH_ERRORS, **error_responses(422), **NO_CHAMPION})
def champion_report(session: SessionDep, settings: SettingsDep, _user: CurrentUser,
                    window_days: Annotated[int | None, Query(ge=1, le=3650, description="Rolling window in days "
                                                             "(default: the server's monitoring window).")] = None
                    ) -> MonitoringReport:
    """See `definitions` in the answer for how confirm, relabel and reject count."""
    try:
        return MonitoringReport(**monitoring_service.champion_report(session, settings, window_days))
    except NoChampion as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


@router.get("/all", response_model=MonitoringAll, summary="Every metric the server tracks (engineer)",
            responses=AUTH_ERRORS)
def everything(session: SessionDep, settings: SettingsDep, _user: EngineerUser) -> MonitoringAll:
    return MonitoringAll(**monitoring_service.everything(session, settings))
