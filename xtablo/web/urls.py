"""`url_for` with the URLs it built remembered, per process.

A page builds a few dozen URLs (the layout's links, static files, the tabs, the board's forms),
and Werkzeug builds each one afresh: about a tenth of a board page's CPU (bench/RESULTS.md). Within
a request, a URL relative to the site depends only on the endpoint, its values and the script
root the app is mounted at: the URL map does not change once the app is made, and the one
`url_defaults` function (xtablo/web/assets.py's static version) is a function of the file name.
So such URLs are remembered, keyed by exactly those. Everything else is built as Flask builds it:
outside a request, relative endpoints (".index"), any `_external`, `_scheme`, `_anchor` or
`_method`, and every URL under the debug server (where an edited static file gets a new version).
"""

from flask import Flask
from flask.globals import _cv_request

MAX_URLS = 4096  # then the memory starts over: URLs carry ids, and ids have no end


class XtabloFlask(Flask):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.built_urls: dict[tuple, str] = {}

    def url_for(self, endpoint: str, /, *, _anchor=None, _method=None, _scheme=None, _external=None, **values) -> str:
        request_ctx = _cv_request.get(None)
        if (request_ctx is None or request_ctx.url_adapter is None or endpoint[:1] == "." or self.debug
                or _anchor is not None or _method is not None or _scheme is not None or _external is not None):
            return super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values)
        # The type is part of the key: 1 == True == 1.0, but a query string spells them apart.
        key = (request_ctx.url_adapter.script_name, endpoint, *((name, type(value), value) for name, value in values.items()))
        try:
            return self.built_urls[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key (a list of query values): not remembered
            return super().url_for(endpoint, **values)
        url = super().url_for(endpoint, **values)
        if len(self.built_urls) >= MAX_URLS:
            self.built_urls.clear()
        self.built_urls[key] = url
        return url
