"""HTTP on the hub's port: health, the companion web app, the OpenAI-compatible API."""
