"""What every report of the toolchain's scoring must be (tests/toolchain/test_metrics.py and test_ec57.py)."""
from __future__ import annotations

import json
import math
import re

MLFLOW_KEY = re.compile(r"[A-Za-z0-9_./ -]+")  # the characters MLflow accepts in a metric name


def assert_plain_json(obj, where="report"):
    """Only dict/list/str/int/float/None (no numpy scalars, no NaN/inf); dumps strictly."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str, where
            assert_plain_json(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_plain_json(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), where
    else:
        assert obj is None or type(obj) in (str, int, bool), f"{where}: {type(obj)}"
    json.dumps(obj, allow_nan=False)
