"""The gateway's answers to consumers when an exchange is refused or fails.

Each has a stable ``code`` (the problem type is ``urn:tinhso:problem:<code>``), an HTTP status
and a Vietnamese and an English message, rendered as RFC 9457 problem+json in the shape of
``tinhso.core.errors.Problem`` (type, title, status, detail, code, message{vi,en}, request_id).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """A refused or failed exchange: HTTP status, stable code, Vietnamese and English text."""

    status: int
    code: str
    vi: str
    en: str


P_UNAUTHENTICATED = Refusal(
    401, "token_missing", "Thiếu mã truy cập (Bearer token)", "An access token is required"
)
P_INVALID_TOKEN = Refusal(
    401,
    "token_invalid",
    "Mã truy cập không hợp lệ, đã hết hạn hoặc không dành cho cổng trao đổi",
    "The access token is invalid, expired or not meant for the gateway",
)
P_NO_GRANT = Refusal(
    403,
    "no_grant",
    "Hệ thống của bạn chưa được cấp quyền sử dụng dịch vụ này",
    "Your system has no grant for this service",
)
P_NOT_GRANTED = Refusal(
    403,
    "not_granted",
    "Quyền được cấp không bao gồm phương thức hoặc đường dẫn này",
    "Your grant does not cover this method or path",
)
P_NOT_FOUND = Refusal(404, "service_not_found", "Không có dịch vụ này", "No such service")
P_RETIRED = Refusal(
    404,
    "service_unavailable",
    "Dịch vụ đã ngừng hoặc chưa được công bố",
    "The service is retired or not published",
)
P_CONSUMER_DISABLED = Refusal(
    403,
    "organisation_disabled",
    "Tổ chức sở hữu hệ thống của bạn đã bị vô hiệu hoá; liên hệ quản trị nền tảng",
    "The organisation that owns your system is disabled; contact the platform administrators",
)
P_PROVIDER_DISABLED = Refusal(
    503,
    "provider_disabled",
    "Tổ chức cung cấp dịch vụ này đã bị vô hiệu hoá; dịch vụ tạm không phục vụ",
    "The organisation that provides this service is disabled; the service is not served",
)
P_BAD_PATH = Refusal(
    400,
    "invalid_path",
    "Đường dẫn không hợp lệ (có '..', '//', ';', ký tự phân cách mã hóa, ký tự giống dấu '.'"
    " hoặc '/' hay ký tự điều khiển)",
    "The path is not valid ('..', '//', ';', encoded separators, look-alikes of '.' or '/'"
    " or control characters)",
)
P_RESERVED_HEADER = Refusal(
    400,
    "reserved_header",
    "Không được gửi tiêu đề X-Tinhso-* (do cổng trao đổi đặt)",
    "X-Tinhso-* headers are set by the gateway and may not be sent",
)
P_TOO_LARGE = Refusal(
    413, "body_too_large", "Dữ liệu gửi lên vượt quá giới hạn", "The request body is too large"
)
P_RATE = Refusal(
    429, "rate_limited", "Vượt quá tốc độ cho phép", "Too many requests for your grant"
)
P_QUOTA = Refusal(
    429, "quota_exceeded", "Đã hết hạn mức trong ngày", "The daily quota of your grant is used up"
)
P_SCHEMA = Refusal(
    400,
    "schema_invalid",
    "Dữ liệu gửi lên không đúng lược đồ của dịch vụ",
    "The request body does not match the service's schema",
)
P_BAD_GATEWAY = Refusal(
    502,
    "provider_error",
    "Hệ thống cung cấp không trả lời hợp lệ",
    "The provider did not answer properly",
)
P_RESPONSE_TOO_LARGE = Refusal(
    502,
    "provider_response_too_large",
    "Hệ thống cung cấp trả về dữ liệu quá lớn",
    "The provider's response is too large",
)
P_TIMEOUT = Refusal(
    504, "provider_timeout", "Hệ thống cung cấp không trả lời kịp", "The provider timed out"
)
P_CIRCUIT = Refusal(
    503,
    "provider_unavailable",
    "Hệ thống cung cấp đang tạm ngừng nhận yêu cầu do lỗi liên tiếp",
    "The provider is temporarily cut off after repeated failures",
)
P_NOT_READY = Refusal(
    503, "gateway_not_ready", "Cổng trao đổi đang khởi động", "The gateway is starting"
)
P_BAD_REQUEST = Refusal(
    400,
    "invalid_request",
    "Yêu cầu có ký tự không hợp lệ trong đường dẫn, tham số hoặc tiêu đề",
    "The request has invalid characters in its path, query or headers",
)
P_UNKNOWN_OPERATION = Refusal(
    404,
    "unknown_operation",
    "Đường dẫn không thuộc thao tác nào trong tài liệu OpenAPI của dịch vụ",
    "The path matches no operation in the service's OpenAPI document",
)
P_METHOD_NOT_ALLOWED = Refusal(
    405,
    "method_not_allowed",
    "Tài liệu OpenAPI của dịch vụ không cho phép phương thức này trên đường dẫn này",
    "The service's OpenAPI document does not allow this method on this path",
)
P_UNKNOWN_CERTIFICATE = Refusal(
    401,
    "certificate_unknown",
    "Chứng thư số của máy khách không gắn với hệ thống nào (hoặc đã bị thu hồi)",
    "The client certificate is bound to no system (or was revoked)",
)
P_CERTIFICATE_MISMATCH = Refusal(
    401,
    "certificate_mismatch",
    "Mã truy cập và chứng thư số của máy khách thuộc hai hệ thống khác nhau",
    "The access token and the client certificate belong to different systems",
)

# Refused by the HTTP layer (the gateway's server or its body reader), before any policy.
P_MALFORMED_REQUEST = Refusal(
    400, "malformed_request", "Yêu cầu HTTP không đúng cú pháp", "The HTTP request is malformed"
)
P_DUPLICATE_HEADER = Refusal(
    400,
    "duplicate_header",
    "Tiêu đề Host, Authorization hoặc Content-Length xuất hiện nhiều lần",
    "The Host, Authorization or Content-Length header appears more than once",
)
P_HOST_MISSING = Refusal(
    400,
    "host_missing",
    "Yêu cầu HTTP/1.1 phải có đúng một tiêu đề Host",
    "An HTTP/1.1 request needs exactly one Host header",
)
P_URI_TOO_LONG = Refusal(
    414, "uri_too_long", "Đường dẫn yêu cầu quá dài", "The request target is too long"
)
P_HEADERS_TOO_LARGE = Refusal(
    431,
    "headers_too_large",
    "Phần đầu yêu cầu quá lớn hoặc có quá nhiều tiêu đề",
    "The request head is too large or has too many headers",
)
P_HTTP_VERSION = Refusal(
    505,
    "http_version_not_supported",
    "Cổng trao đổi chỉ nhận HTTP/1.0 và HTTP/1.1",
    "The gateway speaks HTTP/1.0 and HTTP/1.1 only",
)
P_HEAD_TIMEOUT = Refusal(
    408,
    "head_timeout",
    "Phần đầu yêu cầu không đến kịp thời hạn",
    "The request head did not arrive in time",
)
P_MALFORMED_BODY = Refusal(
    400,
    "malformed_body",
    "Phần thân yêu cầu (mã hóa chunked) không đúng cú pháp",
    "The request body's chunked encoding is malformed",
)
# By the code the server gives a request it refused itself (gateway_server.Refused).
HTTP_REFUSALS = {
    problem.code: problem
    for problem in (
        P_MALFORMED_REQUEST,
        P_DUPLICATE_HEADER,
        P_HOST_MISSING,
        P_URI_TOO_LONG,
        P_HEADERS_TOO_LARGE,
        P_HTTP_VERSION,
        P_HEAD_TIMEOUT,
    )
}
P_BODY_TIMEOUT = Refusal(
    408,
    "body_timeout",
    "Dữ liệu gửi lên không đến đủ trong thời gian cho phép",
    "The request body did not arrive in full in time",
)
P_TOO_MANY_UPLOADS = Refusal(
    429,
    "too_many_uploads",
    "Hệ thống của bạn đang gửi quá nhiều dữ liệu cùng lúc; hãy thử lại sau",
    "Your system has too many request bodies in progress; retry later",
)
P_ADDRESS_REFUSED = Refusal(
    502,
    "provider_address_refused",
    "Địa chỉ của hệ thống cung cấp trỏ tới vùng mạng bị cấm",
    "The provider's host resolves to a forbidden address",
)
