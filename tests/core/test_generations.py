"""Data generations (core.generations): a commit writing a watched table moves its group on, a
rollback does not, and a kept result is used only while nothing it is made of changed; many
requests asking the same missing result at once compute it once."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete, event, insert, select, update

from tinhso.core import generations
from tinhso.core.generations import GenerationCache
from tinhso.core.models import CalendarDecidedDay, Generation, OutgoingMail

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session, sessionmaker

GROUP = "test-days"


@pytest.fixture(autouse=True)
def _watched(monkeypatch: pytest.MonkeyPatch) -> None:
    # a core table stands in for a domain's: its writes move GROUP on while the test runs
    monkeypatch.setitem(generations._WATCHED, OutgoingMail.__tablename__, GROUP)


def _mail(subject: str = "nhắc hạn") -> OutgoingMail:
    return OutgoingMail(
        topic="monitoring",
        reference="r",
        kind="reminder",
        recipient="can-bo@bacninh.gov.vn",
        subject=subject,
        body="b",
        link_path="/",
    )


def _generation(sessions: sessionmaker[Session]) -> tuple[str, int] | None:
    with sessions() as session:
        row = session.get(Generation, GROUP)
        return (row.token, row.value) if row else None


def test_every_kind_of_write_moves_the_generation_on_at_commit(
    sessions: sessionmaker[Session],
) -> None:
    start = _generation(sessions)
    with sessions.begin() as session:
        session.add(_mail())
    first = _generation(sessions)
    assert first is not None
    assert first[1] == (start[1] + 1 if start else 1)
    with sessions.begin() as session:  # a change of a loaded row
        found = session.scalars(select(OutgoingMail)).one()
        found.subject = "quá hạn"
    with sessions.begin() as session:  # bulk statements, ORM-enabled
        session.execute(
            insert(OutgoingMail),
            [
                {
                    "topic": "t",
                    "reference": "r",
                    "kind": "k",
                    "recipient": "a@b.vn",
                    "subject": "s",
                    "body": "b",
                    "link_path": "/",
                }
            ],
        )
    with sessions.begin() as session:
        session.execute(update(OutgoingMail).values(subject="y"))
    with sessions.begin() as session:
        session.execute(delete(OutgoingMail).where(OutgoingMail.topic == "t"))
    assert _generation(sessions) == (first[0], first[1] + 4)


def test_a_rollback_an_unwatched_write_and_a_read_leave_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        session.add(_mail())
    before = _generation(sessions)
    with sessions() as session:
        session.add(_mail())
        session.flush()
        session.rollback()
    day = date(2099, 12, 31)
    with sessions.begin() as session:
        session.add(CalendarDecidedDay(day=day, kind="off", reason="x", source="s", issuer="i"))
    with sessions.begin() as session:
        session.execute(delete(CalendarDecidedDay).where(CalendarDecidedDay.day == day))
    with sessions.begin() as session:
        session.scalars(select(OutgoingMail)).all()
    assert _generation(sessions) == before


def test_a_savepoint_rolled_back_keeps_the_writes_made_before_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        session.add(_mail())
    before = _generation(sessions)
    assert before is not None
    with sessions.begin() as session:
        session.add(_mail("trước"))
        session.flush()
        savepoint = session.begin_nested()
        session.add(_mail("trong"))
        session.flush()
        savepoint.rollback()
    assert _generation(sessions) == (before[0], before[1] + 1)


def test_renewing_changes_the_token(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(_mail())
    before = _generation(sessions)
    with sessions.begin() as session:
        generations.renew_all(session)
    after = _generation(sessions)
    assert before is not None
    assert after is not None
    assert after[0] != before[0]


def _cache_over_one_mail(sessions: sessionmaker[Session]) -> GenerationCache[list[str]]:
    """An empty cache over GROUP, and one mail ("một") committed."""
    with sessions.begin() as session:
        session.add(_mail("một"))
    return GenerationCache((GROUP,))


def _subjects(session: Session, calls: list[int]) -> list[str]:
    calls.append(1)
    return [row.subject for row in session.scalars(select(OutgoingMail))]


def test_a_kept_result_holds_until_a_commit_writes_what_it_is_made_of(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)
    calls: list[int] = []
    with sessions() as session:
        assert cache.get(session, "mails", lambda: _subjects(session, calls)) == ["một"]
    with sessions() as session:
        assert cache.get(session, "mails", lambda: _subjects(session, calls)) == ["một"]
    assert len(calls) == 1
    # another session writes and commits: the next reader computes again and sees it
    with sessions.begin() as session:
        session.add(_mail("hai"))
    with sessions() as session:
        assert sorted(cache.get(session, "mails", lambda: _subjects(session, calls))) == [
            "hai",
            "một",
        ]
    assert len(calls) == 2


def test_the_generation_is_read_once_per_transaction_and_again_in_the_next(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)
    other: GenerationCache[list[str]] = GenerationCache((GROUP,))
    calls: list[int] = []
    statements: list[str] = []

    def reads_of_generations(*arguments: object) -> None:
        if str(arguments[2]).startswith("SELECT") and "core_generation" in str(arguments[2]):
            statements.append(str(arguments[2]))

    with sessions() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", reads_of_generations)
        try:
            cache.get(session, "mails", lambda: _subjects(session, calls))
            other.get(session, "mails", lambda: _subjects(session, calls))
            assert len(statements) == 1  # two caches of one group: one read
            with sessions.begin() as writer:  # another session commits a write
                writer.add(_mail("hai"))
            session.commit()  # the reader's next transaction reads the generation again
            assert sorted(cache.get(session, "mails", lambda: _subjects(session, calls))) == [
                "hai",
                "một",
            ]
            assert len(statements) == 2
        finally:
            event.remove(engine, "before_cursor_execute", reads_of_generations)
    assert len(calls) == 3


def test_many_keys_read_the_kept_ones_and_compute_the_missing_together(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)
    asked: list[list[str]] = []

    def by_letter(session: Session) -> Callable[[list[str]], dict[str, list[str]]]:
        def subjects(letters: list[str]) -> dict[str, list[str]]:
            asked.append(letters)
            found = [row.subject for row in session.scalars(select(OutgoingMail))]
            # "z" names nothing: it is left out, and asked again next time
            return {
                letter: [s for s in found if letter in s] for letter in letters if letter != "z"
            }

        return subjects

    with sessions() as session:
        assert cache.get_many(session, ["m", "t"], by_letter(session)) == {
            "m": ["một"],
            "t": ["một"],
        }
    with sessions() as session:
        assert cache.get_many(session, ["t", "h", "z"], by_letter(session)) == {
            "t": ["một"],
            "h": [],
        }
    assert asked == [["m", "t"], ["h", "z"]]  # only the missing keys, together
    with sessions.begin() as session:
        session.add(_mail("hai"))
    with sessions() as session:  # a commit wrote what they are made of: computed again
        assert cache.get_many(session, ["h", "m"], by_letter(session)) == {
            "h": ["hai"],
            "m": ["một"],
        }
    assert asked[-1] == ["h", "m"]
    with sessions() as writer:  # uncommitted writes: computed for that session alone
        writer.add(_mail("ba"))
        writer.flush()
        assert cache.get_many(writer, ["b"], by_letter(writer)) == {"b": ["ba"]}
        writer.rollback()
    with sessions() as session:
        assert cache.get_many(session, ["b"], by_letter(session)) == {"b": []}


def test_a_session_with_uncommitted_writes_neither_reads_nor_fills_the_cache(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)
    calls: list[int] = []
    with sessions() as writer:
        writer.add(_mail("chưa lưu"))
        writer.flush()
        # it sees its own write, computed for it alone
        assert len(cache.get(writer, "mails", lambda: _subjects(writer, calls))) == 2
        writer.rollback()
    with sessions() as reader:
        assert cache.get(reader, "mails", lambda: _subjects(reader, calls)) == ["một"]
    assert len(calls) == 2


def test_without_a_generation_nothing_is_kept(sessions: sessionmaker[Session]) -> None:
    cache: GenerationCache[list[str]] = GenerationCache(("never-written",))
    calls: list[int] = []
    for _ in range(2):
        with sessions() as session:
            cache.get(session, "mails", lambda: _subjects(session, calls))
    assert len(calls) == 2


def test_many_asking_the_same_missing_result_at_once_compute_it_once(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)
    calls: list[int] = []
    answers: list[list[str]] = []
    start = threading.Barrier(8)

    def slow(session: Session) -> list[str]:
        time.sleep(0.3)
        return _subjects(session, calls)

    def ask() -> None:
        with sessions() as session:
            start.wait()
            answers.append(cache.get(session, "mails", lambda: slow(session)))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [["một"]] * 8
    assert len(calls) == 1


def test_a_failed_computation_is_not_kept_and_the_waiters_try_again(
    sessions: sessionmaker[Session],
) -> None:
    cache = _cache_over_one_mail(sessions)

    def broken() -> list[str]:
        raise RuntimeError("database went away")

    with sessions() as session, pytest.raises(RuntimeError):
        cache.get(session, "mails", broken)
    calls: list[int] = []
    with sessions() as session:
        assert cache.get(session, "mails", lambda: _subjects(session, calls)) == ["một"]
    assert len(calls) == 1


def test_the_memory_bound_drops_the_least_recently_used(sessions: sessionmaker[Session]) -> None:
    cache: GenerationCache[list[int]] = GenerationCache((GROUP,), max_weight=10)
    with sessions.begin() as session:
        session.add(_mail())
    with sessions() as session:
        cache.get(session, "a", lambda: [1] * 6)
        cache.get(session, "b", lambda: [2] * 3)
        cache.get(session, "a", lambda: [0])  # a hit: "a" becomes the most recent
        cache.get(session, "c", lambda: [3] * 4)  # 13 > 10: "b" goes
        assert cache.get(session, "a", lambda: [0]) == [1] * 6
        assert cache.get(session, "b", lambda: [9]) == [9]
        # a result heavier than the bound is never kept
        cache.get(session, "huge", lambda: [0] * 11)
        assert cache.get(session, "huge", lambda: [7]) == [7]
