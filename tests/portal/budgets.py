"""The portal pages' query budgets: a page sends as many statements for many rows as for few
(issue 11 item 4), checked with the ``query_budget`` fixture around one ``grow``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi.testclient import TestClient

    from tests.registry.queries import QueryBudget

# What counts a page's rows: a text each row holds once, or a count read from the page.
Rows = str | Callable[[str], int]


def pages_stay_flat(
    client: TestClient,
    pages: Mapping[str, tuple[Rows, int]],
    grow: Callable[[], object],
    query_budget: QueryBudget,
    headers: dict[str, str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Each page (path: (the text that marks one of its rows, or what counts its rows' contents,
    and its budget)) answers 200, stays within its budget and flat around ``grow``, and shows
    more after it. Returns each page's statement counts (before, after)."""
    shown: dict[str, list[int]] = {path: [] for path in pages}

    def fetcher(path: str) -> Callable[[], None]:
        def fetch() -> None:
            answer = client.get(path, headers=headers or {})
            assert answer.status_code == 200, answer.text
            marker = pages[path][0]
            seen = answer.text.count(marker) if isinstance(marker, str) else marker(answer.text)
            shown[path].append(seen)

        return fetch

    counts = query_budget.flat_each(
        {path: fetcher(path) for path in pages},
        grow,
        {path: budget for path, (_, budget) in pages.items()},
    )
    for path, seen in shown.items():
        assert seen[-1] > seen[0], f"{path}: the rows did not grow ({seen})"
    return counts
