"""Schemathesis hooks of the contract run (tests/server/schemathesis_contract.py).

- No generated request may name the run's own administrator (HB_CONTRACT_ADMIN_ID) or device
  (HB_CONTRACT_DEVICE_ID) in a path, so no PATCH, password reset, disable or token revocation takes the run's
  credentials away (schemathesis learns ids from the answers, e.g. GET /users/me): such a request is sent for
  a user id or device that does not exist instead.
- A schema-valid ingest batch is sent for the run's own device (HB_CONTRACT_DEVICE_ID) under a fresh
  Idempotency-Key: the schema cannot say which device ids are registered, nor that a key is for one batch
  only, and otherwise every batch met the 403/404 of the device check or the 409 of a reused key.
"""
from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis

PROTECTED = os.environ.get("HB_CONTRACT_ADMIN_ID", "")
DEVICE = os.environ.get("HB_CONTRACT_DEVICE_ID", "")
NOBODY = 2**31 - 1


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    params = case.path_parameters
    if PROTECTED and params and str(params.get("user_id")) == PROTECTED:
        params["user_id"] = NOBODY
    if DEVICE and params and params.get("device_uid") == DEVICE and case.path.endswith("/revoke"):
        params["device_uid"] = "hb-nobody-0000"
    meta = case.meta
    positive = meta is not None and not meta.generation.mode.is_negative
    if DEVICE and positive and case.path == "/api/v1/ingest" and isinstance(case.body, dict) \
            and isinstance(case.body.get("device_id"), str):
        case.body["device_id"] = DEVICE
        headers = case.headers
        for name in list(headers or {}):
            if name.lower() == "idempotency-key" and isinstance(headers[name], str) and len(headers[name]) >= 8:
                headers[name] = f"contract-{uuid.uuid4().hex}"
