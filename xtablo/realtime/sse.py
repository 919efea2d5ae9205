"""The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html).

Pure functions, no I/O: what the hub queues and the stream writes is already this text.
"""


def event(event_id: int, name: str, data: str) -> str:
    """One event. Each line of `data` goes on a `data:` line of its own (the browser joins them
    with newlines again): a bare newline inside a `data:` line would end the field there."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"id: {event_id}\nevent: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def retry(milliseconds: int) -> str:
    """How long the browser waits before it reconnects after the stream ends."""
    return f"retry: {milliseconds}\n\n"


def comment(text: str) -> str:
    """A line the browser ignores: keeps proxies from closing an idle stream."""
    return f": {text}\n\n"


def parse_event_id(raw: str | None) -> int | None:
    """The change id a reconnecting browser sends (`Last-Event-ID`), or None when it is missing
    or is not one of ours (then the replay is empty, never an error)."""
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) >= 2**31:
        return None
    return int(raw)
