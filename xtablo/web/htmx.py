"""Everything xtablo knows about htmx's request and response headers.

A view answers a classic request with a full page and an htmx request with the partial that the
page includes; a classic form post redirects (303) so a reload never re-posts.
"""

import json

from flask import redirect, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def triggered_by() -> str | None:
    """The id of the element whose event made this htmx request (a form, a select), if any."""
    return request.headers.get("HX-Trigger") if is_htmx() else None


def see_other(url: str):
    """Go to `url` after a post: a 303 for a classic form, HX-Redirect for htmx."""
    if is_htmx():
        return "", 204, {"HX-Redirect": url}
    return redirect(url, 303)


def current_url() -> str | None:
    """The address of the page an htmx request was made from (the page, not the partial)."""
    return request.headers.get("HX-Current-URL") if is_htmx() else None


def after_settle(response, *, announce: str | None = None, focus: str | None = None):
    """Tell the page, once htmx has swapped and settled the answer, what to say to screen readers
    (the live region #announcer) and where to put the keyboard focus (a CSS selector): see
    xtablo/static/js/app.js. Keeps focus where the person works instead of dropping it to <body>."""
    events = {}
    if announce:
        events["xtablo:announce"] = announce
    if focus:
        events["xtablo:focus"] = focus
    if events and is_htmx():
        response.headers["HX-Trigger-After-Settle"] = json.dumps(events)
    return response


def refused(response, form, focus: str | None = None):
    """A refused htmx post: say what is wrong (every error of `form`), and put the focus on the
    field to fix (`focus`, else the first field with an error)."""
    messages = " ".join(str(message) for field in form for message in field.errors)
    if not messages:
        return response
    if focus is None:
        focus = "#" + next(field for field in form if field.errors).id
    return after_settle(response, announce=messages, focus=focus)


def retarget(response, selector: str, swap: str = "outerHTML"):
    """Swap an htmx answer into `selector` instead of the element the request named (a refused
    post answers with its form, not with what a success would have added)."""
    if is_htmx():
        response.headers["HX-Retarget"] = selector
        response.headers["HX-Reswap"] = swap
    return response
