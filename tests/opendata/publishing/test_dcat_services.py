"""The data-sharing platform's services in the DCAT-AP 3 catalogue: published and deprecated
ones as DataService entries (title, description, provider, the gateway endpoint, restricted
access), drafts never, and nothing that needs a grant (no provider address, no schema)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from tests.exchange.conftest import API, exchange_world, service_payload  # noqa: F401
from tests.opendata.publishing.test_dcat import _conforms
from tinhso.opendata.publishing.dcat import RESTRICTED

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from tests.conftest import Official

pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")


@pytest.mark.usefixtures("exchange_world")  # a provider system and its published service
def test_published_services_are_data_services_and_drafts_are_not(
    client: TestClient, admin: Official
) -> None:
    draft = client.post(
        f"{API}/services",
        json=service_payload(code="ban-nhap", name_vi="Dịch vụ đang soạn"),
        headers=admin.headers,
    )
    assert draft.status_code == 201, draft.text
    for extension, parser in (("ttl", "turtle"), ("jsonld", "json-ld")):
        answer = client.get(f"/catalog.{extension}")
        assert answer.status_code == 200
        assert "10.20.30.40" not in answer.text  # the provider's address stays private
        assert "citizens" not in answer.text  # and so do its schemas
        graph = Graph().parse(data=answer.text, format=parser)
        assert _conforms(graph)
        services = {
            str(graph.value(subject, DCTERMS.identifier)): subject
            for subject in graph.subjects(RDF.type, DCAT.DataService)
            if graph.value(subject, DCTERMS.identifier) is not None
        }
        assert set(services) == {"so-yte/his/ho-so-suc-khoe/v1"}
        service = services["so-yte/his/ho-so-suc-khoe/v1"]
        endpoint = graph.value(service, DCAT.endpointURL)
        assert isinstance(endpoint, URIRef)
        assert str(endpoint).endswith("/so-yte/his/ho-so-suc-khoe/v1")
        assert graph.value(service, DCTERMS.accessRights) == RESTRICTED
        titles = {str(title) for title in graph.objects(service, DCTERMS.title)}
        assert titles == {"Tra cứu hồ sơ sức khỏe", "Health record lookup"}
        assert graph.value(service, DCTERMS.publisher) is not None
        catalogues = list(graph.subjects(RDF.type, DCAT.Catalog))
        assert (catalogues[0], DCAT.service, service) in graph
