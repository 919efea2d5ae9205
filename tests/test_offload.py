"""Password hashing under gevent: sign-ins must not freeze a worker's other requests."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xtablo.config import Config, ConfigError

ROOT = Path(__file__).resolve().parent.parent

# A gunicorn gevent worker in miniature: the process is patched, one greenlet ticks every 10 ms
# (any other request of the worker), four others verify passwords at once through the app's own
# verify_password. The hasher is argon2 made slower than the default (so a blocked loop shows
# clearly on any machine) and counts how many verifications run at the same moment.
GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import json, os, time, gevent
    from gevent.monkey import get_original
    from argon2 import PasswordHasher
    from xtablo import create_app
    from xtablo.models import user as accounts

    lock = get_original("threading", "Lock")()
    active = peak = 0
    niceness = set()

    class CountingHasher(PasswordHasher):
        def verify(self, hash, password):
            global active, peak
            with lock:
                active += 1
                peak = max(peak, active)
                niceness.add(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's, on Linux
            try:
                return super().verify(hash, password)
            finally:
                with lock:
                    active -= 1

    accounts.password_hasher = CountingHasher(time_cost=8)
    stored = accounts.password_hasher.hash("correct horse battery")
    start = time.perf_counter()
    accounts.password_hasher.verify(stored, "correct horse battery")
    one_hash = time.perf_counter() - start
    niceness.clear()  # that direct call ran in the loop's thread

    app = create_app()
    ticks, done = [], []

    def ticker():
        while True:
            ticks.append(time.perf_counter())  # also the first tick after a stall
            if done:
                return
            gevent.sleep(0.01)

    def sign_in(password):
        with app.app_context():
            return accounts.verify_password(stored, password)

    tick = gevent.spawn(ticker)
    gevent.sleep(0.05)
    attempts = ["correct horse battery"] * 3 + ["wrong guess"]
    results = [g.get() for g in [gevent.spawn(sign_in, p) for p in attempts]]
    done.append(True)
    tick.join()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    print(json.dumps({"one_hash": one_hash, "longest_gap": max(gaps), "peak": peak, "results": results,
                      "loop_niceness": os.getpriority(os.PRIO_PROCESS, 0), "hash_niceness": sorted(niceness)}))
    """
)


def test_a_greenlet_keeps_running_while_others_verify_passwords(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "SECRET_KEY": "test-" + "x" * 40,
           "XTABLO_INSTANCE_PATH": str(tmp_path), "PASSWORD_HASH_CONCURRENCY": "2"}
    result = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    # A wrong password is an answer, not an error: nothing lands in the worker's error log.
    assert "Traceback" not in result.stderr
    run = json.loads(result.stdout)
    assert run["results"] == [True, True, True, False]
    # Blocking the loop, the ticker would wait a whole hash (or four) at least; in a thread, the
    # loop keeps its 10 ms rhythm give or take the OS scheduler.
    assert run["longest_gap"] < run["one_hash"] / 3, run
    # Four sign-ins at once, PASSWORD_HASH_CONCURRENCY=2: two hashes side by side, never more.
    assert run["peak"] == 2, run
    # When the cores are busy (a burst of sign-ins is), the scheduler serves the loop first.
    assert run["hash_niceness"] == [min(19, run["loop_niceness"] + 10)], run


def test_password_hash_concurrency_defaults_to_the_cpus_and_is_configurable():
    assert Config({"SECRET_KEY": "k" * 32}).PASSWORD_HASH_CONCURRENCY == len(os.sched_getaffinity(0))
    assert Config({"SECRET_KEY": "k" * 32, "PASSWORD_HASH_CONCURRENCY": "3"}).PASSWORD_HASH_CONCURRENCY == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_wrong_password_hash_concurrency_stops_start_up_with_a_clear_message(value):
    with pytest.raises(ConfigError, match=f"PASSWORD_HASH_CONCURRENCY must be a whole number of at least 1, not '{value}'"):
        Config({"SECRET_KEY": "k" * 32, "PASSWORD_HASH_CONCURRENCY": value})
