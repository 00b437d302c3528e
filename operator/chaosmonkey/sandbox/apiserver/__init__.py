"""An embedded Kubernetes API server stand-in for tests and the no-cluster sandbox — NOT a cluster.

An aiohttp server on loopback over an indexed in-memory store (resource → namespace → name), with a
bounded per-resource event history for resumable watches and per-resource watch fan-out.

Implemented:

* CRUD for built-in resources (kmock's bundled discovery data, plus the built-ins the project needs)
  and for CRDs loaded from ``crds_dir/*.yaml`` or created over the API; discovery (``/api``,
  ``/api/v1``, ``/apis``, ``/apis/GROUP``, ``/apis/GROUP/VERSION``), ``/version``.
* Metadata: ``uid``, ``creationTimestamp``, ``generation`` (bumped on spec changes only), a
  cluster-wide increasing ``resourceVersion``; ``generateName``; finalizers delay deletion
  (``deletionTimestamp``) until the last one is removed.
* Optimistic concurrency (409 Conflict, 422 for PUT without ``resourceVersion``); ``Status`` errors.
* The ``status`` subresource; CRD schema validation (422 Invalid with field causes), defaults, pruning.
* PUT, JSON merge patch, JSON patch, strategic merge patch (its directives, with merge lists
  recognised by ``$setElementOrder`` as three-way patches from Helm and kubectl send them).
* Lists with label and field selectors; watches (resumable, 410 Gone, ``timeoutSeconds``, bookmarks,
  ``sendInitialEvents`` streaming lists as client-go's reflectors use them).
* ``meta.k8s.io/v1`` Tables for ``kubectl get`` (Name, CRD printer columns with ``.a.b`` paths, Age).
* Pod eviction honouring PodDisruptionBudgets with integer ``minAvailable`` / ``maxUnavailable``.
* Test controls: ``faults`` (injected errors and delays), ``drop_watches()``, ``compact_history()``,
  and a request log with O(1) counters (``requests.count(method, pattern)``).

Not implemented: authentication and authorisation (RBAC objects are stored, never enforced),
admission webhooks, server-side apply (``application/apply-patch+yaml`` answers 415), schema-aware
strategic merge (a list patched without ``$setElementOrder`` is replaced), ``deleteCollection``,
garbage collection via ownerReferences, namespace cascade deletion, controllers (Deployments create
no pods; pods never run), OpenAPI documents (``/openapi/v2`` and ``/v3`` answer 404; Helm works
without them when its OpenAPI validation is off), percentage PDB budgets, list pagination (``limit``
and ``continue`` are ignored), CRD version conversion, CEL validation rules, and built-in object
validation. Built-in resources keep ``status`` on create (so tests can seed a pod's phase); CRDs
with a status subresource drop it, as the real server does.
"""

from .registry import ResourceInfo
from .server import APIError, APIServer, Fault, Faults, RequestLog, ServerThread

__all__ = ["APIError", "APIServer", "Fault", "Faults", "RequestLog", "ResourceInfo", "ServerThread"]
