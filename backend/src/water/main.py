"""ASGI entry point: `uvicorn water.main:app`. The only module with an import-time side effect."""

from .app import create_app

app = create_app()
