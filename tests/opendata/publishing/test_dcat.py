"""The DCAT-AP 3 export: each serialisation parsed back with rdflib and validated with pyshacl
against shapes of DCAT-AP 3's mandatory properties; private datasets never appear."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from tests.opendata.conftest import PUBLISHER
from tinhso.opendata.publishing.dcat import HYDRA, SPDX

if TYPE_CHECKING:
    from pathlib import Path

    from tests.opendata.conftest import Catalogue

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix ex: <urn:shapes:> .

ex:Catalog a sh:NodeShape ; sh:targetClass dcat:Catalog ;
  sh:property [ sh:path dct:title ; sh:minCount 1 ; sh:nodeKind sh:Literal ] ;
  sh:property [ sh:path dct:description ; sh:minCount 1 ; sh:nodeKind sh:Literal ] ;
  sh:property [ sh:path dct:publisher ; sh:minCount 1 ; sh:maxCount 1 ] .
ex:Dataset a sh:NodeShape ; sh:targetClass dcat:Dataset ;
  sh:property [ sh:path dct:title ; sh:minCount 1 ; sh:nodeKind sh:Literal ] ;
  sh:property [ sh:path dct:description ; sh:minCount 1 ; sh:nodeKind sh:Literal ] .
ex:Distribution a sh:NodeShape ; sh:targetClass dcat:Distribution ;
  sh:property [ sh:path dcat:accessURL ; sh:minCount 1 ; sh:nodeKind sh:IRI ] .
ex:DataService a sh:NodeShape ; sh:targetClass dcat:DataService ;
  sh:property [ sh:path dct:title ; sh:minCount 1 ; sh:nodeKind sh:Literal ] ;
  sh:property [ sh:path dcat:endpointURL ; sh:minCount 1 ; sh:nodeKind sh:IRI ] .
"""
# rdflib 7.1's JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
FORMATS = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}


def _shapes() -> Graph:
    return Graph().parse(data=SHAPES, format="turtle")


def _conforms(graph: Graph) -> bool:
    conforms, _, _ = validate(graph, shacl_graph=_shapes())
    return bool(conforms)


def _fetch(url: str, extension: str) -> Graph:
    answer = httpx.get(url, timeout=20)
    assert answer.status_code == 200, answer.text
    return Graph().parse(data=answer.text, format=FORMATS[extension])


def _dataset(catalogue: Catalogue, title: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = catalogue.officer.action.package_create(
        title=title, owner_org=PUBLISHER, **fields
    )
    return created


@pytest.mark.parametrize("extension", sorted(FORMATS))
def test_the_catalogue_and_its_datasets_export_as_valid_dcat_ap(
    catalogue: Catalogue, tmp_path: Path, extension: str
) -> None:
    shown = _dataset(
        catalogue,
        "Điểm phát wifi công cộng",
        title_en="Public wifi spots",
        notes="Các điểm wifi miễn phí",
        notes_en="Free wifi spots",
        tags=[{"name": "wifi"}],
    )
    hidden = _dataset(catalogue, "Danh sách nội bộ", notes="Không công bố", private=True)
    content = b"ma,ten\r\n1,Quang truong\r\n"
    (tmp_path / "wifi.csv").write_bytes(content)
    with (tmp_path / "wifi.csv").open("rb") as file:
        resource = catalogue.officer.action.resource_create(
            package_id=shown["id"], name="Danh sách", upload=file
        )

    graph = _fetch(f"{catalogue.url}/catalog.{extension}", extension)
    assert _conforms(graph)
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    subject = URIRef(f"{catalogue.url}/dataset/{shown['name']}")
    assert datasets == {subject}
    assert URIRef(f"{catalogue.url}/dataset/{hidden['name']}") not in datasets
    assert Literal("Điểm phát wifi công cộng", lang="vi") in graph.objects(subject, DCTERMS.title)
    assert Literal("Public wifi spots", lang="en") in graph.objects(subject, DCTERMS.title)
    assert Literal("wifi", lang="vi") in graph.objects(subject, DCAT.keyword)
    assert str(graph.value(subject, DCTERMS.identifier)) == shown["id"]
    assert graph.value(subject, DCTERMS.publisher) is not None
    distribution = graph.value(subject, DCAT.distribution)
    assert str(graph.value(distribution, DCAT.downloadURL)) == resource["url"]
    assert int(str(graph.value(distribution, DCAT.byteSize))) == len(content)
    checksum = graph.value(distribution, SPDX.checksum)
    assert str(graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(content).hexdigest()
    views = list(graph.subjects(RDF.type, HYDRA.PartialCollectionView))
    assert len(views) == 1
    assert graph.value(views[0], HYDRA.next) is None
    assert str(graph.value(views[0], HYDRA.last)).endswith("page=1")

    one = _fetch(f"{catalogue.url}/dataset/{shown['name']}.{extension}", extension)
    assert _conforms(one)
    assert set(one.subjects(RDF.type, DCAT.Dataset)) == {subject}
    private = httpx.get(f"{catalogue.url}/dataset/{hidden['name']}.{extension}", timeout=10)
    assert private.status_code == 404


def test_the_shapes_fail_a_graph_missing_a_mandatory_property(catalogue: Catalogue) -> None:
    created = _dataset(catalogue, "Trạm quan trắc", notes="Chất lượng không khí")
    graph = _fetch(f"{catalogue.url}/dataset/{created['name']}.ttl", "ttl")
    assert _conforms(graph)
    subject = URIRef(f"{catalogue.url}/dataset/{created['name']}")
    graph.remove((subject, DCTERMS.description, None))
    assert not _conforms(graph)


def test_unknown_formats_and_pages_are_refused_cleanly(catalogue: Catalogue) -> None:
    assert httpx.get(f"{catalogue.url}/catalog.csv", timeout=10).status_code == 404
    assert httpx.get(f"{catalogue.url}/catalog.ttl?page=0", timeout=10).status_code == 422
    assert httpx.get(f"{catalogue.url}/catalog.ttl?page=x", timeout=10).status_code == 422


def test_the_catalogue_pages_with_hydra_first_next_and_last(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two datasets a page instead of 100, so that five datasets make three pages.
    monkeypatch.setattr("tinhso.opendata.publishing.dcat.PAGE_SIZE", 2)
    names = {_dataset(catalogue, f"Bộ dữ liệu số {number}")["name"] for number in range(5)}
    seen: set[str] = set()
    url: str | None = f"{catalogue.url}/catalog.ttl"
    pages = 0
    while url is not None:
        graph = _fetch(url, "ttl")
        assert _conforms(graph)
        (view,) = graph.subjects(RDF.type, HYDRA.PartialCollectionView)
        assert str(graph.value(view, HYDRA.first)).endswith("/catalog.ttl?page=1")
        assert str(graph.value(view, HYDRA.last)).endswith("/catalog.ttl?page=3")
        assert int(str(graph.value(view, HYDRA.totalItems))) == 5
        found = {str(item).rsplit("/", 1)[-1] for item in graph.subjects(RDF.type, DCAT.Dataset)}
        assert len(found) <= 2
        assert not found & seen
        seen |= found
        following = graph.value(view, HYDRA.next)
        url = str(following) if following is not None else None
        pages += 1
    assert pages == 3
    assert seen == names
