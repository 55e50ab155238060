"""Field-report figures for the operations centre: an extension point.

The reports domain sits above monitoring in the layers (``pyproject.toml``), so monitoring
cannot call its statistics. This module says what monitoring asks for (``FieldReportFigures``:
counts per unit over a time window, live from the reports' own tables) and holds the one
provider registered in this process. The reports domain implements it
(``tinhso.reports.figures.provider.ReportFigures``) and registers it with
``tinhso.reports.figures.provider.install``, called explicitly where both layers are
importable: the app factory (``tinhso.app.create_app``), the worker's job list
(``tinhso.cli._domain_jobs``) and the demo loader (``tinhso.demo.load_demo``).

Without a provider, a ``reports_late_share`` alert rule is refused when it is created (and
skipped, logged, when evaluated) and a ``field_reports`` dashboard panel shows why it has no
figures: never a rule that silently does not fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tinhso.core.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class ReportCounts:
    """A unit's field reports over a window [start, end), the reports in the unit and in the
    units below it (hidden reports left out).

    *received*: submitted in the window. *handled*: answered or refused in the window.
    *on_time*: handled ones within their acceptance and resolution deadlines. *open*: not
    handled by the window's end (whenever they were submitted). *late*: handled late in the
    window, plus open ones whose deadline had passed by the window's end (or by now, for a
    window that has not ended). The late share is late over the reports the window had to
    deal with (handled in it plus still open at its end), so it is never above 100 %.
    """

    received: int = 0
    handled: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0

    @property
    def due(self) -> int:
        return self.handled + self.open

    @property
    def late_share(self) -> float | None:
        """Percent of ``due`` that is late; None when there was nothing to deal with."""
        return 100 * self.late / self.due if self.due else None

    @property
    def on_time_share(self) -> float | None:
        """Percent of the handled ones handled on time; None when none was handled."""
        return 100 * self.on_time / self.handled if self.handled else None


class FieldReportFigures(Protocol):
    def counts(
        self, session: Session, unit_ids: Collection[int], start: datetime, end: datetime
    ) -> dict[int, ReportCounts]:
        """For each unit asked (every one gets a row, zeros when it has no report): its
        reports and those of the units below it over [start, end)."""
        ...


_provider: FieldReportFigures | None = None


def register(provider: FieldReportFigures | None) -> FieldReportFigures | None:
    """Make ``provider`` the process's source of field-report figures (None: none); the
    one it replaces is returned (tests put it back)."""
    global _provider
    previous, _provider = _provider, provider
    return previous


def provider() -> FieldReportFigures | None:
    return _provider


def require(field: str | None = None) -> FieldReportFigures:
    """The registered provider, or the reason there is none (vi/en)."""
    if _provider is None:
        raise InvalidInput(
            "Không có số liệu phản ánh hiện trường: phân hệ phản ánh hiện trường chưa được "
            "nạp trong tiến trình này",
            "No field-report figures: the field reports module is not loaded in this process",
            field=field,
        )
    return _provider
