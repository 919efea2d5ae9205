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

_fragments: OrderedDict[Hashable, object] = OrderedDict()  # HTML (Markup) or small lists
_lock = Lock()


def cached(key: Hashable, render: Callable[[], str]) -> Markup:
    """The HTML `render` draws, drawn once per key."""
    return remembered(key, lambda: Markup(render()))


def remembered(key: Hashable, compute: Callable[[], object]):
    """The value `compute` returns, computed once per key: HTML, or a small list the key's
    version decides."""
    with _lock:
        if key in _fragments:
            _fragments.move_to_end(key)
            return _fragments[key]
    value = compute()
    with _lock:
        _fragments[key] = value
        while len(_fragments) > MAX_ENTRIES:
            _fragments.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _fragments.clear()
