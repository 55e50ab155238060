"""Automatic collection: due sources fetched through the exchange gateway and recorded.

The ``monitoring.collection`` job (`tinhso worker`, see ``tinhso.monitoring.jobs``) runs one
cycle a minute. Each cycle: find due sources, claim each one (a short transaction; two workers never run
the same source at once), call the gateway with the hub's access token over one pooled
``aiohttp`` session, then record the values and close the run in one transaction (all
values of a run or none). Failures are stored on the run with a Vietnamese and English
message and retried with exponential backoff (capped at the source's interval).

The hub's token comes from the platform's token endpoint (OAuth2 client credentials,
``client_secret_basic``) and is cached until shortly before it expires; a 401 from the
gateway drops it and the call is tried once more with a fresh one. Secrets are never
logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import aiohttp

from tinhso.core.db import make_sessionmaker, utcnow
from tinhso.core.logging import bound
from tinhso.monitoring.collection.runs import (
    CollectionFailed,
    Fetched,
    RunPlan,
    collection_run_service,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from tinhso.core.config import Settings

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class WorkerOptions:
    gateway_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout_seconds: float = 30.0
    concurrency: int = 8
    retry_base: timedelta = timedelta(minutes=1)
    # A claimed source is left alone by other workers this long (then it is due again).
    lease: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        missing = [
            name
            for name, value in (
                ("TINHSO_COLLECTION_GATEWAY_URL", settings.collection_gateway_url),
                ("TINHSO_COLLECTION_CLIENT_ID", settings.collection_client_id),
                ("TINHSO_COLLECTION_CLIENT_SECRET", settings.collection_client_secret),
            )
            if not value
        ]
        if missing:
            msg = "Thiếu cấu hình thu thập / collection settings missing: " + ", ".join(missing)
            raise ValueError(msg)
        assert settings.collection_gateway_url  # noqa: S101 - checked above
        assert settings.collection_client_id  # noqa: S101
        assert settings.collection_client_secret  # noqa: S101
        token_url = settings.collection_token_url or (
            settings.base_url.rstrip("/") + "/oauth/token"
        )
        return cls(
            gateway_url=settings.collection_gateway_url.rstrip("/"),
            token_url=token_url,
            client_id=settings.collection_client_id,
            client_secret=settings.collection_client_secret.get_secret_value(),
            timeout_seconds=settings.worker.timeout_seconds,
            concurrency=settings.worker.concurrency,
        )


@dataclass(frozen=True)
class CycleResult:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another worker first
    runs: tuple[int, ...] = ()


class HubToken:
    """The hub's access token, fetched with client credentials and cached until near expiry."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def drop(self) -> None:
        self._token = None

    async def get(self, http: aiohttp.ClientSession) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, lifetime = await self._fetch(http)
                self._expires = time.monotonic() + max(lifetime - 30, lifetime / 2)
            return self._token

    async def _fetch(self, http: aiohttp.ClientSession) -> tuple[str, float]:
        # client_secret_basic (RFC 6749 2.3.1: both parts form-encoded before base64).
        pair = f"{quote_plus(self.options.client_id)}:{quote_plus(self.options.client_secret)}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        try:
            async with http.post(
                self.options.token_url,
                data={"grant_type": "client_credentials"},
                headers=headers,
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise CollectionFailed(
                "token_unreachable",
                f"Không kết nối được máy chủ cấp token: {type(error).__name__}",
                f"The token endpoint could not be reached: {type(error).__name__}",
            ) from error
        data: Any = None
        with contextlib.suppress(ValueError):
            data = json.loads(body)
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            reason = data.get("error") if isinstance(data, dict) else None
            raise CollectionFailed(
                "token_refused",
                f"Máy chủ cấp token từ chối thông tin xác thực của hệ thống thu thập "
                f"(HTTP {status}, {reason or '-'})",
                f"The token endpoint refused the collector's credentials "
                f"(HTTP {status}, {reason or '-'})",
            )
        return str(data["access_token"]), float(data.get("expires_in") or 60)


class Collector:
    """One worker: due sources, claimed, fetched through the gateway and recorded."""

    def __init__(self, engine: Engine, options: WorkerOptions) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self.options = options
        self.token = HubToken(options)
        self._db = asyncio.Lock()  # one write transaction at a time from this worker

    async def run_once(self) -> CycleResult:
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_seconds)
        connector = aiohttp.TCPConnector(limit=self.options.concurrency, keepalive_timeout=30)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=connector, auto_decompress=False
        ) as http:
            return await self._cycle(http)

    async def _cycle(self, http: aiohttp.ClientSession) -> CycleResult:
        now = utcnow()
        due = await asyncio.to_thread(self._due, now)
        semaphore = asyncio.Semaphore(self.options.concurrency)

        async def one(source_id: int) -> tuple[str, int | None]:
            async with semaphore:
                return await self._collect(http, source_id)

        outcomes = await asyncio.gather(*(one(source_id) for source_id in due))
        return CycleResult(
            succeeded=sum(1 for status, _ in outcomes if status == "succeeded"),
            failed=sum(1 for status, _ in outcomes if status == "failed"),
            skipped=sum(1 for status, _ in outcomes if status == "skipped"),
            runs=tuple(run_id for _, run_id in outcomes if run_id is not None),
        )

    def _due(self, now: Any) -> list[int]:
        with self.sessions() as session:
            return collection_run_service.due(session, now)

    async def _collect(self, http: aiohttp.ClientSession, source_id: int) -> tuple[str, int | None]:
        async with self._db:
            plan = await asyncio.to_thread(self._claim, source_id)
        if plan is None:
            return "skipped", None
        with bound(job_id=plan.run_id):
            return await self._collect_claimed(http, plan)

    async def _collect_claimed(
        self, http: aiohttp.ClientSession, plan: RunPlan
    ) -> tuple[str, int | None]:
        fetched: Fetched | None = None
        try:
            fetched = await self._fetch(http, plan)
            if fetched.status != 200:
                raise _refusal(fetched)
            items = collection_run_service.items(plan, fetched)
        except CollectionFailed as failure:
            async with self._db:
                await asyncio.to_thread(self._fail, plan, failure, fetched)
            log.warning(
                "collection failed",
                extra={"source": plan.source_code, "code": failure.code, "run": plan.run_id},
            )
            return "failed", plan.run_id
        async with self._db:
            status = await asyncio.to_thread(self._succeed, plan, fetched, items)
        return status, plan.run_id

    def _claim(self, source_id: int) -> RunPlan | None:
        with self.sessions.begin() as session:
            return collection_run_service.claim(session, source_id, utcnow(), self.options.lease)

    def _fail(self, plan: RunPlan, failure: CollectionFailed, fetched: Fetched | None) -> None:
        with self.sessions.begin() as session:
            collection_run_service.fail(session, plan, failure, fetched, self.options.retry_base)

    def _succeed(self, plan: RunPlan, fetched: Fetched, items: list[Any]) -> str:
        with self.sessions.begin() as session:
            run = collection_run_service.succeed(session, plan, fetched, items)
            return run.status.value

    async def _fetch(self, http: aiohttp.ClientSession, plan: RunPlan) -> Fetched:
        url = f"{self.options.gateway_url}/{plan.service_path}{plan.request_path}"
        for attempt in (1, 2):
            token = await self.token.get(http)
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Accept-Encoding": "identity",
                "Accept-Language": "vi",
            }
            try:
                async with http.get(url, params=plan.query, headers=headers) as response:
                    body = await response.content.read(MAX_BODY + 1)
                    if len(body) > MAX_BODY:
                        raise CollectionFailed(
                            "too_large",
                            f"Câu trả lời lớn hơn {MAX_BODY // (1024 * 1024)} MB",
                            f"The answer is larger than {MAX_BODY // (1024 * 1024)} MB",
                        )
                    fetched = Fetched(
                        status=response.status,
                        request_id=response.headers.get("X-Tinhso-Request-Id"),
                        sha256=hashlib.sha256(body).hexdigest(),
                        body=body,
                        content_type=response.headers.get("Content-Type", ""),
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                raise CollectionFailed(
                    "gateway_unreachable",
                    f"Không kết nối được cổng trao đổi: {type(error).__name__}",
                    f"The exchange gateway could not be reached: {type(error).__name__}",
                ) from error
            if fetched.status == 401 and attempt == 1:
                self.token.drop()  # expired or rotated: once more with a fresh token
                continue
            return fetched
        return fetched


def _refusal(fetched: Fetched) -> CollectionFailed:
    """A non-200 answer: the gateway's problem (with its vi/en message) or the provider's."""
    problem: Any = None
    if "json" in fetched.content_type:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            problem = json.loads(fetched.body)
    message = problem.get("message") if isinstance(problem, dict) else None
    if isinstance(message, dict) and message.get("vi") and message.get("en"):
        code = str(problem.get("code") or "refused")[:40]
        return CollectionFailed(
            f"gateway_{code}"[:64],
            f"Cổng trao đổi từ chối (HTTP {fetched.status}): {message['vi']}",
            f"The exchange gateway refused (HTTP {fetched.status}): {message['en']}",
        )
    return CollectionFailed(
        "provider_error",
        f"Dịch vụ trả lời HTTP {fetched.status}, không có số liệu",
        f"The service answered HTTP {fetched.status}, no values",
    )


def collect_once(engine: Engine, settings: Settings) -> CycleResult:
    """One collection cycle now (the ``monitoring.collection`` job runs the same cycle)."""
    return asyncio.run(Collector(engine, WorkerOptions.from_settings(settings)).run_once())
