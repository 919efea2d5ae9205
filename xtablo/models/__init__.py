"""The domain: one module per aggregate. Verbs flush, views commit once per request."""

from xtablo.models.session import Session
from xtablo.models.tablo import COLORS, Tablo
from xtablo.models.task import Status, Task
from xtablo.models.user import User

__all__ = ["COLORS", "Session", "Status", "Tablo", "Task", "User"]
