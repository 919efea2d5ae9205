"""gunicorn settings for `make run`, the Procfile and the benchmark.

gevent workers so that slow clients and the chat's Server-Sent Events streams do not hold a
worker each; 2 workers by default (WEB_CONCURRENCY overrides) for a small host.

Streams (xtablo/realtime/):
- `worker_connections`: each open chat tab holds one connection for as long as it is open, so a
  worker accepts 12,000 at once: 10,000 streams with room beside them for the pages and posts of
  the same people (WORKER_CONNECTIONS overrides; the process's open-file limit,
  `ulimit -n`, must be above it). An idle stream costs a greenlet and a small queue, no database
  connection.
- `timeout`: with gevent workers it is not a limit on a request's duration. The worker's main
  greenlet tells the arbiter it lives every second, and the arbiter kills a worker that stayed
  silent for `timeout` seconds: one whose event loop was blocked that long. A stream open for
  hours is never killed by it; 30 s stays.
- Shutdown: on SIGTERM a worker stops accepting and waits up to `graceful_timeout` for its open
  connections, which streams would use up entirely. `post_worker_init` hands the worker's
  "alive" flag to the hub's feed, which closes every stream within 0.25 s of the flag
  dropping; `worker_int` (SIGINT, SIGQUIT) closes them at once. Browsers reconnect, to
  a worker still running, and resume with Last-Event-ID.
"""

import importlib.util
import os
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", 12_000))
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



def post_worker_init(worker):
    """The worker's last step before it serves: hand the hub its "alive" flag (see the module's
    docstring: streams end as soon as the worker is told to stop) and start its feed (before any
    request holds a connection: xtablo/realtime/__init__.py, `Realtime.start`), compile the app's templates,
    then freeze what the process holds out of the garbage collector's full collections.

    CPython runs a full collection every so often (when the objects promoted to its oldest
    generation reach a quarter of those already there), and a full collection walks every
    container object of the process: about 130,000 once the app is loaded (modules, SQLAlchemy's
    mappers, compiled templates). That took 100 to 250 ms on the benchmark machine, about once
    every 1,000 board views, and a gevent worker serves nobody meanwhile: the requests that
    arrived during the pause all waited for it, which made most of the board's p99
    (bench/RESULTS.md). `gc.freeze()` moves everything alive into a permanent generation that
    collections skip, so they walk only what the first requests created (about 17,000 objects, a
    few ms). Nothing is lost: these objects live as long as the process, and reference counting
    still frees whatever is dropped. The benchmark's bare hello app gets the same treatment.
    """
    import gc

    realtime = getattr(worker.wsgi, "extensions", {}).get("xtablo_realtime")
    if realtime is not None:
        realtime.keep_alive_while(lambda: worker.alive)
        realtime.start()
    jinja_env = getattr(worker.wsgi, "jinja_env", None)
    if jinja_env is not None:
        for name in jinja_env.list_templates():
            jinja_env.get_template(name)
    gc.collect()
    gc.freeze()


def worker_int(worker):
    """SIGINT or SIGQUIT: the worker exits at once; its streams end first, cleanly."""
    realtime = getattr(worker.wsgi, "extensions", {}).get("xtablo_realtime")
    if realtime is not None:
        realtime.shutdown()


def pre_request(worker, req):
    """A chat stream's connection is closed when the stream ends, not kept alive: a stream ends
    only when the server ends it (the worker stopping, a reader too slow or no longer allowed) and
    its browser then reconnects anyway, to whichever worker. Kept alive, it would hold a stopping
    worker for `keepalive` seconds more, waiting for a request that goes elsewhere."""
    worker.log.debug("%s %s", req.method, req.path)
    if req.path.startswith("/tablos/") and req.path.endswith("/messages/stream"):
        req.force_close()
