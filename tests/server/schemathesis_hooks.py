"""Schemathesis hooks of the contract run (tests/server/schemathesis_contract.py): no generated request may name
the run's own administrator (HB_CONTRACT_ADMIN_ID) in a path, so no PATCH, password reset or disable takes the
run's credentials away (schemathesis learns ids from the answers, e.g. GET /users/me). Such a request is sent for
a user id that does not exist instead."""
from __future__ import annotations

import os
from typing import Any

import schemathesis

PROTECTED = os.environ.get("HB_CONTRACT_ADMIN_ID", "")
NOBODY = 2**31 - 1


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    params = case.path_parameters
    if PROTECTED and params and str(params.get("user_id")) == PROTECTED:
        params["user_id"] = NOBODY
