"""Workers and leases, in memory (docs/design/perception.md §Discovery and leases).

A worker is `(owner, worker_id)`, the owner being the credential that calls (an API key or a
user), so two keys can never see or steal each other's workers. Discovery heartbeats the worker
and splits the enabled tasks across the owner's live workers deterministically. A lease grants
tasks to one worker exclusively until it expires; leasing again with the same worker id replaces
(renews) that worker's lease.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from heldar.clock import Clock
from heldar.errors import NotFound
from heldar.perception.models import AiTask

MAX_WORKERS = 4096
MAX_LEASES = 4096


@dataclass(frozen=True)
class LeaseState:
    lease_id: str
    owner: str
    worker_id: str
    task_ids: frozenset[str]
    expires_at: datetime


class Leases:
    def __init__(self, clock: Clock, *, worker_timeout_s: float = 30.0) -> None:
        self._clock = clock
        self._worker_timeout = worker_timeout_s
        self._workers: dict[tuple[str, str], float] = {}
        self._leases: dict[str, LeaseState] = {}

    @property
    def worker_timeout_s(self) -> float:
        return self._worker_timeout

    # -- workers ---------------------------------------------------------------------------------

    def heartbeat(self, owner: str, worker_id: str) -> None:
        now = self._clock.monotonic()
        self._forget_dead_workers(now)
        if (owner, worker_id) not in self._workers and len(self._workers) >= MAX_WORKERS:
            # the oldest silent worker makes room; a live fleet never gets this big
            oldest = min(self._workers, key=self._workers.__getitem__)
            del self._workers[oldest]
        self._workers[(owner, worker_id)] = now

    def live_workers(self, owner: str) -> list[str]:
        self._forget_dead_workers(self._clock.monotonic())
        return sorted(w for o, w in self._workers if o == owner)

    def share(self, owner: str, worker_id: str, tasks: Sequence[AiTask]) -> list[AiTask]:
        """The worker's share of `tasks`: task i goes to live worker i mod n (sorted ids)."""
        self.heartbeat(owner, worker_id)
        workers = self.live_workers(owner)
        index, count = workers.index(worker_id), len(workers)
        ordered = sorted(tasks, key=lambda t: t.id)
        return [task for i, task in enumerate(ordered) if i % count == index]

    def _forget_dead_workers(self, now: float) -> None:
        dead = [k for k, seen in self._workers.items() if now - seen > self._worker_timeout]
        for key in dead:
            del self._workers[key]

    # -- leases ----------------------------------------------------------------------------------

    def grant(
        self,
        owner: str,
        worker_id: str,
        candidates: Iterable[AiTask],
        *,
        max_tasks: int | None,
        ttl_s: int,
    ) -> tuple[LeaseState, list[AiTask]]:
        """The worker's lease over its share of the candidates that nobody else holds.

        Leasing again with the same worker id renews in place: the lease id stays (tickets
        issued under it stay valid), the expiry moves, the tasks are recomputed — so when a new
        worker of the same owner appears, the others shed its share at their next renewal and
        it picks the tasks up at its own."""
        self._expire()
        mine = (owner, worker_id)
        previous = next((v for v in self._leases.values() if (v.owner, v.worker_id) == mine), None)
        if previous is not None:
            del self._leases[previous.lease_id]
        share = self.share(owner, worker_id, list(candidates))
        held = {task_id for lease in self._leases.values() for task_id in lease.task_ids}
        granted = [t for t in share if t.id not in held]
        if max_tasks is not None:
            granted = granted[:max_tasks]
        if previous is None and len(self._leases) >= MAX_LEASES:
            oldest = min(self._leases.values(), key=lambda lease: lease.expires_at)
            del self._leases[oldest.lease_id]
        lease = LeaseState(
            lease_id=previous.lease_id if previous is not None else secrets.token_urlsafe(12),
            owner=owner,
            worker_id=worker_id,
            task_ids=frozenset(t.id for t in granted),
            expires_at=self._clock.now() + timedelta(seconds=ttl_s),
        )
        self._leases[lease.lease_id] = lease
        return lease, granted

    def release(self, owner: str, lease_id: str) -> LeaseState:
        """End a lease of this owner; another owner's lease answers like a missing one."""
        self._expire()
        lease = self._leases.get(lease_id)
        if lease is None or lease.owner != owner:
            raise NotFound("no such lease", code="lease_not_found")
        del self._leases[lease_id]
        return lease

    def holder(self, owner: str, task_id: str) -> LeaseState | None:
        """The live lease of this owner that holds `task_id`, if any."""
        self._expire()
        for lease in self._leases.values():
            if lease.owner == owner and task_id in lease.task_ids:
                return lease
        return None

    def active(self) -> list[LeaseState]:
        self._expire()
        return list(self._leases.values())

    def _expire(self) -> None:
        now = self._clock.now()
        for lease_id in [k for k, v in self._leases.items() if v.expires_at <= now]:
            del self._leases[lease_id]
