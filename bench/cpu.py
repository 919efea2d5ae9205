#!/usr/bin/env python
"""CPU per request, in-process: the board page, /healthz and the bare hello app.

    .venv/bin/python bench/cpu.py [--requests 2000] [--profile board] [--top 40]

Builds the same database as bench/board.py (fresh SQLite, bench/seed.py's 200 tasks), signs in
through the login form with Flask's test client, then sends the requests of every kind in a
shuffled order, timing each with `time.process_time` (CPU of this process only, so other load on
the machine hardly moves it). `--profile board` runs the board's requests under cProfile instead
and prints where the time goes. No gunicorn and no gevent here: the figures are the app's own
cost per request, without the server's (bench/board.py measures the whole).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import board  # noqa: E402  (bench/board.py: the same database and environment)
import hello  # noqa: E402


def signed_in_client(app, email: str, password: str):
    client = app.test_client()
    page = client.get("/login").get_data()
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', page)
    answer = client.post("/login", data={"csrf_token": token.group(1).decode(), "email": email, "password": password})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"sign-in answered {answer.status_code}")
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each kind (2000)")
    parser.add_argument("--profile", choices=["board", "healthz", "hello"], help="profile that kind with cProfile")
    parser.add_argument("--top", type=int, default=40, help="lines of the profile to print (40)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xtablo-cpu-") as tmp:
        env = board.server_env(Path(tmp), board.free_port())
        seeded = board.prepare_database(env, board.TASKS)
        os.environ.update(env)
        from xtablo import create_app

        app = create_app()
        client = signed_in_client(app, seeded["email"], os.environ.get("BENCH_PASSWORD", "bench-password"))
        hello_client = hello.app.test_client()
        board_path = f"/tablos/{seeded['tablo_id']}"

        def get_board():
            response = client.get(board_path)
            assert response.status_code == 200 and response.get_data().count(b'class="task"') == board.TASKS

        def get_healthz():
            assert client.get("/healthz").status_code == 200

        def get_hello():
            assert hello_client.get("/").get_data() == b"Hello"

        kinds = {"board": get_board, "healthz": get_healthz, "hello": get_hello}
        for call in kinds.values():  # warm-up: caches, first-use imports
            for _ in range(50):
                call()

        if args.profile:
            profiler = cProfile.Profile()
            call = kinds[args.profile]
            start = time.process_time()
            profiler.enable()
            for _ in range(args.requests):
                call()
            profiler.disable()
            print(f"{args.profile}: {(time.process_time() - start) * 1000 / args.requests:.3f} ms CPU per request under cProfile")
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
            return

        order = [name for name in kinds for _ in range(args.requests)]
        random.shuffle(order)
        times: dict[str, list[float]] = {name: [] for name in kinds}
        for name in order:
            t0 = time.process_time()
            kinds[name]()
            times[name].append(time.process_time() - t0)
        for name, samples in times.items():
            mean = statistics.fmean(samples) * 1000
            print(f"{name:8} {mean:7.3f} ms CPU per request (mean of {len(samples)}; median {statistics.median(samples) * 1000:.3f} ms)")
        ratio = statistics.fmean(times["hello"]) / statistics.fmean(times["board"])
        print(f"board costs {1 / ratio:.1f} x hello: on CPU alone the board would reach {ratio:.1%} of hello's throughput")


if __name__ == "__main__":
    main()
