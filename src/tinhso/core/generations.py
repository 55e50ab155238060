"""Data generations: a counter per group of tables, moved on in the same transaction as any
write to those tables, so that a process may keep results computed from them and know with
one small read whether they still hold.

A domain declares its groups where its tables are defined (``watch("monitoring", DataValue,
...)`` in its models module), so every process that can write those tables has the listeners:

- an ORM flush that adds, changes or deletes a row of a watched table, and a bulk
  ``session.execute(insert/update/delete(...))`` on one, mark the group as changed in that
  session;
- just before the commit (after the last flush, so the generation row is the last lock the
  transaction takes and cannot close a cycle with the rows it wrote), each changed group's row
  in ``core_generation`` is moved on by one; a rollback forgets the marks.

A generation is read as ``(token, value)``: the token is random and made when the group's row
is first written, so two databases (a test's fresh one, a restored backup) never share a
generation even when their counters agree. A write made outside a session (``COPY``, a restore)
must be announced with :func:`renew_all` (the CLI's ``tinhso db changed``).

:class:`GenerationCache` keeps results per key and generation in one process, computes each
missing key once however many requests ask at the same moment, and is bypassed by a session
that holds uncommitted writes to a group it depends on (those results are nobody else's yet).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tinhso.core.models import Generation

if TYPE_CHECKING:
    from sqlalchemy.orm import ORMExecuteState, UOWTransaction

_PENDING = "tinhso.generations.pending"
_STAMPS = "tinhso.generations.stamps"  # the stamps read in the session's transaction
_WATCHED: dict[str, str] = {}  # table name -> group


Stamp = tuple[tuple[str, int], ...]  # (token, value) per group


def watch(group: str, *mapped: Any) -> None:
    """Move ``group`` on whenever a row of one of these mapped classes or tables is written."""
    for item in mapped:
        table = getattr(item, "__table__", item)
        _WATCHED[table.name] = group


def _mark(session: Session, table_name: str | None) -> None:
    group = _WATCHED.get(table_name or "")
    if group is not None:
        session.info.setdefault(_PENDING, set()).add(group)


def pending(session: Session) -> set[str]:
    """The groups this session has written and not yet committed (flushed or not)."""
    groups = set(session.info.get(_PENDING, ()))
    for obj in (*session.new, *session.dirty, *session.deleted):
        group = _WATCHED.get(sa_inspect(obj).mapper.local_table.name)
        if group is not None:
            groups.add(group)
    return groups


def advance(
    session: Session, groups: set[str] | list[str] | tuple[str, ...], *, renew: bool = False
) -> None:
    """Move each group on by one in the session's transaction (made at 1 on first use); with
    ``renew``, give it a new token too, as after a restore or a load outside the product."""
    session.info.pop(_STAMPS, None)  # read again after this
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    for group in sorted(groups):
        token = uuid.uuid4().hex
        statement = module.insert(Generation).values(name=group, token=token, value=1)
        changes: dict[str, Any] = {"value": Generation.value + 1}
        if renew:
            changes["token"] = token
        session.execute(
            statement.on_conflict_do_update(index_elements=[Generation.name], set_=changes)
        )


def renew_all(session: Session) -> None:
    """Every watched group moved on with a new token: nothing computed before is used again.
    For data written outside a session (``COPY``, a restore, a test emptying its tables)."""
    advance(session, set(_WATCHED.values()), renew=True)


def read(session: Session, groups: tuple[str, ...]) -> Stamp | None:
    """The groups' generations, or None when one has never been written (nothing to key on);
    no groups: ``()``, without a read."""
    if not groups:
        return ()
    # read once per transaction: a request that asks several caches of the same groups (a
    # search's counts, page and facet index) reads them once; what it computes later in the
    # transaction is at least as new as the stamp (a later commit elsewhere only makes the
    # kept answer look older than it is, never newer)
    kept: dict[tuple[str, ...], Stamp | None] = session.info.setdefault(_STAMPS, {})
    if groups in kept:
        return kept[groups]
    query = select(Generation.name, Generation.token, Generation.value).where(
        Generation.name.in_(groups)
    )
    rows = {name: (token, value) for name, token, value in session.execute(query)}
    stamp = tuple(rows[group] for group in groups) if len(rows) == len(groups) else None
    kept[groups] = stamp
    return stamp


@event.listens_for(Session, "after_transaction_end")
def _forget_stamps(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the transaction, not a savepoint
        session.info.pop(_STAMPS, None)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        _mark(session, sa_inspect(obj).mapper.local_table.name)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _mark(state.session, getattr(table, "name", None))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()
    groups = session.info.pop(_PENDING, None)
    if groups:
        advance(session, groups)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: Any) -> None:
    # a savepoint rolled back leaves the writes made before it: the marks stay (at worst the
    # generation moves on for nothing, which only costs a computation)
    if previous.parent is None:
        session.info.pop(_PENDING, None)


T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
_CACHES: weakref.WeakSet[GenerationCache[Any]] = weakref.WeakSet()


_SWITCH = {"keeping": True}


@contextmanager
def computing_everything() -> Iterator[None]:
    """Inside the block no cache of this process is read or filled: every answer is computed,
    as on the first request after a change (query budgets measure that)."""
    for cache in list(_CACHES):
        cache.clear()
    _SWITCH["keeping"] = False
    try:
        yield
    finally:
        _SWITCH["keeping"] = True


class GenerationCache(Generic[T]):
    """Results by key, valid while the groups' generations stay as they were when computed.

    ``max_weight`` bounds the memory: a result weighs its length (1 if it has none); the least
    recently used are dropped first. Results are shared between requests, so they must not be
    changed by their readers (make them frozen).

    With no groups, a key must name everything its result is made of (content that never
    changes under that name): nothing is read to check it, the key alone is the stamp."""

    def __init__(self, groups: tuple[str, ...], max_weight: int = 200_000) -> None:
        self.groups = groups
        self.max_weight = max_weight
        self._entries: OrderedDict[tuple[Stamp, Hashable], tuple[T, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self._computing: dict[tuple[Stamp, Hashable], threading.Event] = {}
        self.hits = 0
        self.misses = 0
        _CACHES.add(self)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weight = 0

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        if not _SWITCH["keeping"] or pending(session) & set(self.groups):
            return compute()
        stamp = read(session, self.groups)
        if stamp is None:
            return compute()
        full = (stamp, key)
        while True:
            with self._lock:
                found = self._entries.get(full)
                if found is not None:
                    self._entries.move_to_end(full)
                    self.hits += 1
                    return found[0]
                waiting = self._computing.get(full)
                if waiting is None:
                    mine = threading.Event()
                    self._computing[full] = mine
                    self.misses += 1
                    break
            # another request computes the same result: wait for it, then read it (or, if it
            # failed, compute it here)
            waiting.wait()
        try:
            result = compute()
            self._store(full, result)
            return result
        finally:
            with self._lock:
                self._computing.pop(full, None)
            mine.set()

    def get_many(
        self,
        session: Session,
        keys: Sequence[K],
        compute: Callable[[list[K]], Mapping[K, T]],
    ) -> dict[K, T]:
        """The results of many keys (the rows of a page, say): those kept are read, the missing
        ones computed together by one ``compute(missing keys)`` and kept. A key ``compute``
        leaves out is left out of the answer too (nothing found for it). Not single-flight:
        two requests missing the same rows at once both compute them."""
        if not _SWITCH["keeping"] or pending(session) & set(self.groups):
            return dict(compute(list(keys)))
        stamp = read(session, self.groups)
        if stamp is None:
            return dict(compute(list(keys)))
        found: dict[K, T] = {}
        with self._lock:
            for key in keys:
                entry = self._entries.get((stamp, key))
                if entry is not None:
                    self._entries.move_to_end((stamp, key))
                    found[key] = entry[0]
            self.hits += len(found)
            missing = [key for key in keys if key not in found]
            self.misses += len(missing)
        if missing:
            computed = compute(missing)
            for key in missing:
                if key in computed:
                    found[key] = computed[key]
                    self._store((stamp, key), computed[key])
        return found

    def _store(self, full: tuple[Stamp, Hashable], result: T) -> None:
        weight = max(1, len(result)) if isinstance(result, Sized) else 1
        if weight > self.max_weight:
            return
        with self._lock:
            if self._entries and next(reversed(self._entries))[0] != full[0]:
                # the generations moved on: what was kept for the old ones can never be read
                self._entries.clear()
                self._weight = 0
            self._entries[full] = (result, weight)
            self._weight += weight
            while self._weight > self.max_weight and self._entries:
                _key, (_value, dropped) = self._entries.popitem(last=False)
                self._weight -= dropped
