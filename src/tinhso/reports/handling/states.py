"""A report's states, what each is called in Vietnamese and English, how Open311 sees it, and
which actions move a report from one state to another.

Open311 knows only ``open`` and ``closed``: a refused, resolved or duplicate report is closed;
every other state is open. Re-routing to another organisation is an action, not a state: the
report waits again (chờ tiếp nhận) at its new organisation, with a new acceptance deadline.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tinhso.core.errors import Message
from tinhso.reports.models import Rating, ReportState, Severity

STATE_NAMES: dict[ReportState, Message] = {
    ReportState.SUBMITTED: Message("Chờ tiếp nhận", "Awaiting acceptance"),
    ReportState.ACCEPTED: Message("Đã tiếp nhận", "Accepted"),
    ReportState.REFUSED: Message("Từ chối tiếp nhận", "Refused"),
    ReportState.ASSIGNED: Message("Đã phân công", "Assigned"),
    ReportState.IN_PROGRESS: Message("Đang xử lý", "In progress"),
    ReportState.RESOLVED: Message("Đã xử lý", "Resolved"),
    ReportState.DUPLICATE: Message("Trùng phản ánh khác", "Duplicate"),
    ReportState.REOPENED: Message("Mở lại", "Reopened"),
}

CLOSED_STATES = frozenset({ReportState.REFUSED, ReportState.RESOLVED, ReportState.DUPLICATE})

SEVERITY_NAMES: dict[Severity, Message] = {
    Severity.URGENT: Message("Khẩn", "Urgent"),
    Severity.NORMAL: Message("Bình thường", "Normal"),
    Severity.COMPLEX: Message("Phức tạp", "Complex"),
}

RATING_NAMES: dict[Rating, Message] = {
    Rating.SATISFIED: Message("Hài lòng", "Satisfied"),
    Rating.UNSATISFIED: Message("Chưa hài lòng", "Not satisfied"),
}


def open311_status(state: ReportState) -> str:
    return "closed" if state in CLOSED_STATES else "open"


class Action(enum.StrEnum):
    """What an officer (or the operations centre) does to a report."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    ASSIGN = "assign"
    START = "start"
    ANSWER = "answer"
    MARK_DUPLICATE = "mark_duplicate"
    REROUTE = "reroute"
    EXTEND = "extend"


class Who(enum.Enum):
    OFFICER = "officer"  # an officer (or admin) of the responsible organisation
    ADMINISTRATOR = "administrator"  # an admin of the responsible organisation


@dataclass(frozen=True)
class Transition:
    sources: frozenset[ReportState]
    target: ReportState | None  # None: the state does not change (extend)
    who: Who
    needs_note: bool  # a reason, or the public answer
    name: Message


_WORKING = frozenset(
    {ReportState.ACCEPTED, ReportState.ASSIGNED, ReportState.IN_PROGRESS, ReportState.REOPENED}
)

TRANSITIONS: dict[Action, Transition] = {
    Action.ACCEPT: Transition(
        frozenset({ReportState.SUBMITTED}),
        ReportState.ACCEPTED,
        Who.OFFICER,
        needs_note=False,
        name=Message("Tiếp nhận", "Accept"),
    ),
    Action.REFUSE: Transition(
        frozenset({ReportState.SUBMITTED}),
        ReportState.REFUSED,
        Who.OFFICER,
        needs_note=True,
        name=Message("Từ chối tiếp nhận", "Refuse"),
    ),
    Action.ASSIGN: Transition(
        _WORKING,
        ReportState.ASSIGNED,
        Who.OFFICER,
        needs_note=False,
        name=Message("Phân công", "Assign"),
    ),
    Action.START: Transition(
        _WORKING - {ReportState.IN_PROGRESS},
        ReportState.IN_PROGRESS,
        Who.OFFICER,
        needs_note=False,
        name=Message("Bắt đầu xử lý", "Start work"),
    ),
    Action.ANSWER: Transition(
        _WORKING,
        ReportState.RESOLVED,
        Who.OFFICER,
        needs_note=True,
        name=Message("Trả lời", "Answer"),
    ),
    Action.MARK_DUPLICATE: Transition(
        frozenset({ReportState.SUBMITTED, ReportState.ACCEPTED}),
        ReportState.DUPLICATE,
        Who.OFFICER,
        needs_note=False,
        name=Message("Đánh dấu trùng", "Mark as duplicate"),
    ),
    Action.REROUTE: Transition(
        frozenset({ReportState.SUBMITTED, ReportState.ACCEPTED, ReportState.ASSIGNED}),
        ReportState.SUBMITTED,
        Who.OFFICER,
        needs_note=True,
        name=Message("Chuyển đơn vị khác", "Re-route"),
    ),
    Action.EXTEND: Transition(
        _WORKING,
        None,
        Who.ADMINISTRATOR,
        needs_note=True,
        name=Message("Gia hạn", "Extend the deadline"),
    ),
}

# Timeline entries made by the reporter or the platform, beside the officers' actions.
EVENT_NAMES: dict[str, Message] = {
    "submit": Message("Gửi phản ánh", "Submitted"),
    "reopen": Message("Người phản ánh mở lại", "Reopened by the reporter"),
    "rate": Message("Người phản ánh đánh giá", "Rated by the reporter"),
    "hide": Message("Ẩn khỏi công khai", "Hidden from the public"),
    "unhide": Message("Hiện lại công khai", "Shown to the public again"),
    "edit": Message("Kiểm duyệt sửa nội dung", "Text edited by a moderator"),
    **{action.value: transition.name for action, transition in TRANSITIONS.items()},
}
