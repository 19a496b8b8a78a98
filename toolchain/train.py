"""Training CNN-4 in Keras on a protocol's split, with class weighting and early stopping."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from heartbeat_core.errors import ModelError
from toolchain.data import Splits
from toolchain.model import Cnn4Config, build_cnn4

CLASS_WEIGHTINGS = ("balanced", "sqrt", "none")
MAX_WEIGHT_RATIO = 50.0  # a class with a handful of beats (Q in DS1: 4) must not dominate the loss


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    class_weighting: str = "sqrt"
    patience: int = 6
    seed: int = 0

    def validate(self) -> None:
        if self.epochs < 1:
            raise ModelError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ModelError(f"batch size must be at least 1, got {self.batch_size}")
        if not 0 < self.learning_rate < 1:
            raise ModelError(f"learning rate must be in (0, 1), got {self.learning_rate}")
        if self.class_weighting not in CLASS_WEIGHTINGS:
            raise ModelError(f"unknown class weighting {self.class_weighting!r}",
                             hint=f"use one of {', '.join(CLASS_WEIGHTINGS)}")

    def as_params(self) -> dict:
        return asdict(self)


def class_weights(y: np.ndarray, n_classes: int, scheme: str) -> dict[int, float]:
    """Weights per class present in y: inverse frequency ("balanced"), its square root ("sqrt"), or none.

    No class weighs more than MAX_WEIGHT_RATIO times the lightest. Normalised so that the weighted mean over the
    training beats is 1 (the loss keeps its scale).
    """
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(n_classes)
    if scheme != "none":
        inv = np.zeros(n_classes)
        inv[present] = counts[present].sum() / (present.sum() * counts[present])
        w = inv if scheme == "balanced" else np.sqrt(inv)
        w[present] = np.minimum(w[present], MAX_WEIGHT_RATIO * w[present].min())
    w[~present] = 0.0
    mean = (w * counts).sum() / counts.sum()
    return {i: float(w[i] / mean) for i in range(n_classes) if present[i]}


def set_determinism(seed: int) -> None:
    import keras
    import tensorflow as tf

    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@dataclass
class TrainResult:
    model: object
    cfg: Cnn4Config
    history: dict[str, list[float]]
    epochs_run: int


def train_cnn4(splits: Splits, params: TrainParams, cfg: Cnn4Config | None = None,
               on_epoch=None) -> TrainResult:
    """Fit CNN-4 on splits.train, early-stopped on splits.val loss (best weights restored)."""
    import keras

    params.validate()
    if len(splits.train) == 0:
        raise ModelError("no training beats", hint="check the data folder and the record lists")
    x_train = splits.train.model_inputs()
    window_len = x_train["beat"].shape[2]
    if cfg is None:
        cfg = Cnn4Config(window_len=window_len, rr_features=0 if splits.train.rr is None else
                         splits.train.rr.shape[1])
    set_determinism(params.seed)
    model = build_cnn4(cfg)
    model.compile(optimizer=keras.optimizers.Adam(params.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=params.patience,
                                               restore_best_weights=True)]
    if on_epoch is not None:
        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch(epoch, logs)))
    weights = class_weights(splits.train.y, cfg.n_classes, params.class_weighting)
    has_val = len(splits.val) > 0
    hist = model.fit(
        x_train, splits.train.y,
        validation_data=(splits.val.model_inputs(), splits.val.y) if has_val else None,
        epochs=params.epochs, batch_size=params.batch_size, class_weight=weights,
        callbacks=callbacks if has_val else callbacks[1:], verbose=0, shuffle=True,
    )
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return TrainResult(model=model, cfg=cfg, history=history, epochs_run=len(history.get("loss", [])))


def predict_float(model, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Float scores [n, classes]."""
    return np.asarray(model.predict(inputs, batch_size=1024, verbose=0))
