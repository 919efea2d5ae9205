"""Rendered HTML fragments kept in memory, keyed by what they are drawn from.

A board's columns are the same HTML for every member until a card changes, and drawing hundreds
of cards is most of the page's cost. Each worker keeps the last rendered fragments in a bounded
LRU; the key carries a version that the domain bumps in the same transaction as the change
(`Tablo.board_version`), so a worker never serves a stale board: it only misses, and renders.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock

from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

MAX_ENTRIES = 256


class Fragments:
    """A bounded LRU of rendered HTML (or small values), each computed once per key."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, object] = OrderedDict()  # HTML (Markup) or small values
        self._lock = Lock()

    def cached(self, key: Hashable, render: Callable[[], str]) -> Markup:
        """The HTML `render` draws, drawn once per key."""
        return self.remembered(key, lambda: Markup(render()))

    def remembered(self, key: Hashable, compute: Callable[[], object]):
        """The value `compute` returns, computed once per key: HTML, or a small list the key's
        version decides."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


boards = Fragments(MAX_ENTRIES)  # the boards' fragments: big, few
cached = boards.cached
remembered = boards.remembered
clear = boards.clear


# Stands for the reader's CSRF token in HTML drawn for every reader (see with_csrf_token).
CSRF_MARK = "\x00csrf-token\x00"


def with_csrf_token(store: Fragments, key: Hashable, draw: Callable[[str], str], token: str | None = None) -> Markup:
    """HTML that is the same for every reader but for the CSRF token of its forms: `draw(mark)`
    draws it once per key with `mark` where the token goes, and each call puts the reader's
    token there (`token`, else the request's)."""
    parts = store.remembered(key, lambda: tuple(draw(CSRF_MARK).split(CSRF_MARK)))
    if len(parts) == 1:  # no form in it
        return Markup(parts[0])
    return Markup(str(escape(token or generate_csrf())).join(parts))
