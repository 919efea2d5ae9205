"""Start-up configuration as an operator meets it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xtablo.config import Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(XTABLO_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite", PORT="0", WEB_CONCURRENCY="1")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "xtablo: production mode needs SECRET_KEY set to at least 32 random characters" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("key", [None, "", "short"])
def test_production_config_rejects_missing_or_short_keys(key):
    env = {"XTABLO_ENV": "production"} | ({"SECRET_KEY": key} if key is not None else {})
    with pytest.raises(ConfigError):
        Config(env)


def test_local_mode_persists_its_generated_key(tmp_path, monkeypatch):
    monkeypatch.setattr("xtablo.config.INSTANCE_PATH", tmp_path)
    first, second = Config({}), Config({})
    assert first.SECRET_KEY == second.SECRET_KEY
    assert len(first.SECRET_KEY) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_gunicorn_worker_compiles_the_templates_and_freezes_the_loaded_app_before_serving(app):
    """A full garbage collection of the loaded app (about 130,000 objects) paused a gevent worker
    for 100 to 250 ms, once every thousand board views or so: gunicorn.conf.py's post_worker_init
    takes what the worker holds out of those collections (bench/RESULTS.md)."""
    import gc
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    templates = app.jinja_env.list_templates()
    app.jinja_env.cache.clear()
    assert gc.get_freeze_count() == 0
    try:
        conf.post_worker_init(SimpleNamespace(wsgi=app, alive=True))
        assert gc.get_freeze_count() > 100_000
        assert len(app.jinja_env.cache) == len(templates) > 50
    finally:
        gc.unfreeze()
        # post_worker_init also started the chat's feed: stopped, or its greenlet would go on
        # polling in this process whenever a later test runs gevent's loop.
        app.extensions["xtablo_realtime"].feed.stop()
