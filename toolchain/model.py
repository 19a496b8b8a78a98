"""CNN-4: four convolution blocks and a small head, sized for a Cortex-M4F.

Layers are 2-D with a height of 1 (Conv2D with (1, k) kernels, MaxPooling2D (1, 2)) so that the converted model
holds only CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED, ADD and SOFTMAX: the op set the firmware's runtime
implements. Batch normalisation is folded into the convolutions by the converter. With RR features the head adds
a dense projection of the RR features to the dense projection of the convolutional features (ADD with a
fused ReLU) before the classifier; during training the convolutional branch is dropped as a whole for a share of
the beats ("branch dropout") so that the RR path is learned on its own too.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from heartbeat_core.domain import N_CLASSES, RR_FEATURES, WINDOW_LEN


@dataclass(frozen=True)
class Cnn4Config:
    window_len: int = WINDOW_LEN
    rr_features: int = RR_FEATURES  # 0: the window is the only input (the Kaggle construction)
    filters: tuple[int, int, int, int] = (16, 32, 32, 64)
    kernel: int = 5
    dense: int = 32
    dropout: float = 0.3
    branch_dropout: float = 0.8  # training only: drop the whole beat-shape branch of a beat with this probability
    rr_to_logits: bool = True  # a direct linear path from the RR features to the class logits
    shape_l2: float = 1e-3  # L2 penalty on the beat-shape branch's dense layer
    n_classes: int = N_CLASSES

    def as_params(self) -> dict:
        d = asdict(self)
        d["filters"] = ",".join(str(f) for f in self.filters)
        return d


def build_cnn4(cfg: Cnn4Config, batch_size: int | None = None):
    """The Keras model. `batch_size=1` gives the fixed-shape twin used for conversion (no dynamic shape ops)."""
    import keras
    from keras import layers

    beat = keras.Input((1, cfg.window_len, 1), name="beat", batch_size=batch_size)
    x = beat
    for i, f in enumerate(cfg.filters):
        x = layers.Conv2D(f, (1, cfg.kernel), padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D((1, 2), name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(cfg.dropout, name="dropout_conv")(x)
    x = layers.Dense(cfg.dense, kernel_regularizer=keras.regularizers.l2(cfg.shape_l2) if cfg.shape_l2 else None,
                     name="dense_beat")(x)
    inputs = [beat]
    if cfg.rr_features:
        if cfg.branch_dropout:
            # Zero the whole shape branch for a share of training beats, so the classifier must also learn to
            # decide from the RR ratios alone: beat shapes are patient-specific, RR ratios generalise across
            # patients (S beats look like N beats; they are early). Dropout is an identity at inference.
            x = layers.Dropout(cfg.branch_dropout, noise_shape=(None, 1), name="branch_dropout")(x)
        rr = keras.Input((cfg.rr_features,), name="rr", batch_size=batch_size)
        inputs.append(rr)
        x = layers.Add(name="add_rr")([x, layers.Dense(cfg.dense, name="dense_rr")(rr)])
    x = layers.ReLU(name="relu_head")(x)
    x = layers.Dropout(cfg.dropout, name="dropout_head")(x)
    x = layers.Dense(cfg.n_classes, name="logits")(x)
    if cfg.rr_features and cfg.rr_to_logits:
        x = layers.Add(name="add_rr_logits")([x, layers.Dense(cfg.n_classes, name="rr_logits")(rr)])
    out = layers.Softmax(name="scores")(x)
    return keras.Model(inputs, out, name="cnn4")


def fixed_batch_twin(model, cfg: Cnn4Config):
    """A batch-1 copy of a trained model for conversion."""
    twin = build_cnn4(cfg, batch_size=1)
    twin.set_weights(model.get_weights())
    return twin
