"""Request and response schemas, one module per entity (Create / Update / Public families)."""
