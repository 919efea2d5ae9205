"""A chat message as HTML: its plain text escaped, line breaks kept (the template's `white-space:
pre-wrap`), web addresses made links and `@name` mentions of the tablo's members marked.

Nothing a person types becomes markup or an attribute: every piece of the text goes through
`escape`, and the only markup is written here (`<a href dir rel>` and `<span class="mention">`). A
link is made only of an address that starts with http:// or https:// (so never `javascript:`), and
its `href` is the escaped address itself, quotes included.

A link shows the address it leads to. Typed text may hold invisible direction controls: a
RIGHT-TO-LEFT OVERRIDE (U+202E) before "https://evil.example/moc.knab//:sptth" would draw it as
"https://bank.com/elpmaxe.live//:sptth". So a link is drawn left to right, isolated from what
surrounds it (`dir="ltr"`: HTML isolates an element with `dir`), and an address ends at a
direction control, which would reorder it from inside.
"""

import re
from functools import lru_cache

from markupsafe import Markup, escape

# An address runs to the next space or character that cannot be in one unescaped; what follows
# it in a sentence (a full stop, a closing bracket it did not open) is trimmed off (`_trim`).
DIRECTION_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
URL = re.compile(rf"(?<![\w@/.:+-])https?://[^\s<>\"'`\x00-\x1f\x7f{DIRECTION_CONTROLS}]+", re.IGNORECASE)
TRAILING = ".,;:!?'\"*_~"
CLOSING = {")": "(", "]": "[", "}": "{"}


def _trim(url: str) -> str:
    """Punctuation that ends a sentence is not part of the address, nor is a closing bracket
    without its opening one. Linear: the brackets are counted once, then as they are dropped."""
    counts = {char: url.count(char) for char in {*CLOSING, *CLOSING.values()}}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in TRAILING:
            end -= 1
        elif last in CLOSING and counts[last] > counts[CLOSING[last]]:
            counts[last] -= 1
            end -= 1
        else:
            break
    return url[:end]


def _link(url: str) -> str:
    address = escape(url)
    return f'<a href="{address}" dir="ltr" rel="noopener noreferrer nofollow" target="_blank">{address}</a>'


@lru_cache(maxsize=256)
def _mention_pattern(names: tuple[str, ...]) -> re.Pattern | None:
    """`@` and one of `names` (the longest first, so "@Ada Lovelace" is not cut at "@Ada"), not
    inside a word or an email address, and not followed by more of a word."""
    names = tuple(name for name in names if name.strip())
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(set(names), key=len, reverse=True))
    return re.compile(rf"(?<![\w@.])@({alternatives})(?!\w)", re.IGNORECASE)


def _with_mentions(text: str, pattern: re.Pattern | None) -> str:
    if pattern is None:
        return str(escape(text))
    out, position = [], 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[position:match.start()])))
        out.append(f'<span class="mention">{escape(match.group())}</span>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return "".join(out)


def message_html(body: str, member_names=()) -> Markup:
    """`body` as HTML, safe to put anywhere in a page: see the module's docstring."""
    mentions = _mention_pattern(tuple(member_names))
    out, position = [], 0
    for match in URL.finditer(body):
        url = _trim(match.group())
        if not re.match(r"https?://[^/?#]", url, re.IGNORECASE):  # "http://" alone is no address
            continue
        out.append(_with_mentions(body[position:match.start()], mentions))
        out.append(_link(url))
        position = match.start() + len(url)
    out.append(_with_mentions(body[position:], mentions))
    return Markup("".join(out))
