"""The server's background worker: a separate process (`heartbeat server worker`) that runs queued jobs."""
