"""The Chalice app: registers the HTTP blueprints and the event handlers, nothing else.

Importing it loads no pydantic model, service or store: each route and message handler loads what it
uses on first call (imports inside the handlers; docs/design.md), which keeps a Lambda's cold start short."""

from chalice import Chalice

from chalicelib.api.routes import ROUTERS
from chalicelib.jobs.schedules import blueprint as schedules_blueprint
from chalicelib.jobs.worker import blueprint as worker_blueprint
from chalicelib.logs import configure_logging

configure_logging()
app = Chalice(app_name="vdi-broker")

for router in ROUTERS:
    app.register_blueprint(router.blueprint, url_prefix=router.prefix)
app.register_blueprint(worker_blueprint)
app.register_blueprint(schedules_blueprint)
