"""A service's data standard as people read it: the operations of its OpenAPI document (path,
method, parameters, request and responses) and every JSON Schema flattened into a table of
fields (name, type, required, description, format or allowed values).

Local ``$ref`` (``#/components/...``) are followed; anything deeper than ``MAX_DEPTH`` levels
or beyond ``MAX_FIELDS`` rows is left out (a recursive schema stays finite).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_DEPTH = 6
MAX_FIELDS = 200
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    required: bool
    description: str
    constraint: str  # format, allowed values, pattern, bounds
    depth: int = 0


@dataclass(frozen=True)
class Body:
    label: str  # "request" or a response status ("200", "default")
    description: str
    media_type: str
    fields: list[FieldRow]


@dataclass(frozen=True)
class OperationView:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[tuple[str, FieldRow]]  # (in: path/query/header/cookie, the parameter)
    request: Body | None
    responses: list[Body] = field(default_factory=list)


def _pointer(document: Mapping[str, Any], reference: str) -> Any:
    if not reference.startswith("#/"):
        return None
    node: Any = document
    for raw in reference[2:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _resolved(document: Mapping[str, Any], node: Any) -> dict[str, Any]:
    for _ in range(MAX_DEPTH):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = _pointer(document, node["$ref"])
        else:
            break
    return node if isinstance(node, dict) else {}


def _type_of(document: Mapping[str, Any], schema: dict[str, Any], depth: int = 0) -> str:
    if depth >= MAX_DEPTH:
        return "…"
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = " | ".join(str(item) for item in kind)
    if kind == "array":
        items = _resolved(document, schema.get("items"))
        return f"array<{_type_of(document, items, depth + 1) or 'any'}>"
    for combiner in ("oneOf", "anyOf"):
        if isinstance(schema.get(combiner), list):
            return " | ".join(
                _type_of(document, _resolved(document, option), depth + 1) or "any"
                for option in schema[combiner]
            )
    if kind is None and "properties" in schema:
        kind = "object"
    return str(kind or "")


def _constraint(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    if "format" in schema:
        parts.append(f"format: {schema['format']}")
    if isinstance(schema.get("enum"), list):
        parts.append("enum: " + ", ".join(str(value) for value in schema["enum"]))
    if "const" in schema:
        parts.append(f"const: {schema['const']}")
    if "pattern" in schema:
        parts.append(f"pattern: {schema['pattern']}")
    bounds = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")
    parts.extend(f"{key}: {schema[key]}" for key in bounds if key in schema)
    if "default" in schema:
        parts.append(f"default: {schema['default']}")
    return "; ".join(parts)


def _merged(document: Mapping[str, Any], schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``allOf`` parts folded into one schema (their properties and required lists joined);
    an ``allOf`` that refers back to itself stops at ``MAX_DEPTH``."""
    if not isinstance(schema.get("allOf"), list) or depth >= MAX_DEPTH:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties") or {})
    required = list(merged.get("required") or [])
    for part in schema["allOf"]:
        resolved = _merged(document, _resolved(document, part), depth + 1)
        properties.update(resolved.get("properties") or {})
        required.extend(resolved.get("required") or [])
        merged.setdefault("type", resolved.get("type"))
    merged["properties"], merged["required"] = properties, required
    return merged


def schema_fields(document: Mapping[str, Any], schema: Any) -> list[FieldRow]:
    """Every property of ``schema`` (nested objects as ``parent.child``, array items as
    ``parent[]``), depth first, at most ``MAX_FIELDS`` rows."""
    rows: list[FieldRow] = []

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        node = _merged(document, node)
        if node.get("type") == "array" or "items" in node:
            items = _merged(document, _resolved(document, node.get("items")))
            if items.get("properties") and depth < MAX_DEPTH:
                walk(items, f"{prefix}[]" if prefix else "[]", depth)
            return
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return
        required = set(node.get("required") or [])
        for name, raw in properties.items():
            if len(rows) >= MAX_FIELDS:
                return
            child = _merged(document, _resolved(document, raw))
            full = f"{prefix}.{name}" if prefix else str(name)
            rows.append(
                FieldRow(
                    name=full,
                    type=_type_of(document, child),
                    required=name in required,
                    description=str(child.get("description") or child.get("title") or ""),
                    constraint=_constraint(child),
                    depth=depth,
                )
            )
            if depth + 1 < MAX_DEPTH:
                walk(child, full, depth + 1)

    walk(_resolved(document, schema), "", 0)
    return rows


def _json_content(document: Mapping[str, Any], content: Any) -> tuple[str, list[FieldRow]]:
    if not isinstance(content, dict) or not content:
        return "", []
    media_type = next((m for m in content if "json" in m), next(iter(content)))
    media = content[media_type] if isinstance(content[media_type], dict) else {}
    return str(media_type), schema_fields(document, media.get("schema"))


def _parameter(document: Mapping[str, Any], raw: Any) -> tuple[str, FieldRow] | None:
    parameter = _resolved(document, raw)
    if "name" not in parameter:
        return None
    schema = _merged(document, _resolved(document, parameter.get("schema")))
    return str(parameter.get("in", "")), FieldRow(
        name=str(parameter["name"]),
        type=_type_of(document, schema),
        required=bool(parameter.get("required")),
        description=str(parameter.get("description") or schema.get("description") or ""),
        constraint=_constraint(schema),
    )


def operations(document: Mapping[str, Any] | None) -> list[OperationView]:
    """The operations of an OpenAPI 3 document, in the document's order."""
    if not document or not isinstance(document.get("paths"), dict):
        return []
    found: list[OperationView] = []
    for path, raw_item in document["paths"].items():
        item = _resolved(document, raw_item)
        shared = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            parameters = [
                parameter
                for raw in [*shared, *(operation.get("parameters") or [])]
                if (parameter := _parameter(document, raw)) is not None
            ]
            request = None
            body = _resolved(document, operation.get("requestBody"))
            if body:
                media_type, fields = _json_content(document, body.get("content"))
                request = Body("request", str(body.get("description") or ""), media_type, fields)
            responses = []
            for status, raw_response in (operation.get("responses") or {}).items():
                response = _resolved(document, raw_response)
                media_type, fields = _json_content(document, response.get("content"))
                responses.append(
                    Body(str(status), str(response.get("description") or ""), media_type, fields)
                )
            found.append(
                OperationView(
                    method=method.upper(),
                    path=str(path),
                    summary=str(operation.get("summary") or ""),
                    description=str(operation.get("description") or ""),
                    parameters=parameters,
                    request=request,
                    responses=responses,
                )
            )
    return found


def contact(document: Mapping[str, Any] | None) -> dict[str, str]:
    """The document's ``info.contact`` (name, email, url), the provider's contact point."""
    info = document.get("info") if document else None
    raw = info.get("contact") if isinstance(info, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {key: str(raw[key]) for key in ("name", "email", "url") if raw.get(key)}
