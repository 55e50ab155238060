"""`tinhso calendar`: the working calendar's decided days off and make-up working days, as the
government's yearly notices decide them (list, add, remove, load the shipped ones, check that a
year ahead is decided). The portal's /admin/calendar writes the same rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from tinhso.core.calendar import (
    VIETNAM,
    DayKind,
    DecidedDay,
    load_calendar,
    load_shipped_decisions,
    remove_decided_day,
    save_decided_day,
)
from tinhso.core.commands import console
from tinhso.core.commands import database as _database
from tinhso.core.commands import failure as _fail
from tinhso.core.db import make_sessionmaker
from tinhso.core.errors import DomainError

calendar_app = typer.Typer(
    help="Lịch ngày làm việc: ngày nghỉ, ngày làm bù đã quyết định / working-day calendar",
    no_args_is_help=True,
)


def _parse_day(value: str) -> date:
    try:
        return datetime.strptime(value, "%d/%m/%Y").date()  # noqa: DTZ007 - a calendar day
    except ValueError as error:
        raise typer.BadParameter(
            f"Ngày không hợp lệ (dd/mm/yyyy) / invalid date (dd/mm/yyyy): {value}"
        ) from error


@calendar_app.command("list")
def calendar_list(
    year: Annotated[int | None, typer.Option(help="Chỉ năm này / only this year")] = None,
) -> None:
    """Liệt kê ngày nghỉ, ngày làm bù đã quyết định / list the decided days."""
    with _database() as engine, make_sessionmaker(engine)() as session:
        calendar = load_calendar(session)
    for decided in sorted(calendar.decided.values(), key=lambda row: row.day):
        if year is not None and decided.day.year != year:
            continue
        kind = "nghỉ / off" if decided.kind is DayKind.OFF else "làm bù / working"
        issued = f" ngày {decided.issued_on:%d/%m/%Y}" if decided.issued_on else ""
        console.print(
            f"{decided.day:%d/%m/%Y} {kind}: {decided.reason} — {decided.source}, "
            f"{decided.issuer}{issued}",
            markup=False,
            highlight=False,
        )
    if year is not None:
        for day, name in calendar.days_off(date(year, 1, 1), date(year, 12, 31)):
            if day not in calendar.decided:
                console.print(f"{day:%d/%m/%Y} nghỉ lễ / holiday: {name}", markup=False)


@calendar_app.command("add")
def calendar_add(
    day: Annotated[str, typer.Argument(help="dd/mm/yyyy")],
    kind: Annotated[DayKind, typer.Option(help="off = nghỉ, working = làm bù")],
    reason: Annotated[str, typer.Option(help="Lý do / reason")],
    source: Annotated[str, typer.Option(help="Số, tên văn bản / notice number and title")],
    issuer: Annotated[str, typer.Option(help="Cơ quan ban hành / issuer")],
    issued_on: Annotated[str | None, typer.Option(help="Ngày ban hành dd/mm/yyyy")] = None,
    url: Annotated[str, typer.Option(help="Đường dẫn văn bản / link")] = "",
) -> None:
    """Thêm (hoặc sửa) một ngày nghỉ / ngày làm bù theo thông báo / add a decided day."""
    decided = DecidedDay(
        day=_parse_day(day),
        kind=kind,
        reason=reason,
        source=source,
        issuer=issuer,
        issued_on=_parse_day(issued_on) if issued_on else None,
        url=url,
    )
    try:
        with _database() as engine, make_sessionmaker(engine).begin() as session:
            new = save_decided_day(session, decided)
    except DomainError as error:
        for problem in error.errors:
            console.print(
                f"  [{problem.field}] {problem.message.vi} / {problem.message.en}", markup=False
            )
        raise _fail(error) from error
    verb = "Đã thêm / added" if new else "Đã sửa / updated"
    console.print(f"[green]OK[/green] {verb} {decided.day:%d/%m/%Y} ({kind.value})")


@calendar_app.command("remove")
def calendar_remove(day: Annotated[str, typer.Argument(help="dd/mm/yyyy")]) -> None:
    """Xoá một ngày đã quyết định / remove a decided day."""
    parsed = _parse_day(day)
    with _database() as engine, make_sessionmaker(engine).begin() as session:
        removed = remove_decided_day(session, parsed)
    if not removed:
        console.print(
            f"[red]Không có ngày {parsed:%d/%m/%Y} trong lịch / "
            f"no decided day {parsed:%d/%m/%Y}[/red]"
        )
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] Đã xoá / removed {parsed:%d/%m/%Y}")


@calendar_app.command("load")
def calendar_load() -> None:
    """Nạp các quyết định kèm theo phần mềm còn thiếu / add the shipped decisions missing."""
    with _database() as engine, make_sessionmaker(engine).begin() as session:
        added = load_shipped_decisions(session)
    console.print(f"[green]OK[/green] Đã thêm / added {added}")


@calendar_app.command("check")
def calendar_check(
    today: Annotated[
        str | None, typer.Option(help="Kiểm tra như vào ngày dd/mm/yyyy / check as of")
    ] = None,
) -> None:
    """Kiểm tra lịch đã quyết định còn đủ ít nhất một năm / check a year of decided coverage."""
    as_of = _parse_day(today) if today else datetime.now(VIETNAM).date()
    with _database() as engine, make_sessionmaker(engine)() as session:
        calendar = load_calendar(session)
    until = calendar.decided_until()
    if until is not None:
        console.print(f"Lịch đã quyết định đến / decided until: {until:%d/%m/%Y}")
    gap = calendar.coverage_gap(as_of)
    if gap is not None:
        console.print(
            f"[red]Thiếu lịch nghỉ năm {gap.first_missing_year} (còn dưới một năm): thêm thông "
            f"báo bằng `tinhso calendar add` / the decided calendar covers less than a year "
            f"from {as_of:%d/%m/%Y}: add the {gap.first_missing_year} notice[/red]"
        )
        raise typer.Exit(1)
    console.print("[green]OK[/green]")
