"""The bare Flask app the board is measured against (bench/board.py): one route, no extension.

Served exactly as the real app is, `gunicorn -c gunicorn.conf.py hello:app` with bench/ on the
Python path, so the ratio between the two says what xtablo's own work costs on top of gunicorn,
gevent, Werkzeug and Flask.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello"
