"""The domain: one module per aggregate. Verbs flush, views commit once per request."""

from xtablo.models.etape import Etape, EtapeDeleted
from xtablo.models.event import TabloEvent
from xtablo.models.identity import UserIdentity
from xtablo.models.message import ChangeKind, ClientKeyTaken, MessageChange, MessageDeleted, TabloMessage
from xtablo.models.membership import MembershipError, Role, TabloInvitation, TabloInviteLink, TabloMember, TabloRemoval
from xtablo.models.session import Session
from xtablo.models.tablo import COLORS, Tablo
from xtablo.models.task import NO_ETAPE, Status, Task, TaskDeleted
from xtablo.models.user import User

__all__ = [
    "COLORS", "NO_ETAPE", "ChangeKind", "ClientKeyTaken", "Etape", "EtapeDeleted", "MembershipError", "MessageChange", "MessageDeleted", "Role", "Session", "Status", "Tablo", "TabloEvent", "TabloInvitation", "TabloInviteLink",
    "TabloMember", "TabloMessage", "TabloRemoval", "Task", "TaskDeleted", "User", "UserIdentity",
]
