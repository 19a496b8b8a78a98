"""One module per resource; server/api/router.py includes them all under /api/v1."""
