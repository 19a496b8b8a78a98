"""ml: retraining jobs, prediction log, promotions

Revision ID: 0003_ml
Revises: 0002_telemetry
Create Date: 2026-11-24
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ml"
down_revision = "0002_telemetry"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"),
                                   ondelete="SET NULL")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("job_kind", "retrain"), nullable=False),
        sa.Column("status", _enum("job_status", "queued", "running", "succeeded", "failed", "cancelled"),
                  nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("params_path", sa.String(1024), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("log_path", sa.String(1024), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _user_fk("jobs", "created_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"])
    op.create_table(
        "prediction_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("source", _enum("prediction_source", "predict", "random"), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(1), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("true_label", sa.String(1), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("record", sa.String(32), nullable=True),
        sa.Column("sample", sa.Integer(), nullable=True),
        _user_fk("prediction_logs", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_logs")),
    )
    op.create_index(op.f("ix_prediction_logs_created_at"), "prediction_logs", ["created_at"])
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("previous_champion", sa.Integer(), nullable=True),
        sa.Column("production_path", sa.String(2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("promotions", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    op.create_index(op.f("ix_promotions_model_version"), "promotions", ["model_version"])


def downgrade() -> None:
    op.drop_index(op.f("ix_promotions_model_version"), table_name="promotions")
    op.drop_table("promotions")
    op.drop_index(op.f("ix_prediction_logs_created_at"), table_name="prediction_logs")
    op.drop_table("prediction_logs")
    op.drop_index("ix_jobs_status_id", table_name="jobs")
    op.drop_table("jobs")
