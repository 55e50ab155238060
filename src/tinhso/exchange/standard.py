"""What a service's published data standard allows, compiled once per registry snapshot.

- :class:`Operations`: the operations of each service's OpenAPI document (path templates,
  methods, request-body schemas with their local ``$ref``s); a request whose path or method is
  not one of them never reaches the provider.
- :class:`BodySchema`: a request-body JSON Schema, checked on every request by jsonschema-rs
  (compiled Rust: about 1 us for a small document where the ``jsonschema`` package takes 20 us
  or more); OpenAPI 3.0 schemas (``nullable`` and other 3.0 dialect rules) keep the
  ``openapi-schema-validator`` implementation. Formats are annotations, as in ``jsonschema``,
  and no remote ``$ref`` is ever fetched (the gateway must not be made to call out).
- :func:`validate_body`: the errors of a body (at most 20), each naming its field.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jsonschema
import jsonschema_rs
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tinhso.core.http_semantics import OPENAPI_OPERATIONS

if TYPE_CHECKING:
    from tinhso.exchange.policy import ServiceEntry

log = logging.getLogger(__name__)

_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class SchemaError:
    field: str
    message: str


class BodySchema:
    """A compiled request-body schema: jsonschema-rs, or the Python implementation for the
    OpenAPI 3.0 dialect (``python``: a ``jsonschema`` validator)."""

    __slots__ = ("_python", "_rust", "_unusable")

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        registry: tuple[str, Mapping[str, Any]] | None = None,
        python: Validator | None = None,
    ) -> None:
        self._python = python
        self._rust: Any = None
        self._unusable: str | None = None
        if python is None:
            self._rust = jsonschema_rs.validator_for(
                dict(schema),
                validate_formats=False,
                offline=True,
                registry=jsonschema_rs.Registry([(registry[0], dict(registry[1]))])
                if registry
                else None,
            )

    @classmethod
    def unusable(cls, reason: str) -> BodySchema:
        """A schema that could not be compiled: every body is refused, ``reason`` says why."""
        schema = cls.__new__(cls)
        schema._python = schema._rust = None
        schema._unusable = reason
        return schema

    def is_valid(self, instance: Any) -> bool:
        if self._unusable is not None:
            return False
        if self._rust is not None:
            return bool(self._rust.is_valid(instance))
        assert self._python is not None  # noqa: S101 - one of the two is set
        return bool(self._python.is_valid(instance))

    def errors(self, instance: Any, limit: int = 20) -> list[SchemaError]:
        """Up to ``limit`` errors, each naming the field (dotted path; "" for the document)."""
        found: list[SchemaError] = []
        for field, message in self._iter_errors(instance):
            found.append(SchemaError(field, message))
            if len(found) >= limit:
                break
        return found

    def _iter_errors(self, instance: Any) -> Iterator[tuple[str, str]]:
        if self._unusable is not None:
            yield "", f"the service's published schema cannot be used: {self._unusable}"
        elif self._rust is not None:
            for problem in self._rust.iter_errors(instance):
                yield ".".join(str(part) for part in problem.instance_path), str(problem.message)
        else:
            assert self._python is not None  # noqa: S101
            for error in self._python.iter_errors(instance):
                yield ".".join(str(part) for part in error.absolute_path), error.message


class Validators:
    """Request-body validators per service id, compiled when a snapshot is loaded; also the
    services' OpenAPI operations (:attr:`operations`)."""

    def __init__(self, services: list[ServiceEntry]) -> None:
        self._by_service: dict[int, BodySchema] = {}
        for service in services:
            schema = service.request_schema
            if not schema:
                continue
            try:
                jsonschema.validators.validator_for(schema).check_schema(dict(schema))
                self._by_service[service.id] = BodySchema(schema)
            except Exception as error:  # e.g. a remote $ref: refuse its bodies, never fetch
                log.warning("gateway: request schema of %s is not usable: %s", service.key, error)
                self._by_service[service.id] = BodySchema.unusable(str(error).split("\n", 1)[0])
        self.operations = Operations(services, self._by_service)

    def get(self, service_id: int) -> BodySchema | None:
        return self._by_service.get(service_id)


# -- operations of a service's OpenAPI document ----------------------------------------------------
_DOCUMENT_URI = "urn:tinhso:openapi"
_PARAMETER = re.compile(r"\{[^{}/]+\}")


class UnusableDocument(ValueError):
    """The OpenAPI document cannot be compiled (a $ref that is not local or does not resolve)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path template of a service's OpenAPI document."""

    template: str  # as in the document, e.g. "/items/{id}": the audit record's path_template
    method: str  # upper case
    validator: BodySchema | None  # the operation's JSON body schema, else the service's schema
    # Whether the document says a body is required; None: the operation has no JSON
    # requestBody (the service's request_schema, if any, applies as it always did).
    body_required: bool | None


@dataclass(frozen=True, slots=True)
class PathItem:
    template: str
    methods: Mapping[str, Operation]  # upper-case method -> operation (HEAD falls back to GET)
    allow: bytes  # the Allow header when the method is not one of them


class ServiceOperations:
    """Path templates of one service: exact paths in a dict, templated ones in one regex whose
    alternatives are ordered so that literal segments win over templated ones."""

    def __init__(self, items: list[PathItem]) -> None:
        self._literal: dict[str, PathItem] = {}
        templated: list[tuple[tuple[int, ...], int, PathItem]] = []
        for index, item in enumerate(items):
            if "{" in item.template:
                templated.append((_specificity(item.template), index, item))
            else:
                self._literal[item.template] = item
        templated.sort(key=lambda entry: (entry[0], entry[1]))
        self._templated = [item for _, _, item in templated]
        self._pattern = (
            re.compile("|".join(f"({_template_regex(i.template)})" for i in self._templated))
            if self._templated
            else None
        )
        self._cache: dict[str, PathItem | None] = {}

    def path_item(self, path: str) -> PathItem | None:
        """The path item whose template matches ``path`` (decoded, service-relative)."""
        item = self._literal.get(path)
        if item is not None:
            return item
        try:
            return self._cache[path]
        except KeyError:
            pass
        if self._pattern is not None:
            match = self._pattern.fullmatch(path)
            item = self._templated[match.lastindex - 1] if match and match.lastindex else None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[path] = item
        return item

    def match(self, method: str, path: str) -> tuple[Operation | None, PathItem | None]:
        """(operation, path item): (None, None) when no path matches, (None, item) when the
        path matches but not the method."""
        item = self.path_item(path)
        if item is None:
            return None, None
        return item.methods.get(method), item


def _specificity(template: str) -> tuple[int, ...]:
    """Sort key: per segment, literal (0) before partly templated (1) before a bare {param} (2)."""
    key = []
    for segment in template.split("/"):
        if "{" not in segment:
            key.append(0)
        elif _PARAMETER.fullmatch(segment):
            key.append(2)
        else:
            key.append(1)
    return tuple(key)


def _template_regex(template: str) -> str:
    """``/items/{id}.json`` -> a regex where each parameter is one non-empty segment part."""
    parts: list[str] = []
    position = 0
    for found in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        parts.append("[^/]+")
        position = found.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts)


class Operations:
    """The operations of every service that has an OpenAPI document (compiled per snapshot).

    A document that cannot be compiled leaves its service with no operations (every request is
    refused as an unknown operation, and a warning is logged): the gateway never forwards what
    it cannot check against the published standard.
    """

    def __init__(
        self, services: list[ServiceEntry], service_validators: Mapping[int, BodySchema]
    ) -> None:
        self._by_service: dict[int, ServiceOperations] = {}
        for service in services:
            document = service.openapi
            if not document:
                continue
            try:
                items = compile_document(document, service_validators.get(service.id))
            except Exception as error:  # a document we cannot compile: refuse, never forward
                log.warning("gateway: OpenAPI document of %s is not usable: %s", service.key, error)
                items = []
            self._by_service[service.id] = ServiceOperations(items)

    def get(self, service_id: int) -> ServiceOperations | None:
        return self._by_service.get(service_id)


def compile_document(
    document: Mapping[str, Any], fallback: BodySchema | None = None
) -> list[PathItem]:
    """The path items of an OpenAPI 3.x document, their operations and body validators.

    ``fallback``: the service's request_schema validator, used by operations without a JSON
    request body schema. The ``servers`` base paths are not used: the request path relative to
    the service is matched against ``paths`` as written.
    """
    oas31 = not str(document.get("openapi", "3.1")).startswith("3.0")
    resource: Resource[Any] = DRAFT4.create_resource(dict(document))
    registry: Registry[Any] = Registry().with_resource(_DOCUMENT_URI, resource)
    items: list[PathItem] = []
    paths = document.get("paths") or {}
    for template, raw_item in paths.items():
        if not isinstance(template, str) or not template.startswith("/"):
            continue
        path_item = _resolve(document, raw_item)
        methods: dict[str, Operation] = {}
        for name in OPENAPI_OPERATIONS:
            operation = path_item.get(name)
            if not isinstance(operation, Mapping):
                continue
            method = name.upper()
            validator, required = fallback, None
            body = operation.get("requestBody")
            if isinstance(body, Mapping):
                pointer = f"/paths/{_escape(template)}/{name}/requestBody"
                if "$ref" in body:
                    pointer = _local_pointer(body["$ref"])
                    body = _resolve(document, body)
                media = _json_media_type(body.get("content") or {})
                if media is not None and "schema" in body["content"][media]:
                    schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
                    schema = _pointer(document, schema_pointer)
                    # Resolved inside the document, so "#/components/..." works.
                    wrapper = {"$ref": f"{_DOCUMENT_URI}#{schema_pointer}"}
                    referenced = _check_references(document, schema)
                    if oas31:  # JSON Schema 2020-12: jsonschema-rs
                        validator = (
                            BodySchema(wrapper, registry=(_DOCUMENT_URI, document))
                            if referenced
                            else BodySchema(schema)
                        )
                    else:  # the OpenAPI 3.0 dialect (nullable, ...)
                        validator = BodySchema(
                            schema,
                            python=OAS30Validator(wrapper, registry=registry)
                            if referenced
                            else OAS30Validator(schema),
                        )
                    required = bool(body.get("required", False))
            methods[method] = Operation(template, method, validator, required)
        if "GET" in methods and "HEAD" not in methods:
            methods["HEAD"] = methods["GET"]
        if methods:
            allow = ", ".join(sorted(methods)).encode()
            items.append(PathItem(template, methods, allow))
    return items


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _local_pointer(reference: object) -> str:
    if not isinstance(reference, str) or not reference.startswith("#"):
        raise UnusableDocument(f"only local references are supported: {reference!r}")
    return reference[1:]


def _pointer(document: Mapping[str, Any], pointer: str) -> Any:
    node: Any = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise UnusableDocument(f"unresolvable reference #{pointer}")
    return node


def _resolve(document: Mapping[str, Any], node: Any, depth: int = 0) -> Mapping[str, Any]:
    """Follow a (chain of) local ``$ref`` of a path item or request body."""
    while isinstance(node, Mapping) and "$ref" in node:
        depth += 1
        if depth > 20:
            raise UnusableDocument("reference loop")
        node = _pointer(document, _local_pointer(node["$ref"]))
    if not isinstance(node, Mapping):
        raise UnusableDocument("a path item or request body is not an object")
    return node


def _check_references(document: Mapping[str, Any], schema: Any) -> bool:
    """Every $ref reachable from ``schema`` is local and resolves (checked once, at load time,
    so that validation never meets an unresolvable reference on the request path); whether
    there is any."""
    seen: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference not in seen:
                seen.add(reference)
                pending.append(_pointer(document, _local_pointer(reference)))
            pending.extend(value for key, value in node.items() if key != "$ref")
        elif isinstance(node, list):
            pending.extend(node)
    return bool(seen)


def _json_media_type(content: Mapping[str, Any]) -> str | None:
    """``application/json`` if listed, else the first JSON media type (``...+json``)."""
    if "application/json" in content:
        return "application/json"
    for media in content:
        base = media.split(";", 1)[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return media
    return None


def validate_body(
    validator: BodySchema, body: bytes, required: bool | None = None
) -> list[SchemaError]:
    """Errors of a JSON body against the service's schema (at most 20), [] if it is valid.

    ``required``: from the operation's requestBody (False: an empty body is accepted; True: an
    empty body is refused); None: no operation says, the empty body is validated as ``null``.
    """
    if not body and required is not None:
        if required:
            return [SchemaError("", "a request body is required")]
        return []
    try:
        document: Any = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as error:
        return [SchemaError("", f"invalid JSON: {error}")]
    if validator.is_valid(document):
        return []
    return validator.errors(document)
