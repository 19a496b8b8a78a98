"""All tables, imported here so Alembic (and anyone using Base.metadata) sees every one."""
from server.models import identity, ml, telemetry
from server.models.base import Base

__all__ = ["Base", "identity", "ml", "telemetry"]
