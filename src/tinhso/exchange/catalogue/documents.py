"""OpenAPI documents as providers upload or paste them (JSON or YAML), read with the line of
every key kept, so that a refusal names the line to fix; and back out as JSON or YAML for
download.

The validation is the catalogue's own (``openapi_spec_validator``, as ``CatalogueService``
checks documents); this module only adds where in the text the first error is.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import yaml
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tinhso.core.errors import Message

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


class DocumentProblem(Exception):
    """Why a document was refused, and its line (1-based; None when no line applies)."""

    def __init__(self, message: Message, line: int | None = None, where: str = "") -> None:
        super().__init__(message.en)
        self.message, self.line, self.where = message, line, where


def _plain(value: Any) -> Any:
    """YAML values as JSON holds them: string keys (``200:`` is the status "200"), dates as
    ISO text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: ``*name`` would let a small text expand into an
    enormous document (the "billion laughs"), and an OpenAPI document has no use for them."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError):
        return None


def line_of(node: yaml.Node | None, path: list[str | int]) -> int | None:
    """The line (1-based) of the deepest key or item of ``path`` found in the document."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _parsed(text: str) -> tuple[Any, yaml.Node | None]:
    try:
        return _parsed_text(text)
    except RecursionError as error:
        raise DocumentProblem(
            Message("Tài liệu lồng nhau quá sâu", "The document is nested too deeply")
        ) from error


def _parsed_text(text: str) -> tuple[Any, yaml.Node | None]:
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise DocumentProblem(
                Message(f"JSON không hợp lệ: {error.msg}", f"Invalid JSON: {error.msg}"),
                error.lineno,
            ) from error
        # Tabs are white space in JSON, not in YAML; one for one, the lines stay the same.
        return data, _compose(text.replace("\t", " "))
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = error.problem or str(error)
        raise DocumentProblem(
            Message(f"YAML không hợp lệ: {reason}", f"Invalid YAML: {reason}"),
            mark.line + 1 if mark is not None else None,
        ) from error
    except yaml.YAMLError as error:
        raise DocumentProblem(
            Message(f"YAML không hợp lệ: {error}", f"Invalid YAML: {error}")
        ) from error
    return _plain(data), node


def read_openapi(text: str) -> dict[str, Any]:
    """An OpenAPI 3 document from its JSON or YAML text, validated; or a
    :class:`DocumentProblem` with the line of the first error."""
    if not text.strip():
        raise DocumentProblem(
            Message("Hãy tải lên hoặc dán tài liệu OpenAPI", "Upload or paste an OpenAPI document")
        )
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise DocumentProblem(
            Message("Tài liệu OpenAPI dài quá 2 MB", "The OpenAPI document is larger than 2 MB")
        )
    data, node = _parsed(text)
    if not isinstance(data, dict):
        raise DocumentProblem(
            Message(
                "Tài liệu OpenAPI phải là một đối tượng (các cặp khóa: giá trị)",
                "An OpenAPI document must be an object (key: value pairs)",
            ),
            1,
        )
    if not str(data.get("openapi", "")).startswith("3."):
        raise DocumentProblem(
            Message(
                "Tài liệu OpenAPI phải theo phiên bản 3.x (trường 'openapi')",
                "The OpenAPI document must be version 3.x (its 'openapi' field)",
            ),
            line_of(node, ["openapi"]),
            "openapi",
        )
    try:
        validate_openapi(data)
    except OpenAPIValidationError as error:
        path = list(error.absolute_path)
        where = " › ".join(str(part) for part in path) or "/"
        reason = error.message.split("\n", 1)[0]
        raise DocumentProblem(
            Message(
                f"Tài liệu OpenAPI không hợp lệ tại {where}: {reason}",
                f"The OpenAPI document is not valid at {where}: {reason}",
            ),
            line_of(node, path),
            where,
        ) from error
    except Exception as error:  # an unresolvable $ref and similar structural failures
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise DocumentProblem(
            Message(
                f"Tài liệu OpenAPI không hợp lệ: {reason}",
                f"The OpenAPI document is not valid: {reason}",
            )
        ) from error
    return data


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
