"""All tables, imported here so Alembic (and anyone using Base.metadata) sees every one."""
from server.models import identity, ml, telemetry  # noqa: F401
from server.models.base import Base, utcnow  # noqa: F401
from server.models.identity import Device, DeviceToken, Role, User  # noqa: F401
