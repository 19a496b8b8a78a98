"""/predict: the champion model on one beat, with the device's int8 semantics (TFLM interpreter).

Who: every signed-in user (clinicians, engineers, administrators): `CurrentUser`. Every answer is logged
(PredictionLog row and an app.log line); /predict/random also logs whether the model was right.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.deps import CurrentUser, SessionDep, SettingsDep
from server.schemas.common import AUTH_ERRORS, error_responses
from server.schemas.predict import PredictionPublic, PredictRequest, RandomPredictionPublic
from server.services import predict as predict_service
from server.services.registry import NoChampion

router = APIRouter(prefix="/predict", tags=["predict"])

NO_CHAMPION = error_responses(503)
NO_CHAMPION[503]["description"] = "No model is promoted to champion yet"


def no_champion(exc: NoChampion) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))


@router.post("", response_model=PredictionPublic, summary="Classify one beat with the champion model",
             responses={**AUTH_ERRORS, **error_responses(409, 422), **NO_CHAMPION})
def predict(session: SessionDep, settings: SettingsDep, user: CurrentUser, body: PredictRequest) -> PredictionPublic:
    """The int8 beat window (128 values) and RR features (3 values) as the device computes them go through the
    champion's int8 model under the TFLite Micro interpreter: the same scores the device would report."""
    try:
        p = predict_service.predict(session, settings, user.id, body.beat, body.rr)
    except NoChampion as exc:
        raise no_champion(exc) from None
    return PredictionPublic(prediction_id=p.log_id, model_version=p.model_version, label=p.label,
                            class_names=p.class_names, scores=p.scores, probabilities=p.probabilities)


@router.get("/random", response_model=RandomPredictionPublic,
            summary="Classify a random beat of the champion's test set and compare with its true class",
            responses={**AUTH_ERRORS, **error_responses(404, 409, 422), **NO_CHAMPION})
def predict_random(session: SessionDep, settings: SettingsDep, user: CurrentUser,
                   record: Annotated[str | None, Query(max_length=8, pattern=r"^[0-9]{3}$",
                                                       description="Draw from this test record only.")] = None
                   ) -> RandomPredictionPublic:
    """A test record of the champion (its model card's test set: patients the model never saw) is chosen at
    random, then one of its beats; the beat is classified and returned with its reference class. The outcome
    (right or wrong) is logged."""
    try:
        p = predict_service.predict_random(session, settings, user.id, record)
    except NoChampion as exc:
        raise no_champion(exc) from None
    return RandomPredictionPublic(prediction_id=p.log_id, model_version=p.model_version, label=p.label,
                                  class_names=p.class_names, scores=p.scores, probabilities=p.probabilities,
                                  true_label=p.true_label, correct=bool(p.correct), record=p.record,
                                  sample=p.sample, beat=p.beat, rr=p.rr)
