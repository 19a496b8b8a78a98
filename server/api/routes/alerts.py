"""/alerts routes (placeholder created with the skeleton; its owner fills it in)."""
from fastapi import APIRouter

router = APIRouter(prefix="/alerts", tags=["alerts"])
