"""Demo field reports: the categories, routing for the current Bắc Ninh province (which now
holds the legacy Bắc Giang) and a few hundred synthetic reports spread over its communes and
every state, so the queues, the Open311 feed and the statistics have something to show.

Every demo report is marked ``synthetic`` (shown as such in the Open311 extensions): they are
made up, not citizens' reports. They have no map point (the registry keeps no coordinates);
their address is their commune. The two months before this one go into monitoring as values
(:mod:`tinhso.reports.figures.indicators`). Idempotent: nothing is added when categories exist.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tinhso.core.calendar import load_calendar
from tinhso.core.config import ReportsSection
from tinhso.core.db import utcnow
from tinhso.registry.accounts import account_service
from tinhso.registry.auth import principal_of
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.organisations import organisation_service
from tinhso.registry.units import unit_service
from tinhso.reports.figures import indicators
from tinhso.reports.handling import routing
from tinhso.reports.handling.deadlines import DeadlinePolicy
from tinhso.reports.handling.states import Action
from tinhso.reports.models import Channel, Rating, ReportCategory, Severity
from tinhso.reports.service import Step, Submission, report_service

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

PROVINCE = "24"  # Bắc Ninh in the current set (legacy Bắc Giang is part of it)
WARD = "07777"  # Phường Việt Yên, which has its own committee in the demo registry
SYNTHETIC_REPORTS = 300

_LIST = [
    {"key": "nho", "name": "Nhỏ"},
    {"key": "vua", "name": "Vừa"},
    {"key": "lon", "name": "Lớn"},
]
# (code, name_vi, name_en, group, severity, attributes, department routing the whole province)
CATEGORIES: list[tuple[str, str, str, str, Severity, list[dict[str, Any]], str | None]] = [
    (
        "trat-tu-do-thi",
        "Trật tự đô thị",
        "Urban order",
        "Đô thị",
        Severity.NORMAL,
        [
            {
                "code": "lan-chiem",
                "datatype": "singlevaluelist",
                "required": True,
                "order": 1,
                "description": "Mức độ lấn chiếm",
                "values": _LIST,
            }
        ],
        None,
    ),
    (
        "moi-truong",
        "Môi trường",
        "Environment",
        "Môi trường",
        Severity.NORMAL,
        [
            {
                "code": "loai-rac",
                "datatype": "multivaluelist",
                "required": False,
                "order": 1,
                "description": "Loại chất thải",
                "values": [
                    {"key": "sinh-hoat", "name": "Sinh hoạt"},
                    {"key": "xay-dung", "name": "Xây dựng"},
                    {"key": "cong-nghiep", "name": "Công nghiệp"},
                ],
            },
            {
                "code": "dien-tich",
                "datatype": "number",
                "required": False,
                "order": 2,
                "description": "Diện tích ước tính (m²)",
            },
        ],
        None,
    ),
    (
        "giao-thong",
        "Giao thông, đường sá",
        "Traffic and roads",
        "Hạ tầng",
        Severity.URGENT,
        [
            {
                "code": "thoi-diem",
                "datatype": "datetime",
                "required": False,
                "order": 1,
                "description": "Thời điểm phát hiện",
            }
        ],
        None,
    ),
    ("dien-nuoc", "Điện, nước", "Electricity and water", "Hạ tầng", Severity.URGENT, [], None),
    (
        "dat-dai-xay-dung",
        "Đất đai, xây dựng",
        "Land and construction",
        "Đô thị",
        Severity.COMPLEX,
        [
            {
                "code": "so-thua",
                "datatype": "string",
                "required": False,
                "order": 1,
                "description": "Số thửa, tờ bản đồ (nếu biết)",
            }
        ],
        None,
    ),
    (
        "thu-tuc-hanh-chinh",
        "Thủ tục hành chính",
        "Administrative procedures",
        "Hành chính",
        Severity.NORMAL,
        [
            {
                "code": "ma-ho-so",
                "datatype": "string",
                "required": False,
                "order": 1,
                "description": "Mã hồ sơ",
            }
        ],
        "ttpvhcc-bac-giang",
    ),
    (
        "y-te",
        "Y tế",
        "Healthcare",
        "Xã hội",
        Severity.NORMAL,
        [
            {
                "code": "chi-tiet",
                "datatype": "text",
                "required": False,
                "order": 1,
                "description": "Mô tả thêm",
            }
        ],
        "so-yte-bac-giang",
    ),
    ("giao-duc", "Giáo dục", "Education", "Xã hội", Severity.NORMAL, [], None),
    ("khac", "Khác", "Other", "Khác", Severity.NORMAL, [], None),
]

_DESCRIPTIONS = [
    "Lấn chiếm vỉa hè làm nơi kinh doanh, người đi bộ phải xuống lòng đường",
    "Rác thải tồn đọng nhiều ngày chưa được thu gom",
    "Ổ gà lớn trên đường gây nguy hiểm cho xe máy",
    "Đèn chiếu sáng công cộng bị hỏng cả đoạn đường",
    "Mất nước sinh hoạt từ sáng chưa có thông báo",
    "Công trình xây dựng không che chắn, bụi bẩn",
    "Hồ sơ nộp trực tuyến quá hạn chưa có kết quả",
    "Trạm y tế đóng cửa trong giờ làm việc",
]


def _categories(session: Session) -> dict[str, ReportCategory]:
    found: dict[str, ReportCategory] = {}
    for code, name_vi, name_en, group, severity, attributes, _ in CATEGORIES:
        category = ReportCategory(
            code=code,
            name_vi=name_vi,
            name_en=name_en,
            description_vi=f"Phản ánh về {name_vi.lower()}",
            description_en=f"Reports about {name_en.lower()}",
            group_vi=group,
            keywords=name_vi.lower(),
            severity=severity,
            attributes=attributes,
        )
        session.add(category)
        found[code] = category
    session.flush()
    return found


def _routes(session: Session, categories: dict[str, ReportCategory]) -> None:
    province = unit_service.get(session, UnitSet.CURRENT, PROVINCE)
    ward = unit_service.get(session, UnitSet.CURRENT, WARD)
    committee = organisation_service.get(session, "ubnd-bac-ninh")
    routing.set_route(session, None, province.id, committee.id)
    routing.set_route(
        session, None, ward.id, organisation_service.get(session, "ubnd-phuong-viet-yen").id
    )
    for code, *_, department in CATEGORIES:
        if department is not None:
            organisation = organisation_service.get(session, department)
            routing.set_route(session, categories[code].id, province.id, organisation.id)


def _answers(category: ReportCategory, pick: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for attribute in category.attributes:
        if attribute["datatype"] == "singlevaluelist":
            answers[attribute["code"]] = pick.choice(attribute["values"])["key"]
    return answers


# The path each synthetic report takes, and how often.
_PATHS: list[tuple[list[Action], int]] = [
    ([], 3),
    ([Action.ACCEPT], 2),
    ([Action.ACCEPT, Action.START], 3),
    ([Action.ACCEPT, Action.START, Action.ANSWER], 8),
    ([Action.REFUSE], 1),
]


def load_reports_demo(session: Session, progress: Callable[[str, int], None] | None = None) -> None:
    if session.scalar(select(ReportCategory.id).limit(1)) is not None:
        return
    categories = _categories(session)
    _routes(session, categories)
    province = unit_service.get(session, UnitSet.CURRENT, PROVINCE)
    communes = [
        node
        for node in unit_service.subtree(session, province.id)
        if node.level is UnitLevel.COMMUNE
    ]
    calendar = load_calendar(session)
    policy = DeadlinePolicy.from_settings(ReportsSection())
    operator = principal_of(session, account_service.get(session, "admin"))
    pick = random.Random(2026)  # noqa: S311 - synthetic demo data, not security
    now = utcnow()
    paths = [path for path, weight in _PATHS for _ in range(weight)]
    for number in range(SYNTHETIC_REPORTS):
        category = pick.choice(list(categories.values()))
        commune = communes[0] if number % 10 == 0 else pick.choice(communes)
        created = now - timedelta(days=pick.uniform(0.2, 80))
        submitted = report_service.submit(
            session,
            Submission(
                category_code=category.code,
                description=f"[Dữ liệu mô phỏng] {pick.choice(_DESCRIPTIONS)}",
                channel=pick.choice(list(Channel)),
                address=commune.name,
                unit_code=commune.code,
                attributes=_answers(category, pick),
                synthetic=True,
            ),
            calendar,
            policy,
            now=created,
        )
        moment = created
        for action in pick.choice(paths):
            moment = min(now, moment + timedelta(hours=pick.uniform(1, 60)))
            note = (
                "Đã kiểm tra, xử lý xong (dữ liệu mô phỏng)"
                if action is Action.ANSWER
                else "Không thuộc thẩm quyền (dữ liệu mô phỏng)"
                if action is Action.REFUSE
                else ""
            )
            report_service.act(
                session,
                operator,
                submitted.report.code,
                Step(action, note),
                calendar,
                policy,
                now=moment,
            )
            if action is Action.ANSWER and pick.random() < 0.6:  # most reporters rate
                rating = Rating.SATISFIED if pick.random() < 0.8 else Rating.UNSATISFIED
                report_service.rate(
                    session, submitted.report.code, submitted.reporter_key, rating, now=moment
                )
    last = indicators.previous_month()
    for month in (indicators.previous_month(last), last):  # the IOC shows them at once
        indicators.publish_month(session, month)
    if progress:
        progress("reports", SYNTHETIC_REPORTS)
