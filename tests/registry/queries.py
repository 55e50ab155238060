"""Counting the SQL statements a piece of code sends (query budgets, as NetBox does).

The ``query_budget`` fixture (tests/conftest.py) hands tests a :class:`QueryBudget`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from tinhso.core import generations

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from sqlalchemy.engine import Engine


@dataclass
class QueryLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def touching(self, table: str) -> list[str]:
        """The statements that name a table (by its SQL name)."""
        return [s for s in self.statements if table in s]


@contextmanager
def counted_queries(engine: Engine) -> Iterator[QueryLog]:
    """Every statement sent on the engine inside the block (an executemany counts once)."""
    log = QueryLog()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", record)


class QueryBudget:
    """Query-count budgets for list endpoints and pages (the ``query_budget`` fixture).

    ``flat(fetch, grow, budget=...)`` calls ``fetch`` (one request; it checks its own answer),
    lets ``grow`` add rows of every kind the answer shows, calls ``fetch`` again and asserts
    that the second call sent no more statements than the first, and that neither sent more
    than ``budget``: a query per row shows up as a count that grows with the rows.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def count(self, fetch: Callable[[], object]) -> QueryLog:
        # the budget is the computing one: no figure kept from an earlier request or panel
        with generations.computing_everything(), counted_queries(self.engine) as log:
            fetch()
        return log

    def flat(
        self, fetch: Callable[[], object], grow: Callable[[], object], *, budget: int
    ) -> tuple[int, int]:
        """(statements before, statements after growing); see the class."""
        return self.flat_each({"": fetch}, grow, {"": budget})[""]

    def flat_each(
        self,
        fetches: Mapping[str, Callable[[], object]],
        grow: Callable[[], object],
        budgets: Mapping[str, int],
    ) -> dict[str, tuple[int, int]]:
        """:meth:`flat` for several lists (named) around one ``grow``: every list is checked
        and every one over its budget or growing is reported."""
        few = {name: self.count(fetch) for name, fetch in fetches.items()}
        grow()
        many = {name: self.count(fetch) for name, fetch in fetches.items()}
        problems = []
        for name in fetches:
            before, after = few[name].count, many[name].count
            if after > before:
                problems.append(f"{name}: {before} statements with fewer rows, {after} with more")
            if before > budgets[name]:
                problems.append(f"{name}: {before} statements over a budget of {budgets[name]}")
            if after > before or before > budgets[name]:
                problems.append("    " + "\n    ".join(many[name].statements))
        assert not problems, "\n".join(problems)
        return {name: (few[name].count, many[name].count) for name in fetches}
