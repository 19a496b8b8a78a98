"""HTTP layer: dependencies, permissions, routes under /api/v1."""
