"""ApiRequest: send one HTTP request and fail unless the answer has an expected status.

Two config layouts are accepted: the operator's ``{"ref": ..., "args": {"endpoint": ...}}``,
and the original engine's, with ``endpoint``, ``method``, ``headers`` and ``payload`` (and any
other argument) directly in the attack config. A config uses one or the other, not both.

Header values are sent and never shown: logs, results, errors and dry runs name headers only.
A header value may also come from a Kubernetes Secret of the plan's namespace
(``{"secretKeyRef": {"name": "api-token", "key": "token"}}``), keeping it out of the plan.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jsonschema
import requests

from chaosmonkey.attacks.attack import Attack, AttackError

log = logging.getLogger(__name__)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_TIMEOUT = 10.0
DEFAULT_EXPECTED_STATUS = "2xx"
_STATUS_STRING = re.compile(r"^(?:([1-5])xx|([1-5]\d\d)(?:-([1-5]\d\d))?)$")
_FORM = "application/x-www-form-urlencoded"

_STATUS_CODE: dict[str, Any] = {"type": "integer", "minimum": 100, "maximum": 599}
_STATUS_PATTERN: dict[str, Any] = {
    "type": "string",
    "pattern": _STATUS_STRING.pattern,
    "description": "A class ('2xx'), a code ('204') or an inclusive range ('200-299').",
}

#: The arguments of a request, under ``args`` or (original layout) at the top of the config.
REQUEST_PROPERTIES: dict[str, Any] = {
    "endpoint": {
        "type": "string",
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+",
        "description": "The URL to call (http or https).",
    },
    "method": {
        "type": "string",
        "enum": [*METHODS, *(m.lower() for m in METHODS)],
        "default": "GET",
        "description": "HTTP method (default GET).",
    },
    "headers": {
        "type": "object",
        "description": (
            "Request headers. A value is a string, or {secretKeyRef: {name, key}} to read it "
            "from a Secret in the plan's namespace. Values are never logged or reported."
        ),
        "additionalProperties": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "secretKeyRef": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "key": {"type": "string", "minLength": 1},
                            },
                            "required": ["name", "key"],
                            "additionalProperties": False,
                        }
                    },
                    "required": ["secretKeyRef"],
                    "additionalProperties": False,
                },
            ]
        },
    },
    "payload": {
        "description": (
            "Request body. A string is sent as is; anything else as JSON, or form-encoded when "
            "the Content-Type header is application/x-www-form-urlencoded (then an object)."
        ),
    },
    "timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 300,
        "default": DEFAULT_TIMEOUT,
        "description": "Seconds to wait for the connection and for the answer (default 10).",
    },
    "expected_status": {
        "description": (
            "Statuses that count as success (default '2xx'): a code, a string ('2xx', '204', "
            "'200-299'), a list of those, or an inclusive range {min, max}."
        ),
        "default": DEFAULT_EXPECTED_STATUS,
        "oneOf": [
            _STATUS_CODE,
            _STATUS_PATTERN,
            {"type": "array", "items": {"oneOf": [_STATUS_CODE, _STATUS_PATTERN]}, "minItems": 1},
            {
                "type": "object",
                "properties": {"min": _STATUS_CODE, "max": _STATUS_CODE},
                "required": ["min", "max"],
                "additionalProperties": False,
            },
        ],
    },
    "follow_redirects": {
        "type": "boolean",
        "default": True,
        "description": "Follow redirects (default true); set false to expect a 3xx itself.",
    },
    "verify_tls": {
        "oneOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}],
        "default": True,
        "description": "Verify the server's TLS certificate (default true), or a CA bundle path.",
    },
}


@dataclass(frozen=True)
class StatusRange:
    """Statuses from ``low`` to ``high`` inclusive; ``label`` is how the user wrote them."""

    low: int
    high: int
    label: str

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and self.low <= status <= self.high


def parse_expected_status(value: Any) -> list[StatusRange]:
    """The ``expected_status`` forms (code, "2xx", "200-299", list, {min, max}) as ranges."""
    if isinstance(value, bool):
        raise AttackError(f"invalid expected_status {value!r}")
    if isinstance(value, int):
        return [StatusRange(value, value, str(value))]
    if isinstance(value, str):
        match = _STATUS_STRING.match(value.strip())
        if match is None:
            raise AttackError(f"invalid expected_status {value!r}: use '2xx', '204' or '200-299'")
        klass, first, last = match.groups()
        if klass is not None:
            return [StatusRange(int(klass) * 100, int(klass) * 100 + 99, value.strip())]
        low, high = int(first), int(last or first)
        if high < low:
            raise AttackError(f"invalid expected_status {value!r}: the range is empty")
        return [StatusRange(low, high, value.strip())]
    if isinstance(value, Mapping):
        minimum, maximum = value.get("min"), value.get("max")
        if not isinstance(minimum, int) or not isinstance(maximum, int) or maximum < minimum:
            raise AttackError(f"invalid expected_status {dict(value)!r}: give integers min <= max")
        return [StatusRange(minimum, maximum, f"{minimum}-{maximum}")]
    if isinstance(value, list) and value:
        return [status_range for item in value for status_range in parse_expected_status(item)]
    raise AttackError(f"invalid expected_status {value!r}")


class ApiRequest(Attack):
    """Call an HTTP endpoint; succeed when it answers with an expected status.

    The result records the status and the latency: ``{"status": 200, "latencyMs": 12}``. An
    unexpected status, a connection failure or a timeout fails the attack. A dry run describes
    the request (method, URL, header names) without sending it.
    """

    ref: ClassVar[str] = "api_request:ApiRequest"
    schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "description": (
            "The request under 'args' or, as in the original engine, endpoint/method/headers/"
            "payload (and the other arguments) directly in the attack config; not both."
        ),
        "properties": {
            "ref": {"type": "string", "description": "The attack's ref."},
            "args": {
                "type": "object",
                "properties": REQUEST_PROPERTIES,
                "required": ["endpoint"],
                "additionalProperties": False,
            },
            **REQUEST_PROPERTIES,
        },
        "required": ["ref"],
        "additionalProperties": False,
        "if": {"required": ["args"]},
        "then": {"properties": dict.fromkeys(REQUEST_PROPERTIES, False)},
        "else": {"required": ["endpoint"]},
    }
    example: ClassVar[dict[str, Any]] = {
        "ref": "api_request:ApiRequest",
        "args": {
            "endpoint": "https://orders.staging.example.com/admin/cache/flush",
            "method": "POST",
            "headers": {
                "Authorization": {"secretKeyRef": {"name": "orders-admin-token", "key": "header"}},
                "Content-Type": "application/json",
            },
            "payload": {"scope": "all", "reason": "chaos experiment"},
            "timeout": 5,
            "expected_status": [200, 202, 204],
        },
    }
    supports_dry_run: ClassVar[bool] = True

    def __init__(self, attack_config: dict[str, Any]) -> None:
        super().__init__(attack_config)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Attack._to_dict(ApiRequest.ref, ApiRequest.schema, ApiRequest.example)

    def run(self) -> str | dict[str, Any]:
        args = self._checked_args()
        method = str(args.get("method", "GET")).upper()
        endpoint: str = args["endpoint"]
        shown_url = shown_url_of(endpoint)
        expected = parse_expected_status(args.get("expected_status", DEFAULT_EXPECTED_STATUS))
        expected_label = ", ".join(r.label for r in expected)
        timeout = float(args.get("timeout", DEFAULT_TIMEOUT))
        header_specs: dict[str, Any] = dict(args.get("headers") or {})
        header_names = ", ".join(header_specs) or "none"
        if self.dry_run:
            body = _describe_payload(args)
            return (
                f"dry run: would send {method} {shown_url} (headers: {header_names}{body}), "
                f"expecting {expected_label}"
            )
        headers = self._resolve_headers(header_specs)
        body_kwargs = _body(args.get("payload"), headers)
        secrets = list(headers.values())
        log.info("sending %s %s (headers: %s)", method, shown_url, header_names)
        started = time.monotonic()
        try:
            response = requests.request(
                method,
                endpoint,
                headers=headers,
                timeout=timeout,
                verify=args.get("verify_tls", True),
                allow_redirects=bool(args.get("follow_redirects", True)),
                **body_kwargs,
            )
        except requests.Timeout:
            raise AttackError(f"{method} {shown_url}: no answer within {timeout:g} s") from None
        except requests.RequestException as exc:
            reason = _redact(_root_cause(exc), secrets)
            raise AttackError(f"{method} {shown_url}: request failed: {reason}") from None
        latency_ms = round((time.monotonic() - started) * 1000)
        response.close()
        if not any(response.status_code in status_range for status_range in expected):
            raise AttackError(
                f"{method} {shown_url} answered {response.status_code}, expected {expected_label} "
                f"(latency {latency_ms} ms)"
            )
        log.info("%s %s answered %s in %d ms", method, shown_url, response.status_code, latency_ms)
        return {"status": response.status_code, "latencyMs": latency_ms}

    # -- internals ---------------------------------------------------------------------------

    def _describe_schema_error(self, error: jsonschema.ValidationError) -> str:
        # Schema messages quote the offending value: never quote a header value.
        message = "invalid header" if "headers" in error.absolute_path else error.message
        return _redact(message, _header_strings(self.attack_config))

    def _checked_args(self) -> dict[str, Any]:
        """The request's arguments from either layout, after checking the config's schema."""
        config = self.attack_config
        if isinstance(config, Mapping) and "args" in config:
            mixed = [key for key in REQUEST_PROPERTIES if key in config]
            if mixed:
                raise AttackError(
                    f"invalid {self.ref} config at (root): give the request under args or at the top "
                    f"of the attack config, not both (found {', '.join(mixed)} at the top)"
                )
        self.check_config()
        if "args" in self.attack_config:
            args: dict[str, Any] = self.attack_config["args"]
            return args
        return {k: v for k, v in self.attack_config.items() if k in REQUEST_PROPERTIES}

    def _resolve_headers(self, specs: Mapping[str, Any]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, spec in specs.items():
            if isinstance(spec, str):
                headers[name] = spec
                continue
            ref = spec["secretKeyRef"]
            if self.context.read_secret is None:
                raise AttackError(
                    f"header {name} comes from Secret {ref['name']}, but no cluster is at hand to read it"
                )
            try:
                value = self.context.read_secret(ref["name"], ref["key"])
            except Exception as exc:  # noqa: BLE001 - any failure to read is reported by name
                raise AttackError(
                    f"cannot read header {name} from key {ref['key']!r} of Secret {ref['name']!r} "
                    f"in namespace {self.context.namespace}: {type(exc).__name__}"
                ) from None
            headers[name] = value.decode("utf-8").strip()
        return headers


def _header_strings(config: Any) -> list[str]:
    """Every string header value in either layout (to keep them out of error messages)."""
    found: list[str] = []
    if isinstance(config, Mapping):
        for holder in (config, config.get("args")):
            headers = holder.get("headers") if isinstance(holder, Mapping) else None
            if isinstance(headers, Mapping):
                found += [value for value in headers.values() if isinstance(value, str)]
    return found


def _content_type(headers: Mapping[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), None)


def _body(payload: Any, headers: dict[str, str]) -> dict[str, Any]:
    """``requests`` keyword arguments sending ``payload`` per the Content-Type (set if absent)."""
    if payload is None:
        return {}
    content_type = (_content_type(headers) or "").lower()
    if isinstance(payload, str):
        return {"data": payload.encode("utf-8")}
    if _FORM in content_type:
        if not isinstance(payload, Mapping):
            raise AttackError("a form-encoded payload must be an object (or a string sent as is)")
        return {"data": {k: v if isinstance(v, str | list) else json.dumps(v) for k, v in payload.items()}}
    if content_type and "json" not in content_type:
        raise AttackError(
            f"payload for Content-Type {content_type} must be a string (objects are sent as JSON "
            "or form data only)"
        )
    if not content_type:
        headers["Content-Type"] = "application/json"
    return {"data": json.dumps(payload).encode("utf-8")}


def _describe_payload(args: Mapping[str, Any]) -> str:
    payload = args.get("payload")
    if payload is None:
        return ""
    if isinstance(payload, str):
        return f"; a {len(payload.encode())}-byte body"
    content_type = _content_type(args.get("headers") or {}) or ""
    kind = "form" if isinstance(content_type, str) and _FORM in content_type.lower() else "JSON"
    return f"; a {kind} body"


def shown_url_of(url: str) -> str:
    """The URL as logs and status show it: password and query values masked (tokens travel there)."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(
            netloc=f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        )
    if parts.query:
        masked = [(key, "***") for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)


def _root_cause(exc: BaseException) -> str:
    """The innermost cause's class and message (e.g. ``ConnectionRefusedError: ...``)."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = current.__cause__ or current.__context__
        wrapped = next((a for a in current.args if isinstance(a, BaseException)), None)
        nxt = inner or wrapped
        if nxt is None:
            break
        current = nxt
    text = str(current.args[-1] if isinstance(current, OSError) and current.args else current)
    return f"{type(current).__name__}: {text}" if text else type(current).__name__


def _redact(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
