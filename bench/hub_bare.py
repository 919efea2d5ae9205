"""The yardstick of bench/chat.py: a bare Flask + gevent Server-Sent Events hub that only fans out.

Served exactly as the app is, `gunicorn -c gunicorn.conf.py hub_bare:app` with bench/ on the
Python path (gevent worker, gunicorn.conf.py's post_worker_init), so that what the chat costs
above it is xtablo's own work: authorization, the change log, rendering, the feed.

GET /stream/<room>     an SSE response fed from a bounded gevent Queue of its own (a retry hint
                       first, a heartbeat comment after 15 s of silence, as the app's stream)
POST /publish/<room>   the posted text, as one `message-created` event, put into every queue of
                       the room (a full queue drops its subscriber, as the app's hub does)
"""

from collections import defaultdict

from flask import Flask, Response, jsonify, request
from gevent.queue import Empty, Full, Queue

HEARTBEAT = 15.0
QUEUE_SIZE = 64

app = Flask(__name__)
rooms: dict[str, set[Queue]] = defaultdict(set)


@app.get("/stream/<room>")
def stream(room: str):
    queue: Queue = Queue(QUEUE_SIZE)
    rooms[room].add(queue)

    def generate():
        try:
            yield b"retry: 2000\n\n"
            while True:
                try:
                    event = queue.get(timeout=HEARTBEAT)
                except Empty:
                    event = b": heartbeat\n\n"
                yield event
        finally:
            rooms[room].discard(queue)
            if not rooms[room]:
                del rooms[room]

    return Response(generate(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


@app.post("/publish/<room>")
def publish(room: str):
    text = request.get_data(as_text=True)
    event = ("event: message-created\n" + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n").encode()
    reached = 0
    for queue in list(rooms.get(room, ())):
        try:
            queue.put_nowait(event)
            reached += 1
        except Full:  # too slow a reader: no longer fed (the app's hub closes it)
            rooms[room].discard(queue)
    return jsonify(subscribers=reached)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
