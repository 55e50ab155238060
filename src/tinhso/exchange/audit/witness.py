"""Witnesses of the audit chain's head, kept outside the database the chain is in.

The chain and its checkpoints are in one database; whoever can write that database can delete
its end, checkpoints included, and what is left still verifies. So every checkpoint a gateway
process signs is also witnessed elsewhere, where a database writer cannot reach it:
- on the node's own disk, ``data_dir/audit-witness/head.json``: the newest checkpoint this node
  signed (replaced, fsync'd, under a lock: only by a higher number);
- in Redis, when ``redis_url`` is set: ``tinhso:audit:head``, the newest of all nodes;
- for a third party: ``tinhso audit witness --out FILE`` writes the newest head with its public
  key, and ``tinhso audit verify --witness FILE`` checks the database against it later.
``tinhso audit verify`` fails when the database's chain ends before a witnessed head, holds a
different record at its ``last_seq``, or lacks checkpoints up to its number.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from typing import TYPE_CHECKING, Any

from tinhso.exchange.audit.chain import CheckpointHead

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

FORMAT = "tinhso-audit-witness/v1"
REDIS_KEY = "tinhso:audit:head"
# Replace the head in Redis only with a higher number (atomic on the server).
_PUBLISH = """
local current = redis.call('GET', KEYS[1])
if current then
  local number = tonumber(cjson.decode(current)['head']['number'])
  if number >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


def document(head: CheckpointHead, public_jwk: dict[str, Any] | None = None) -> dict[str, Any]:
    """The witness document: the head, and (for a third party) the key that signed it."""
    data: dict[str, Any] = {"format": FORMAT, "head": head.to_json()}
    if public_jwk is not None:
        data["public_jwk"] = public_jwk
    return data


def head_of(data: dict[str, Any]) -> CheckpointHead:
    """The head in a witness document (ValueError if it is not one)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        msg = f"not a {FORMAT} document"
        raise ValueError(msg)
    try:
        return CheckpointHead.from_json(data["head"])
    except (KeyError, TypeError) as error:
        msg = f"incomplete {FORMAT} document: {error}"
        raise ValueError(msg) from error


def node_witness_path(data_dir: Path) -> Path:
    return data_dir / "audit-witness" / "head.json"


class NodeWitness:
    """Keeps every checkpoint this node signs on its disk (and in Redis, when configured).

    Called by the audit writer's thread after the checkpoint's commit, once per checkpoint
    (every few seconds of traffic), never per record.
    """

    def __init__(self, data_dir: Path, redis_url: str | None = None) -> None:
        self.path = node_witness_path(data_dir)
        self.redis_url = redis_url
        self._redis: Any = None
        self._redis_failing = False

    def __call__(self, head: CheckpointHead) -> None:
        self.keep(head)
        if self.redis_url:
            self.publish(head)

    def keep(self, head: CheckpointHead) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the node's processes, one at a time
            current = read_head(self.path)
            if current is not None and current.number >= head.number:
                if current.number == head.number and current != head:
                    log.error(
                        "audit: checkpoint %d was signed again with another head (seq %d, "
                        "witnessed seq %d): the chain's end was replaced",
                        head.number,
                        head.last_seq,
                        current.last_seq,
                    )
                return
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump(document(head), handle)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        finally:
            os.close(fd)

    def publish(self, head: CheckpointHead) -> None:
        import redis  # noqa: PLC0415 - only when configured

        try:
            if self._redis is None:
                self._redis = redis.Redis.from_url(
                    str(self.redis_url), socket_timeout=0.5, socket_connect_timeout=0.5
                )
            self._redis.eval(_PUBLISH, 1, REDIS_KEY, head.number, json.dumps(document(head)))
        except Exception as error:
            if not self._redis_failing:
                log.warning("audit: could not publish the checkpoint head in Redis: %s", error)
            self._redis_failing = True
            self._redis = None
        else:
            self._redis_failing = False


def read_head(path: Path) -> CheckpointHead | None:
    """The head kept in ``path``; None if there is no file (ValueError if it is not one)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return head_of(json.loads(text))


def redis_head(redis_url: str) -> CheckpointHead | None:
    """The newest head published in Redis; None if there is none."""
    import redis  # noqa: PLC0415 - only when configured

    client = redis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        raw = client.get(REDIS_KEY)
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return None if raw is None else head_of(json.loads(raw))
