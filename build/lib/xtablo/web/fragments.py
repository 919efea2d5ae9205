"""Rendered HTML fragments kept in memory, keyed by what they are drawn from.

A board's columns are the same HTML for every member until a card changes, and drawing hundreds
of cards is most of the page's cost. Each worker keeps the last rendered fragments in a bounded
LRU; the key carries a version that the domain bumps in the same transaction as the change
(`Tablo.board_version`), so a worker never serves a stale board: it only misses, and renders.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock

from markupsafe import Markup

MAX_ENTRIES = 256

_fragments: OrderedDict[Hashable, Markup] = OrderedDict()
_lock = Lock()


def cached(key: Hashable, render: Callable[[], str]) -> Markup:
    with _lock:
        html = _fragments.get(key)
        if html is not None:
            _fragments.move_to_end(key)
            return html
    html = Markup(render())
    with _lock:
        _fragments[key] = html
        while len(_fragments) > MAX_ENTRIES:
            _fragments.popitem(last=False)
    return html


def clear() -> None:
    with _lock:
        _fragments.clear()
