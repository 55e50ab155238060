"""Counting the SQL statements a piece of code sends (query budgets, as NetBox does)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from collections.abc import Iterator

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
