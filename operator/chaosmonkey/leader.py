"""Leader election on a ``coordination.k8s.io/v1`` Lease: only one replica fires attacks.

The protocol is client-go's: a candidate takes the Lease when it is free or when its record has
not changed for ``lease_duration`` *as observed on this replica's own monotonic clock* (so clock
skew between nodes does not matter); writes use the Lease's resourceVersion, so two candidates
can never both win (the loser gets 409 Conflict). The leader renews every ``retry_period`` and
steps down as soon as it has failed to renew for ``renew_deadline``, which is shorter than
``lease_duration``: it stops firing before any other replica may take over.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaosmonkey.kube import describe_error
from chaosmonkey.timeutil import UTC

log = logging.getLogger(__name__)


class LeaseElector:
    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], Awaitable[None]],
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        self.api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leading = False
        self._last_renewal = 0.0
        self._observed_record: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    async def run(self) -> None:
        """Campaign, lead, renew, step down; until cancelled (then release the Lease if held)."""
        try:
            while True:
                await self._round()
                # The protocol is periodic by definition: this is its period, not a wait for an event.
                await asyncio.sleep(self.retry_period)
        finally:
            if self.leading:
                self.leading = False
                await self.on_stopped_leading()
                await asyncio.shield(self._release())

    async def _round(self) -> None:
        try:
            held = await asyncio.wait_for(asyncio.to_thread(self._try_acquire_or_renew), self.retry_period)
        except (TimeoutError, ApiException, OSError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, describe_error(exc))
            held = False
        now = time.monotonic()
        if held:
            self._last_renewal = now
            if not self.leading:
                log.info("lease %s/%s acquired by %s", self.namespace, self.name, self.identity)
                self.leading = True
                await self.on_started_leading()
        elif self.leading and now - self._last_renewal >= self.renew_deadline:
            log.warning(
                "lease %s/%s not renewed for %.0fs: stepping down",
                self.namespace,
                self.name,
                now - self._last_renewal,
            )
            self.leading = False
            await self.on_stopped_leading()

    def _try_acquire_or_renew(self) -> bool:
        now = dt.datetime.now(UTC)
        timeout = self.retry_period
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                spec=self._spec(now, acquire_time=now, transitions=0),
            )
            try:
                self.api.create_namespaced_lease(self.namespace, body, _request_timeout=timeout)
            except ApiException as create_exc:
                if create_exc.status == 409:
                    return False  # another candidate created it first
                raise
            return True
        spec = lease.spec or client.V1LeaseSpec()
        record = (spec.holder_identity, spec.renew_time, spec.lease_transitions)
        if record != self._observed_record:
            self._observed_record, self._observed_at = record, time.monotonic()
        holder = spec.holder_identity
        if holder and holder != self.identity:
            duration = spec.lease_duration_seconds or self.lease_duration
            if time.monotonic() - self._observed_at < duration:
                return False  # held by another, and alive as far as this replica has seen
        ours = holder == self.identity
        lease.spec = self._spec(
            now,
            acquire_time=spec.acquire_time if ours and spec.acquire_time else now,
            transitions=(spec.lease_transitions or 0) + (0 if ours else 1),
        )
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status == 409:
                return False  # changed since read: someone else renewed or took it
            raise
        return True

    def _spec(self, now: dt.datetime, *, acquire_time: dt.datetime, transitions: int) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=round(self.lease_duration),
            acquire_time=acquire_time,
            renew_time=now,
            lease_transitions=transitions,
        )

    async def _release(self) -> None:
        """Give the Lease up on a clean stop so a standby takes over at once, not after expiry."""

        def release() -> None:
            lease = self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self.retry_period
            )
            if lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = None
            self.api.replace_namespaced_lease(
                self.name, self.namespace, lease, _request_timeout=self.retry_period
            )

        try:
            await asyncio.wait_for(asyncio.to_thread(release), self.retry_period * 2)
        except (TimeoutError, ApiException, OSError) as exc:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, describe_error(exc))
