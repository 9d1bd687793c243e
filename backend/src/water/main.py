"""ASGI entry point: `uvicorn water.main:app`. The only module with import-time side effects."""

import gc

from .app import create_app

app = create_app()
# Everything built so far (modules, routes, schemas) lives as long as the server process: move it out
# of the collector's reach, so full collections under load stay short. Only here, in the served
# process: a test process that froze at every app start would keep its garbage (and connections).
gc.collect()
gc.freeze()
