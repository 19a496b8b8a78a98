"""Every route module under /api/v1."""
from fastapi import APIRouter

from server.api.routes import alerts, auth, devices, health, ingest, models, monitoring, predict, retrain, users

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
for module in (health, auth, users, devices, ingest, alerts, predict, models, retrain, monitoring):
    api_router.include_router(module.router)
