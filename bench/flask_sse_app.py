"""Flask-SSE 1.0.0 side by side with the chat (bench/chat.py): the package a Flask developer
would pick for Server-Sent Events, Redis pub/sub underneath.

Served as the app is, `gunicorn -c gunicorn.conf.py flask_sse_app:app` with bench/ on the Python
path and SSE_REDIS_URL in the environment (installed by `make bench-chat`: the `bench` extra of
pyproject.toml; never a dependency of the app).

GET /stream?channel=<name>   Flask-SSE's own view: each stream subscribes a Redis connection of
                             its own to the channel and sends nothing (not even its headers)
                             until the first event, so bench/chat.py waits for Redis to count
                             the subscribers (PUBSUB NUMSUB) before it publishes
POST /publish/<name>         `sse.publish(text, type="message-created", channel=name)`
"""

import os

from flask import Flask, jsonify, request
from flask_sse import sse

app = Flask(__name__)
app.config["SSE_REDIS_URL"] = os.environ["SSE_REDIS_URL"]
app.register_blueprint(sse, url_prefix="/stream")


@app.post("/publish/<channel>")
def publish(channel: str):
    receivers = sse.publish(request.get_data(as_text=True), type="message-created", channel=channel)
    return jsonify(subscribers=receivers)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
