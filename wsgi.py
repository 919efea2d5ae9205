"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

import sys

from xtablo import create_app
from xtablo.config import ConfigError

# gunicorn stops (rather than respawning workers) when a worker exits with this code.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as error:
    print(error, file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
