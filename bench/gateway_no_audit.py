"""Diagnostic only: the full-policy gateway with its audit write taken out.

Not a configuration the platform offers (every exchange must have its durable record, and
nothing in ``tinhso`` can turn it off): ``python -m bench.gateway --ceiling`` serves this app
to show what the checks and the forwarding cost by themselves, so that the share of the audit
record in a full-policy request can be read off one run. The patch applies only in the
process that imports this module (the benchmark's gateway workers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinhso.exchange.audit.log import AuditLog
from tinhso.exchange.gateway.app import app

if TYPE_CHECKING:
    from tinhso.exchange.audit.chain import AuditEntry

__all__ = ["app"]


async def _no_record(self: AuditLog, entry: AuditEntry) -> None:
    """Neither queued nor written: returns at once."""


AuditLog.record = _no_record  # type: ignore[method-assign]
