"""The promotion gate: the policy as plain data and one pure function that applies it.

A model version becomes `champion` only if its int8 model, run by the TFLM reference interpreter on the
inter-patient test set (DS2: records never seen in training), clears every floor below and is not clearly
worse than the current champion. `toolchain.registry.promote` reads the numbers from the registry and calls
`evaluate_gate`; nothing here touches MLflow.

Metric names are those `toolchain.metrics.flatten_metrics(report, prefix="tflm_")` produces, plus
`tflm_agreement` (argmax agreement of TFLM with TF Lite on the same beats, `verify.compare_runtimes`).

Why these defaults (DS2 holds roughly 44k N, 1.8k S, 3.2k V, 0.4k F and a handful of Q beats):
- protocol "inter-patient": intra-patient scores are inflated by beats of the same patient in train and
  test and say little about a new patient.
- tflm_se_V >= 0.80: missed ventricular beats are what the alerts exist for.
- tflm_se_N >= 0.80: a model that calls too many normal beats abnormal floods clinicians with alarms.
- tflm_macro_f1 >= 0.40: a model that calls every beat N scores about 0.19 (0.94 for N, 0 elsewhere, over
  five classes); the floor rejects degenerate models, it does not certify quality. Raise it once the
  project's own baseline on DS2 is known.
- tflm_agreement >= 0.999: the device runs the TFLM arithmetic; the numbers we evaluate must be the ones
  the device will produce.
- at most 0.01 below the champion's macro-F1: noise-level differences may pass, a real regression may not.
Accuracy is deliberately not gated: with ~89% N beats in DS2, calling everything N already scores ~0.89.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from heartbeat_core.errors import DataError

__all__ = ["DEFAULT_POLICY", "GateDecision", "GatePolicy", "evaluate_gate"]

_EPS = 1e-12  # float slack: 0.54 is "at most 0.01 below" 0.55 although 0.55 - 0.01 > 0.54 in binary


def _frozen(mapping: Mapping[str, float], what: str) -> Mapping[str, float]:
    out: dict[str, float] = {}
    for key, value in dict(mapping).items():
        if not isinstance(key, str) or not key:
            raise DataError(f"metric names must be non-empty strings, got {key!r}", f"GatePolicy.{what}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise DataError(f"{key!r} must map to a finite number, got {value!r}", f"GatePolicy.{what}")
        out[key] = float(value)
    return MappingProxyType(out)


@dataclass(frozen=True)
class GatePolicy:
    """What a candidate must show to become champion.

    minimums: metric -> lowest acceptable value (inclusive).
    max_drop_vs_champion: metric -> how far the candidate may fall below the current champion (inclusive).
    """

    name: str = "inter-patient-v1"
    protocol: str = "inter-patient"
    minimums: Mapping[str, float] = field(default_factory=lambda: {
        "tflm_macro_f1": 0.40,
        "tflm_agreement": 0.999,
        "tflm_se_V": 0.80,
        "tflm_se_N": 0.80,
    })
    max_drop_vs_champion: Mapping[str, float] = field(default_factory=lambda: {"tflm_macro_f1": 0.01})

    def __post_init__(self) -> None:
        object.__setattr__(self, "minimums", _frozen(self.minimums, "minimums"))
        object.__setattr__(self, "max_drop_vs_champion",
                           _frozen(self.max_drop_vs_champion, "max_drop_vs_champion"))
        if any(v < 0 for v in self.max_drop_vs_champion.values()):
            raise DataError("allowed drops must not be negative", "GatePolicy.max_drop_vs_champion")

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric the policy looks at, in a stable order."""
        return tuple(dict.fromkeys([*self.minimums, *self.max_drop_vs_champion]))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "protocol": self.protocol, "minimums": dict(self.minimums),
                "max_drop_vs_champion": dict(self.max_drop_vs_champion)}


DEFAULT_POLICY = GatePolicy()


@dataclass(frozen=True)
class GateDecision:
    """Outcome of a gate check.

    passed: every check held.
    reasons: when passed, every check with its numbers (this is what a promotion records as its reason);
             when failed, only the checks that failed.
    forced: a promotion went ahead although the gate failed (passed is then False).
    changed: the registry was changed (always False from `evaluate_gate`, which is pure).
    """

    passed: bool
    reasons: list[str]
    forced: bool = False
    changed: bool = False


def _number(metrics: Mapping[str, Any] | None, key: str) -> float | None:
    """A finite float from metrics[key], or None when missing, non-numeric or NaN/inf."""
    if metrics is None:
        return None
    value = metrics.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def evaluate_gate(candidate: Mapping[str, Any], champion: Mapping[str, Any] | None,
                  policy: GatePolicy = DEFAULT_POLICY) -> GateDecision:
    """Apply `policy` to a candidate's metrics (and the current champion's, None when there is none).

    Both mappings hold metric name -> number, plus "protocol" -> str for the candidate. A missing or
    non-finite metric fails its check; a champion without a compared metric fails the comparison (it
    cannot be shown the candidate is not worse), which a forced promotion can override.
    """
    passed: list[str] = []
    failed: list[str] = []

    protocol = candidate.get("protocol")
    if protocol == policy.protocol:
        passed.append(f"protocol is {policy.protocol!r}")
    elif protocol in (None, ""):
        failed.append(f"protocol not recorded; the gate needs {policy.protocol!r}")
    else:
        failed.append(f"protocol is {protocol!r}; the gate needs {policy.protocol!r}")

    for key, floor in policy.minimums.items():
        value = _number(candidate, key)
        if value is None:
            failed.append(f"{key} missing or not a finite number; needs >= {floor:.6g}")
        elif value >= floor:
            passed.append(f"{key} {value:.6g} >= {floor:.6g}")
        else:
            failed.append(f"{key} {value:.6g} < {floor:.6g}")

    for key, drop in policy.max_drop_vs_champion.items():
        value = _number(candidate, key)
        if champion is None:
            passed.append(f"no champion yet; {key} not compared")
            continue
        best = _number(champion, key)
        if value is None:
            failed.append(f"{key} missing; cannot compare with the champion")
        elif best is None:
            failed.append(f"the champion has no {key}; cannot show the candidate is not worse")
        elif value >= best - drop - _EPS:
            passed.append(f"{key} {value:.6g} within {drop:.6g} of the champion's {best:.6g} or better")
        else:
            failed.append(f"{key} {value:.6g} is more than {drop:.6g} below the champion's {best:.6g}")

    if failed:
        return GateDecision(False, failed)
    return GateDecision(True, passed)
