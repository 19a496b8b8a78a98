"""Clinician-labelled beats as training data: alerts with an ECG window and a verdict -> the model's inputs.

An alert whose latest feedback gives its true class (confirm: the alert's class; relabel, or a reject naming the
class: the class given; `Alert.true_label` holds it) and that carries the raw ECG around its R peak becomes one
labelled device beat, with exactly the inputs the device computed (toolchain.dsp, the firmware's twin):
- the beat window: `dsp.beat_window` on the alert's ECG samples at the R peak (the window R-92 .. R+164 must
  lie inside the samples sent with the alert, or the beat is skipped as "window_outside_ecg");
- the RR features: `dsp.rr_features` from the R peaks of the beats stored for that device and boot (pre-RR and
  post-RR from the neighbouring beats, the running mean over the last 64 intervals up to the pre-RR, the first
  beat of a boot using its post-RR as pre-RR, as the device does). A beat without a stored successor is skipped
  ("no_next_beat"); a GAP in the stored beats makes its RR features differ from the device's (not corrected).
Rejects without a class say only that the prediction was wrong, not what the beat is: not training data.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Result, func, select
from sqlalchemy.orm import Session

from heartbeat_core.domain import AAMI_CLASSES, RR_FEATURES, WINDOW_LEN, WINDOW_POST, WINDOW_PRE
from server.models.identity import Device
from server.models.telemetry import Alert, Beat, Feedback

if TYPE_CHECKING:
    from toolchain.data import BeatSet


def _labelled_alerts(session: Session, since: datetime | None) -> Result[Alert, datetime, str]:
    latest = (select(Feedback.alert_id, func.max(Feedback.created_at).label("judged_at"))
              .group_by(Feedback.alert_id).subquery())
    query = (select(Alert, latest.c.judged_at, Device.device_uid)
             .join(latest, latest.c.alert_id == Alert.id)
             .join(Device, Device.id == Alert.device_id)
             .where(Alert.true_label.is_not(None), Alert.ecg_samples.is_not(None))
             .order_by(latest.c.judged_at.desc(), Alert.id.desc()))
    if since is not None:
        query = query.where(latest.c.judged_at >= since)
    return session.execute(query.execution_options(yield_per=500))


def _boot_peaks(session: Session, device_id: int, boot_id: int) -> np.ndarray:
    rows = session.scalars(select(Beat.r_sample).where(Beat.device_id == device_id, Beat.boot_id == boot_id)
                           .order_by(Beat.r_sample))
    return np.unique(np.fromiter(rows, dtype=np.int64))


def rr_of(peaks: np.ndarray, r: int) -> tuple[int, int, int, int] | None:
    """(pre, post, long_sum, long_count) for the beat at R peak r among a boot's sorted peaks, or None."""
    from toolchain.dsp import RR_LONG_HISTORY

    k = int(np.searchsorted(peaks, r))
    if k >= len(peaks) or peaks[k] != r or k + 1 >= len(peaks):
        return None
    post = int(peaks[k + 1] - r)
    if k == 0:
        return post, post, post, 1
    intervals = np.diff(peaks[:k + 1])  # intervals up to and including the pre-RR
    recent = intervals[-RR_LONG_HISTORY:]
    return int(intervals[-1]), post, int(recent.sum()), int(len(recent))


def labelled_beats(session: Session, since: datetime | None = None,
                   limit: int | None = None) -> tuple[BeatSet, dict[str, int]]:
    """(BeatSet of the usable labelled beats, newest verdict first, at most `limit`; counts of used and skipped
    alerts)."""
    from toolchain import dsp
    from toolchain.data import BeatSet

    counts = {"labelled_alerts": 0, "usable": 0, "window_outside_ecg": 0, "no_next_beat": 0}
    xs: list[np.ndarray] = []
    rrs: list[np.ndarray] = []
    ys: list[int] = []
    records: list[str] = []
    samples: list[int] = []
    pres: list[int] = []
    posts: list[int] = []
    peaks_cache: dict[tuple[int, int], np.ndarray] = {}
    for alert, _judged, device_uid in _labelled_alerts(session, since):
        if limit is not None and counts["usable"] >= limit:
            break
        counts["labelled_alerts"] += 1
        ecg = np.asarray(alert.ecg_samples, dtype=np.int64)
        r_rel = int(alert.r_sample) - int(alert.ecg_start or 0)
        if r_rel - WINDOW_PRE < 0 or r_rel + WINDOW_POST > ecg.size:
            counts["window_outside_ecg"] += 1
            continue
        key = (alert.device_id, alert.boot_id)
        if key not in peaks_cache:
            peaks_cache[key] = _boot_peaks(session, *key)
        rr = rr_of(peaks_cache[key], int(alert.r_sample))
        if rr is None:
            counts["no_next_beat"] += 1
            continue
        pre, post, long_sum, long_count = rr
        xs.append(dsp.beat_window(ecg, r_rel))
        rrs.append(dsp.rr_features(pre, post, long_sum, long_count))
        ys.append(AAMI_CLASSES.index(alert.true_label))
        records.append(f"device:{device_uid}:{alert.boot_id}")
        samples.append(int(alert.r_sample))
        pres.append(pre)
        posts.append(post)
        counts["usable"] += 1
    beats = BeatSet("device", np.asarray(xs, dtype=np.int8).reshape(-1, WINDOW_LEN),
                    np.asarray(rrs, dtype=np.int8).reshape(-1, RR_FEATURES), np.asarray(ys, dtype=np.int64),
                    np.asarray(records, dtype=str), np.asarray(samples, dtype=np.int64),
                    np.asarray(pres, dtype=np.int64), np.asarray(posts, dtype=np.int64),
                    {"source": "clinician feedback", **counts})
    return beats, counts
