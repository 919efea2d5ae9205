"""Run CPU-heavy calls off the gevent event loop, a bounded number at a time.

A gevent worker serves every request on one OS thread: while a greenlet computes, no other
greenlet of that worker runs. argon2 is CPU-heavy by design (a tenth to half a second and 64 MiB
per password): fifty people signing in at once froze every page of a worker for seconds.
argon2-cffi releases the GIL while it hashes, so the hash can run in a native thread while the
loop keeps serving. Each worker process gets its own small thread pool whose size bounds how many
such calls run at once, and its threads run at a lower CPU priority than the loop's: a burst of
sign-ins queues behind that bound and takes the CPU the pages leave (sign-ins slow down) instead
of taking every core and every worker's loop (the whole app slows down). bench/signin.py measures it.

This module is the only one that knows gevent for that. Outside a gevent-patched process (tests,
the CLI, `flask shell`) there is no loop to protect: `run` calls the function directly.
Only hand it functions that release the GIL; pure-Python work would still hold the loop.
"""

import os
import sys
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_pool = None  # gevent.threadpool.ThreadPool of this process, created on first use
# How much nicer than the event loop's thread the pool's threads are (see _give_way_to_the_loop).
BACKGROUND_NICENESS = 10


def default_concurrency() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def gevent_patched() -> bool:
    """True in a process whose blocking calls gevent made cooperative (gunicorn's gevent worker)."""
    if "gevent.monkey" not in sys.modules:  # nobody imported gevent's patching: nothing is patched
        return False
    from gevent import monkey

    return monkey.is_module_patched("threading")


def run(func: Callable[..., T], *args: Any, limit: int) -> T:
    """`func(*args)` in one of at most `limit` native threads of this process, the calling
    greenlet waiting cooperatively (for a free thread, then for the result); or directly when the
    process is not gevent-patched. Exceptions are raised in the caller as usual."""
    if not gevent_patched():
        return func(*args)
    ok, value = _thread_pool(limit).apply(_outcome, (func, args))
    if not ok:
        raise value
    return value


def _outcome(func, args) -> tuple[bool, Any]:
    _give_way_to_the_loop()
    # An exception escaping a pool thread would also be printed by gevent's hub, traceback and
    # all (every wrong password, in the error log): hand it back as a value, raise it here.
    try:
        return True, func(*args)
    except Exception as exc:  # noqa: BLE001  (raised again in the caller)
        return False, exc


def _give_way_to_the_loop() -> None:
    """Lower this pool thread's CPU priority below the event loop's thread. When the cores are
    busy (a burst of sign-ins is exactly that), the scheduler then runs the loop first: pages stay
    fast and the hashes take what is left. Linux keeps a nice value per thread, so
    setpriority(PRIO_PROCESS, 0) changes this thread only (man 2 setpriority); elsewhere it would
    change the whole process, so it is not done."""
    if not sys.platform.startswith("linux"):
        return
    try:
        wanted = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + BACKGROUND_NICENESS)
        if os.getpriority(os.PRIO_PROCESS, 0) < wanted:
            os.setpriority(os.PRIO_PROCESS, 0, wanted)
    except OSError:  # not permitted here: the work still runs, at the loop's priority
        pass


def _thread_pool(limit: int):
    global _pool
    from gevent.threadpool import ThreadPool

    # gevent's ThreadPool runs at most `maxsize` calls at once; later calls wait for a thread.
    # Created in the process that uses it: a pool made before gunicorn forks its workers would
    # belong to the master. Not the hub's shared pool, which gevent also uses to resolve host
    # names: a queue of hashes must not delay a database connection. (Called from another native
    # thread than the loop's, `apply` runs the function directly in that thread.)
    if _pool is None or _pool.pid != os.getpid():
        _pool = ThreadPool(limit)
    elif _pool.maxsize != limit:
        _pool.maxsize = limit
    return _pool
