"""Data access and domain rules, one module per area. No HTTP here: failures are server.core.errors."""
