"""Cross-cutting pieces of the server: settings, database, security, errors, logging."""
