"""telemetry: ingest batches, device messages (hello, beat, alert, status, gap), feedback

Revision ID: 0002_telemetry
Revises: 0001_identity
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_telemetry"
down_revision = "0001_identity"
branch_labels = None
depends_on = None

CLASSES = "'N', 'S', 'V', 'F', 'Q'"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # 64-bit ids; SQLite's INTEGER PRIMARY KEY is too


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _device() -> list[sa.schema.SchemaItem]:
    """id, device_id (FK) and the device key columns every device-message table starts with."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("boot_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    ]


def _tail(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f(f"fk_{table}_device_id_devices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("device_id", "boot_id", "seq", name=op.f(f"uq_{table}_device_key")),
    ]


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_ingest_batches_device_id_devices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batches")),
        sa.UniqueConstraint("device_id", "idempotency_key", name=op.f("uq_ingest_batches_device_key")),
    )

    op.create_table(
        "hellos",
        *_device(),
        sa.Column("firmware_version", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("protocol_version", sa.SmallInteger(), nullable=False),
        sa.Column("sample_rate_hz", sa.Integer(), nullable=False),
        *_tail("hellos"),
    )

    beat_cols = _device()
    beat_cols[0] = sa.Column("id", BIG_ID, nullable=False)
    op.create_table(
        "beats",
        *beat_cols,
        sa.Column("r_sample", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(1), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        *_tail("beats"),
        sa.CheckConstraint(f"label IN ({CLASSES})", name=op.f("ck_beats_label")),
    )
    op.create_index("ix_beats_received_at", "beats", ["received_at"])

    op.create_table(
        "alerts",
        *_device(),
        sa.Column("beat_seq", sa.BigInteger(), nullable=False),
        sa.Column("beat_id", BIG_ID, nullable=True),
        sa.Column("r_sample", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(1), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("rule", sa.SmallInteger(), nullable=False),
        sa.Column("threshold", sa.SmallInteger(), nullable=False),
        sa.Column("ecg_start", sa.BigInteger(), nullable=True),
        sa.Column("ecg_samples", sa.JSON(), nullable=True),
        sa.Column("status", _enum("alert_status", "open", "confirmed", "rejected", "relabelled"), nullable=False),
        sa.Column("true_label", sa.String(1), nullable=True),
        *_tail("alerts"),
        sa.ForeignKeyConstraint(["beat_id"], ["beats.id"], name=op.f("fk_alerts_beat_id_beats"),
                                ondelete="SET NULL"),
        sa.CheckConstraint(f"label IN ({CLASSES})", name=op.f("ck_alerts_label")),
        sa.CheckConstraint(f"true_label IS NULL OR true_label IN ({CLASSES})", name=op.f("ck_alerts_true_label")),
    )
    op.create_index("ix_alerts_received_at", "alerts", ["received_at"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_device_beat", "alerts", ["device_id", "boot_id", "beat_seq"])

    op.create_table(
        "device_statuses",
        *_device(),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in (
            "uptime_ms", "samples", "beats", "alerts", "corrupt_frames", "oversize_frames", "unknown_frames",
            "overruns", "lost", "last_seq", "ring_oldest_seq")),
        *_tail("device_statuses"),
    )

    op.create_table(
        "gaps",
        *_device(),
        sa.Column("first", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        *_tail("gaps"),
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_uid", sa.String(36), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("action", _enum("feedback_action", "confirm", "reject", "relabel"), nullable=False),
        sa.Column("true_label", sa.String(1), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("clinician_name", sa.String(128), nullable=True),
        sa.Column("source", _enum("feedback_source", "api", "bedside"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_feedback_alert_id_alerts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_feedback_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("feedback_uid", name=op.f("uq_feedback_feedback_uid")),
        sa.CheckConstraint(f"true_label IS NULL OR true_label IN ({CLASSES})", name=op.f("ck_feedback_true_label")),
    )
    op.create_index("ix_feedback_alert_created", "feedback", ["alert_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_alert_created", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("gaps")
    op.drop_table("device_statuses")
    op.drop_index("ix_alerts_device_beat", table_name="alerts")
    op.drop_index("ix_alerts_status", table_name="alerts")
    op.drop_index("ix_alerts_received_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_beats_received_at", table_name="beats")
    op.drop_table("beats")
    op.drop_table("hellos")
    op.drop_table("ingest_batches")
