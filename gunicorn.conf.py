"""gunicorn settings for `make run`, the Procfile and the benchmark.

gevent workers so that slow clients and, later, Server-Sent Events streams do not hold a worker
each; 2 workers by default (WEB_CONCURRENCY overrides) for a small host.
"""

import importlib.util
import os
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", 1000))
timeout = 30
graceful_timeout = 10
keepalive = 5
# ACCESS_LOG="" turns the access log off (the benchmark does).
accesslog = os.environ.get("ACCESS_LOG", "-") or None
errorlog = "-"


def _access_logger():
    """xtablo/web/accesslog.py's logger (invitation tokens redacted), loaded by its path so that
    the arbiter does not import the xtablo package before gevent patches the workers."""
    spec = importlib.util.spec_from_file_location("xtablo_accesslog", Path(__file__).resolve().parent / "xtablo" / "web" / "accesslog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RedactingLogger


logger_class = _access_logger()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket lives at one path per user: the test suite's live servers, the
# benchmark and `make run` would contend for it, and nothing here uses `gunicornc`.
control_socket_disable = True
