"""schemathesis over the whole OpenAPI document of the control plane (issue 12, item 8).

Every operation of ``/api/openapi.json`` is called in-process (ASGI) with requests
schemathesis generates: as a platform administrator (bearer token) in its three phases
(the document's examples; coverage of the boundaries, such as empty and over-long
strings, integers beyond 2^63-1, missing fields and unexpected methods; and random
valid and invalid requests), and anonymously with random requests. No answer may be a
server error, and every answer must be documented: its status, its content type and its
body against the declared schema. The examples per operation are bounded
(`FUZZED_EXAMPLES`) so the run takes a minute or two on each database; it runs in the
suite on SQLite and on PostgreSQL.

Every failure of the run is collected and reported together (operation, identity,
request, what schemathesis found) instead of stopping at the first one, and without
shrinking, which would multiply the run time.

The gateway (data plane) is a separate server, not part of this document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)

from tests.conftest import TEST_PASSWORD
from tinhso.registry.accounts import account_service
from tinhso.registry.models import CredentialKind

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from tests.conftest import Official

FUZZED_EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ALL_PHASES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]
# Operations that end the credential they are called with: each call gets a fresh token.
ENDS_ITS_CREDENTIAL = {"DELETE /api/v1/auth/tokens/current"}


@dataclass
class Run:
    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)

    def call(self, case: Any, identity: str, headers: dict[str, str] | None) -> None:
        self.requests += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:
            self.failures.append(f"{case.operation.label} as {identity}:\n{failure}")
        except Exception as error:  # the app raised: a server error (500) for the client
            self.failures.append(
                f"{case.operation.label} as {identity}: server error {error!r}\n"
                f"{case.as_curl_command()}"
            )


def _run_operation(
    operation: Any,
    modes: list[HypothesisTestMode],
    check: Callable[[Any], None],
) -> None:
    bounded = hypothesis.settings(
        max_examples=FUZZED_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    test = create_test(
        operation=operation,
        test_func=bounded(check),
        config=HypothesisTestConfig(project=operation.schema.config, modes=modes, settings=bounded),
    )
    test()


def test_every_operation_answers_as_documented(
    app: FastAPI,
    admin: Official,
    sessions: sessionmaker[Session],
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    # Anonymous requests carry no credentials at all; the administrator's are added here.
    schema.config.generation.update(with_security_parameters=False)
    # HEAD and OPTIONS are tested on their own (tests/core/test_api_inputs.py); the
    # coverage phase keeps to the documented methods so the run stays short.
    schema.config.phases.coverage.unexpected_methods = set()
    schema.config.phases.coverage.generation.update(modes=[GenerationMode.POSITIVE])
    run = Run()

    def fresh_token() -> dict[str, str]:
        with sessions.begin() as session:
            issued = account_service.login(
                session, admin.username, TEST_PASSWORD, CredentialKind.API_TOKEN, 30
            )
        return {"Authorization": f"Bearer {issued.token}"}

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), (
            f"the document has an operation schemathesis cannot read: {result}"
        )
        operation = result.ok()
        run.operations += 1

        def as_admin(case: Any) -> None:
            label = case.operation.label
            headers = fresh_token() if label in ENDS_ITS_CREDENTIAL else admin.headers
            run.call(case, "platform admin", headers)

        def anonymously(case: Any) -> None:
            run.call(case, "anonymous", None)

        _run_operation(operation, ALL_PHASES, as_admin)
        _run_operation(operation, [HypothesisTestMode.FUZZING], anonymously)

    assert run.operations >= 90, "the document lost operations"
    assert not run.failures, (
        f"{len(run.failures)} failures in {run.requests} requests over {run.operations} "
        "operations:\n\n" + "\n\n".join(run.failures)
    )
