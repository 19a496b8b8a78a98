"""POST /api/v1/ingest: the batch a bedside bridge uploads (the contract is docs/ingest.md).

Strict types throughout (a JSON `1.0`, `true` or `"1"` is not an integer; unknown fields are refused), so a
bridge bug shows up as a 422 naming the item and field instead of a silently converted value. The item type is
a discriminated union on `type`. The largest batch (`Settings.ingest_max_items`) is checked before the items are
validated, so it is not part of this schema.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict

from heartbeat_core.domain import AAMI_CLASSES, ClassName
from server.core.text import escape, surrogate_path
from server.schemas.common import ISO_DATE_TIME, PlainText, as_utc_time

U8 = Annotated[int, Field(ge=0, le=0xFF)]
U16 = Annotated[int, Field(ge=0, le=0xFFFF)]
U32 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
I8 = Annotated[int, Field(ge=-128, le=127)]
BootId = Annotated[int, Field(ge=1, le=0xFFFF_FFFF, description="the device's boot id (u32, never 0)")]
Seq = Annotated[int, Field(ge=1, le=0xFFFF_FFFF, description="the device's per-boot message seq (u32, >= 1)")]
WireStr = Annotated[str, Field(max_length=64, pattern=r"^[\x20-\x7e]*$",
                               description="0..64 printable ASCII characters (a wire `str`)")]

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


def _iso_text(value: Any) -> Any:
    # JSON has no datetime: only an ISO 8601 string is one (pydantic would also take a number, or a numeric
    # string, as unix time)
    if not isinstance(value, datetime) and (not isinstance(value, str) or not ISO_DATE_TIME.match(value)):
        raise ValueError("must be an ISO 8601 date-time string with a timezone, e.g. 2026-11-24T20:15:03.120Z")
    return value


Timestamp = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_iso_text), AfterValidator(as_utc_time)]


def _five_scores(value: list[int]) -> list[int]:
    if len(value) != len(AAMI_CLASSES):
        raise ValueError(f"expected {len(AAMI_CLASSES)} scores, got {len(value)}")
    return value


def check_relabel(action: str | None, label: str | None) -> str | None:
    """relabel needs the true class; reject may name it (the beat is not the alert's class but `label`); confirm
    may repeat the alert's own class (checked against the alert where it is known). Shared with FeedbackCreate."""
    if action == "relabel" and label is None:
        raise ValueError("relabel needs a label (the true class: N, S, V, F or Q)")
    return label


def contradicts(action: str, label: str | None, alert_label: str) -> str | None:
    """The message for a confirm whose label is not the alert's class (else None)."""
    if action == "confirm" and label is not None and label != alert_label:
        return (f"confirm means the alert's class {alert_label} is right, but label is {label}; "
                "use relabel to give another class")
    return None


def _uuid_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"must be a UUID, got {value[:64]!r}") from None


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _DeviceMessage(_Strict):
    boot_id: BootId
    seq: Seq
    received_at: Timestamp = Field(description="when the bridge received the frame (ISO 8601 with timezone)")


class HelloItem(_DeviceMessage):
    type: Literal["hello"]
    device_id: WireStr | None = Field(
        default=None, description="optional; the HELLO's device_id, which must then equal the batch's device_id")
    firmware_version: WireStr
    model_version: WireStr
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the device's model, lowercase hex")
    protocol_version: U8
    sample_rate_hz: U16


class BeatItem(_DeviceMessage):
    type: Literal["beat"]
    r_sample: U32
    label: ClassName
    scores: Annotated[list[I8], AfterValidator(_five_scores)] = Field(
        description="the device's int8 softmax outputs in N, S, V, F, Q order")
    cost: U32
    flags: U8


class EcgWindow(_Strict):
    start_sample: U32 = Field(description="device sample index of samples[0]")
    samples: list[Annotated[int, Field(ge=-32768, le=32767)]] = Field(
        min_length=1, max_length=4096, description="raw ADC codes at the device's sample rate")


class AlertItem(_DeviceMessage):
    type: Literal["alert"]
    beat_seq: Seq
    r_sample: U32
    label: ClassName
    score: I8
    rule: U8 = Field(description="1 THRESHOLD, 2 RUN")
    threshold: U8
    ecg: EcgWindow | None = None


class StatusItem(_DeviceMessage):
    type: Literal["status"]
    uptime_ms: U32
    samples: U32
    beats: U32
    alerts: U32
    corrupt_frames: U32
    oversize_frames: U32
    unknown_frames: U32
    overruns: U32
    lost: U32
    last_seq: U32
    ring_oldest_seq: U32


class GapItem(_DeviceMessage):
    type: Literal["gap"]
    first: Seq
    last: Seq

    @field_validator("last")
    @classmethod
    def _ordered(cls, last: int, info: ValidationInfo) -> int:
        first = info.data.get("first")
        if first is not None and last < first:
            raise ValueError(f"last ({last}) must be >= first ({first})")
        return last


class AlertKey(_Strict):
    boot_id: BootId
    seq: Seq


class FeedbackItem(_Strict):
    type: Literal["feedback"]
    feedback_id: Annotated[str, BeforeValidator(_uuid_text)] = Field(description="a UUID made by the bridge")
    alert: AlertKey = Field(description="the device key of the alert it is about")
    action: Literal["confirm", "reject", "relabel"]
    label: ClassName | None = Field(default=None, validate_default=True,
                                    description="the true class: required for relabel, optional for reject; "
                                                "with confirm only the alert's own class")
    clinician: PlainText = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$",
                                 description="the name typed at the bedside (no control or invisible formatting "
                                             "characters)")
    created_at: Timestamp

    @field_validator("label")
    @classmethod
    def _label_for_relabel(cls, label: str | None, info: ValidationInfo) -> str | None:
        return check_relabel(info.data.get("action"), label)


IngestItem = Annotated[
    HelloItem | BeatItem | AlertItem | StatusItem | GapItem | FeedbackItem,
    Field(discriminator="type"),
]

_EXAMPLE_TIME = "2026-11-24T20:15:03.120Z"
INGEST_EXAMPLE: JsonDict = {
    "device_id": "hb-qemu-0001",
    "items": [
        {"type": "hello", "boot_id": 305419896, "seq": 1, "received_at": _EXAMPLE_TIME,
         "firmware_version": "1.0.0", "model_version": "v3", "model_sha256": "ab" * 32,
         "protocol_version": 1, "sample_rate_hz": 360},
        {"type": "beat", "boot_id": 305419896, "seq": 2, "received_at": _EXAMPLE_TIME, "r_sample": 370,
         "label": "N", "scores": [127, -128, -128, -128, -128], "cost": 41250, "flags": 2},
        {"type": "beat", "boot_id": 305419896, "seq": 3, "received_at": _EXAMPLE_TIME, "r_sample": 612,
         "label": "V", "scores": [-120, -128, 119, -128, -128], "cost": 41250, "flags": 1},
        {"type": "alert", "boot_id": 305419896, "seq": 4, "received_at": _EXAMPLE_TIME, "beat_seq": 3,
         "r_sample": 612, "label": "V", "score": 119, "rule": 1, "threshold": 200},
        {"type": "feedback", "feedback_id": "0b7f6c1e-2d7a-4f0e-9a55-3f1f3c2b9e10",
         "alert": {"boot_id": 305419896, "seq": 4}, "action": "confirm", "clinician": "Dr. Ada Example",
         "created_at": "2026-11-24T20:16:00Z"},
    ],
}


ITEM_ADAPTER: TypeAdapter[IngestItem] = TypeAdapter(IngestItem)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The item union's JSON schema with its $defs inlined (it is embedded in the request's schema as is) and
    without the discriminator mapping (which names $defs); every branch still pins `type` to one value."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {**target, **{k: walk(v) for k, v in node.items() if k != "$ref"}}
        return {k: walk(v) for k, v in node.items() if k != "discriminator"}

    inlined: dict[str, Any] = walk(schema)
    return inlined


ITEMS_SCHEMA = {"type": "array", "minItems": 1, "items": _inline_refs(ITEM_ADAPTER.json_schema()),
                "description": "1..ingest_max_items (1000) items, in order; each one is validated on its own so "
                               "that every invalid item is reported"}


class IngestRequest(_Strict):
    """The batch as it arrives: the envelope is checked by FastAPI, the items one by one by validate_items()
    (so that one bad item does not hide the others, and the batch size is checked before any item)."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [INGEST_EXAMPLE]})

    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$",
                           description="the device's own id (HELLO device_id), registered beforehand")
    items: Annotated[list[Any], WithJsonSchema(ITEMS_SCHEMA)] = Field(min_length=1)


def error_field(loc: tuple[int | str, ...]) -> str:
    """The dotted path of a field (`ecg.samples[3]`); names sent by the client are escaped (escape())."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{escape(part)}" if out else escape(str(part)))
    return out


def error_message(err: Mapping[str, object]) -> str:
    msg = str(err.get("msg", "invalid"))
    if err.get("type") == "value_error" and msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    value = err.get("input")
    if err.get("type") not in ("missing", "extra_forbidden", "union_tag_not_found", "union_tag_invalid") and (
            value is None or isinstance(value, (bool, int, float, str))):
        shown = repr(value)
        msg += f", got {shown[:60] + '...' if len(shown) > 60 else shown}"
    return msg


def implausible_time(value: datetime, window: tuple[datetime, datetime]) -> str | None:
    """Why `value` (aware) is outside the plausible window (earliest, latest), or None."""
    earliest, latest = window
    if value > latest:
        return (f"{value.isoformat()} is in the future: more than the allowed clock skew ahead of the server's "
                f"clock ({latest.isoformat()} at the latest); check the bridge's clock")
    if value < earliest:
        return (f"{value.isoformat()} is too old: the server takes messages from {earliest.isoformat()} on "
                "(HEARTBEAT_INGEST_MAX_AGE_DAYS)")
    return None


def validate_items(items: list[Any], device_id: str, window: tuple[datetime, datetime] | None = None) \
        -> tuple[list[tuple[int, Any]], list[ItemError]]:
    """Every item validated on its own: the valid ones (index, item) and an ItemError for each problem.
    `window` (earliest, latest): the plausible times of received_at / created_at."""
    valid: list[tuple[int, Any]] = []
    errors: list[ItemError] = []
    for index, raw in enumerate(items):
        bad_text = surrogate_path(raw)
        if bad_text is not None:  # JSON's "\ud800" escape: not Unicode text, it can be neither hashed nor stored
            errors.append(ItemError(index=index, field=error_field(bad_text) or "item", message=(
                "holds a lone surrogate (a \\ud800-\\udfff escape without its pair), which is not Unicode text")))
            continue
        try:
            item = ITEM_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if loc and isinstance(raw, dict) and loc[0] == raw.get("type"):
                    loc = loc[1:]  # the union's tag
                if not loc and err["type"] in ("union_tag_not_found", "union_tag_invalid"):
                    loc = ("type",)
                errors.append(ItemError(index=index, field=error_field(loc) or "item", message=error_message(err)))
            continue
        if window is not None:
            field = "created_at" if isinstance(item, FeedbackItem) else "received_at"
            problem = implausible_time(getattr(item, field), window)
            if problem:
                errors.append(ItemError(index=index, field=field, message=problem))
                continue
        if isinstance(item, HelloItem) and item.device_id is not None and item.device_id != device_id:
            errors.append(ItemError(index=index, field="device_id",
                                    message=f"hello is from device {item.device_id!r}, the batch is for {device_id!r}"))
            continue
        valid.append((index, item))
    return valid, errors


class IngestCounts(BaseModel):
    hello: int = 0
    beat: int = 0
    alert: int = 0
    status: int = 0
    gap: int = 0
    feedback: int = 0


class IngestResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"batch_id": 17, "stored": 98, "duplicates": 2, "replayed": False,
         "counts": {"beat": 90, "alert": 3, "status": 1, "hello": 0, "gap": 0, "feedback": 4}}]})

    batch_id: int
    stored: int = Field(description="items stored by this batch")
    duplicates: int = Field(description="items skipped because they were already stored")
    replayed: bool = Field(description="true: this answers a repeated Idempotency-Key; nothing was stored now")
    counts: IngestCounts = Field(description="stored items per type")


class ItemError(BaseModel):
    index: int | None = Field(description="position of the item in `items`; null for the batch itself")
    field: str = Field(description="the field that was wrong (dotted path inside the item)")
    message: str


class IngestRejection(BaseModel):
    message: str
    errors: list[ItemError]


class IngestRejected(BaseModel):
    """The 422 answer: every invalid item, and nothing of the batch stored."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": {
        "message": "batch rejected: 2 of 100 items are invalid; nothing was stored",
        "errors": [{"index": 7, "field": "scores", "message": "expected 5 scores, got 4"},
                   {"index": 9, "field": "alert", "message": "no alert (boot_id 305419896, seq 77) is stored "
                                                             "for this device or earlier in the batch"}]}}]})

    detail: IngestRejection
