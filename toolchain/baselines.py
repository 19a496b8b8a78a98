"""Random Forest and XGBoost baselines on the same beats, splits and metrics as CNN-4.

Features: the int8 beat window (or the Kaggle beat) flattened, plus the RR features when the construction has
them. Class imbalance is handled with the same weighting scheme as CNN-4 (sample weights).
"""
from __future__ import annotations

import numpy as np

from heartbeat_core.domain import N_CLASSES
from toolchain.data import Splits
from toolchain.metrics import classification_report
from toolchain.train import class_weights


def features(beats) -> np.ndarray:
    x = beats.x.reshape(len(beats), -1).astype(np.float32)
    if beats.rr is not None:
        x = np.concatenate([x, beats.rr.astype(np.float32)], axis=1)
    return x


def run_baselines(splits: Splits, class_weighting: str = "sqrt", seed: int = 0,
                  which: tuple[str, ...] = ("random_forest", "xgboost")) -> dict[str, dict]:
    """Train each baseline on splits.train and report on splits.test."""
    from sklearn.ensemble import RandomForestClassifier

    n_classes = N_CLASSES
    x_train, y_train = features(splits.train), splits.train.y
    x_test = features(splits.test)
    cw = class_weights(y_train, n_classes, class_weighting)
    sample_weight = np.array([cw[int(c)] for c in y_train])
    reports: dict[str, dict] = {}
    if "random_forest" in which:
        rf = RandomForestClassifier(n_estimators=200, min_samples_leaf=2, n_jobs=-1, random_state=seed)
        rf.fit(x_train, y_train, sample_weight=sample_weight)
        reports["random_forest"] = classification_report(splits.test.y, rf.predict(x_test), n_classes=n_classes)
    if "xgboost" in which:
        from xgboost import XGBClassifier

        # XGBoost wants consecutive labels 0..k-1: map the classes present in training.
        present = np.unique(y_train)
        to_local = {int(c): i for i, c in enumerate(present)}
        xgb = XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, tree_method="hist",
                            n_jobs=2, random_state=seed)
        xgb.fit(x_train, np.array([to_local[int(c)] for c in y_train]), sample_weight=sample_weight)
        pred = present[xgb.predict(x_test).astype(np.int64)]
        reports["xgboost"] = classification_report(splits.test.y, pred, n_classes=n_classes)
    return reports
