"""How pages and static files travel: compressed, and static files cached for a year.

Text responses (pages, htmx fragments, CSS, JS, JSON, SVG) are compressed by Flask-Compress at
levels chosen for speed, since compression runs on the gevent loop (bench/RESULTS.md has the
figures). Streamed responses are left alone: a compressor holds data back until it has enough,
which would delay every event of a stream.

`url_for('static', filename=...)` adds `?v=<hash of the content>`. A file is read and hashed
once per process, and served from that copy, so a versioned URL always answers the very bytes
its hash names, even while a deploy replaces the files under a running worker. Served with its
own version, a file may be cached for a year; with none or another one (an old page, a typed
URL), it is still served, but must be revalidated. Being in memory rather than streamed from
disk, static bodies are compressed like pages.
"""

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, abort, current_app, request
from flask_compress import Compress
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 3600

COMPRESSION = {
    # zstd and brotli compress better than gzip for less CPU at these levels; every current
    # browser sends gzip, most send br, recent ones zstd. No deflate: it adds nothing over gzip.
    "COMPRESS_ALGORITHM": ["zstd", "br", "gzip"],
    "COMPRESS_ZSTD_LEVEL": 3,
    "COMPRESS_BR_LEVEL": 3,
    "COMPRESS_LEVEL": 5,
    "COMPRESS_MIN_SIZE": 500,  # below one packet the saving is nil and the CPU is not
    "COMPRESS_STREAMS": False,
    "COMPRESS_MIMETYPES": [
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
    ],
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    version: str
    mimetype: str
    modified_at: datetime
    stat_key: tuple[int, int]


class StaticFiles:
    """The app's static files as this process first read them, with the hash of each."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.files: dict[str, StaticFile] = {}

    def get(self, filename: str) -> StaticFile | None:
        cached = self.files.get(filename)
        # Under the debug server a file edited on disk is read again, so a developer sees the
        # change at once (under a new URL) without restarting.
        if cached is not None and not (self.app.debug and self._stat_key(filename) != cached.stat_key):
            return cached
        path = self._path(filename)
        if path is None or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            body = f.read()
        self.files[filename] = StaticFile(
            body=body,
            version=hashlib.sha256(body).hexdigest()[:16],
            mimetype=mimetypes.guess_type(filename)[0] or "application/octet-stream",
            modified_at=datetime.fromtimestamp(int(stat.st_mtime), UTC),
            stat_key=(stat.st_mtime_ns, stat.st_size),
        )
        return self.files[filename]

    def _path(self, filename: str) -> str | None:
        """The file's path, or None for a name that leads out of the static folder."""
        return safe_join(self.app.static_folder, filename) if self.app.static_folder else None

    def _stat_key(self, filename: str) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._path(filename) or "")
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)


def serve_static(filename: str):
    file = current_app.extensions["xtablo.static_files"].get(filename)
    if file is None:
        abort(404)
    response = current_app.response_class(file.body, mimetype=file.mimetype)
    response.set_etag(file.version)
    response.last_modified = file.modified_at
    if request.args.get("v") == file.version:
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    for key, value in COMPRESSION.items():
        app.config.setdefault(key, value)
    Compress(app)  # one per app: it keeps the app's settings on itself

    app.extensions["xtablo.static_files"] = StaticFiles(app)
    app.view_functions["static"] = serve_static

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            file = app.extensions["xtablo.static_files"].get(values.get("filename", ""))
            if file is not None:
                values["v"] = file.version
