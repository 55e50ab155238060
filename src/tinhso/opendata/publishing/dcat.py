"""DCAT-AP 3 export of the public catalogue (rdflib): Turtle, RDF/XML and JSON-LD.

The catalogue also describes the data-sharing platform's services (published or deprecated)
as ``dcat:DataService`` entries: title, description, provider, the gateway endpoint and
restricted access rights; metadata only, nothing that needs a grant.

``/catalog.{ttl,rdf,jsonld}`` pages the catalogue 100 datasets at a time with a Hydra
``PartialCollectionView`` (first/next/last); ``/dataset/{name}.{ttl,rdf,jsonld}`` is one
dataset. Only active public datasets appear: the export reads as an anonymous reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from tinhso.exchange.catalogue.service import AnnouncedService, catalogue_service
from tinhso.exchange.models import ServiceStatus
from tinhso.opendata.access import reader_of
from tinhso.opendata.catalogue.datasets import dataset_service
from tinhso.opendata.catalogue.packages import organisations_by_id, package_dict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
ADMS_STATUS = "http://purl.org/adms/status/"
SPDX = Namespace("http://spdx.org/rdf/terms#")
PAGE_SIZE = 100
CATALOGUE_TITLE = ("Danh mục dữ liệu mở của tỉnh", "The province's open data catalogue")
CATALOGUE_DESCRIPTION = (
    "Các bộ dữ liệu mở do các cơ quan của tỉnh công bố",
    "Open datasets published by the province's agencies",
)
CATALOGUE_PUBLISHER = ("Ủy ban nhân dân tỉnh", "Provincial People's Committee")
# serialisation name for rdflib, media type
FORMATS = {
    "ttl": ("turtle", "text/turtle; charset=utf-8"),
    "rdf": ("xml", "application/rdf+xml"),
    "jsonld": ("json-ld", "application/ld+json"),
}


def _graph() -> Graph:
    graph = Graph()
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("hydra", HYDRA),
        ("spdx", SPDX),
        ("adms", ADMS),
    ):
        graph.bind(prefix, namespace)
    return graph


def _texts(
    graph: Graph, subject: URIRef, predicate: URIRef, vi: str | None, en: str | None
) -> None:
    if vi:
        graph.add((subject, predicate, Literal(vi, lang="vi")))
    if en:
        graph.add((subject, predicate, Literal(en, lang="en")))


def _agent(graph: Graph, names: tuple[str | None, str | None]) -> BNode:
    agent = BNode()
    graph.add((agent, RDF.type, FOAF.Agent))
    _texts(graph, agent, FOAF.name, *names)  # type: ignore[arg-type]
    return agent


def _add_dataset(graph: Graph, found: dict[str, Any], site_url: str) -> URIRef:
    subject = URIRef(f"{site_url}/dataset/{found['name']}")
    graph.add((subject, RDF.type, DCAT.Dataset))
    _texts(graph, subject, DCTERMS.title, found["title"], found["title_en"])
    # DCAT-AP makes a description mandatory: a dataset without notes is described by its title.
    _texts(
        graph,
        subject,
        DCTERMS.description,
        found["notes"] or found["title"],
        found["notes_en"] or (None if found["notes"] else found["title_en"]),
    )
    graph.add((subject, DCTERMS.identifier, Literal(found["id"])))
    for tag in found["tags"]:
        graph.add((subject, DCAT.keyword, Literal(tag["name"], lang="vi")))
    organisation = found["organization"]
    if organisation:
        graph.add(
            (
                subject,
                DCTERMS.publisher,
                _agent(graph, (organisation.get("title"), organisation.get("title_en"))),
            )
        )
    if found["license_url"]:
        graph.add((subject, DCTERMS.license, URIRef(found["license_url"])))
    elif found["license_id"]:
        graph.add((subject, DCTERMS.license, Literal(found["license_id"])))
    for group in found["groups"]:
        graph.add((subject, DCAT.theme, URIRef(f"{site_url}/group/{group['name']}")))
    graph.add((subject, DCTERMS.issued, Literal(found["metadata_created"], datatype=XSD.dateTime)))
    graph.add(
        (subject, DCTERMS.modified, Literal(found["metadata_modified"], datatype=XSD.dateTime))
    )
    if found["spatial_unit_code"]:
        graph.add((subject, DCTERMS.spatial, Literal(found["spatial_unit_code"])))
    for resource in found["resources"]:
        distribution = URIRef(f"{site_url}/dataset/{found['name']}/resource/{resource['id']}")
        graph.add((subject, DCAT.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT.Distribution))
        _texts(graph, distribution, DCTERMS.title, resource["name"], None)
        if resource["url"]:
            graph.add((distribution, DCAT.accessURL, URIRef(resource["url"])))
            if resource["url_type"] == "upload":
                graph.add((distribution, DCAT.downloadURL, URIRef(resource["url"])))
        if resource["format"]:
            graph.add((distribution, DCTERMS["format"], Literal(resource["format"])))
        if resource["size"] is not None:
            graph.add(
                (
                    distribution,
                    DCAT.byteSize,
                    Literal(resource["size"], datatype=XSD.nonNegativeInteger),
                )
            )
        if resource["hash"]:
            checksum = BNode()
            graph.add((distribution, SPDX.checksum, checksum))
            graph.add((checksum, RDF.type, SPDX.Checksum))
            graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
            graph.add(
                (
                    checksum,
                    SPDX.checksumValue,
                    Literal(resource["hash"].removeprefix("sha256:"), datatype=XSD.hexBinary),
                )
            )
    return subject


def dataset_graph(session: Session, name: str, site_url: str) -> Graph:
    """One public dataset (NotFound for a private, deleted or unknown one)."""
    dataset = dataset_service.find(session, reader_of(session, None), name)
    graph = _graph()
    _add_dataset(graph, package_dict(dataset, organisations_by_id(session), site_url), site_url)
    return graph


# EU access-rights vocabulary: calling an LGSP service needs a grant (Decree 194/2025).
RESTRICTED = URIRef("http://publications.europa.eu/resource/authority/access-right/RESTRICTED")


def _add_exchange_service(
    graph: Graph, service: AnnouncedService, site_url: str, gateway_url: str
) -> URIRef:
    """A service of the data-sharing platform as a DataService: what it is, who provides it
    and where the gateway serves it; never its provider's address, schemas or data."""
    subject = URIRef(f"{site_url}/exchange/catalogue/{service.id}")
    graph.add((subject, RDF.type, DCAT.DataService))
    _texts(graph, subject, DCTERMS.title, service.name_vi, service.name_en)
    _texts(
        graph,
        subject,
        DCTERMS.description,
        service.description_vi or service.name_vi,
        service.description_en or (None if service.description_vi else service.name_en),
    )
    graph.add((subject, DCAT.endpointURL, URIRef(f"{gateway_url}/{service.key}")))
    graph.add((subject, DCTERMS.identifier, Literal(service.key)))
    graph.add((subject, DCAT.landingPage, subject))
    graph.add((subject, DCTERMS.accessRights, RESTRICTED))
    graph.add(
        (
            subject,
            DCTERMS.publisher,
            _agent(graph, (service.provider_name_vi, service.provider_name_en)),
        )
    )
    if service.published_at is not None:
        issued = service.published_at.replace(tzinfo=None).isoformat(timespec="seconds")
        graph.add((subject, DCTERMS.issued, Literal(issued, datatype=XSD.dateTime)))
    graph.add((subject, DCAT.keyword, Literal("LGSP", lang="vi")))
    if service.status is ServiceStatus.DEPRECATED:
        graph.add((subject, ADMS.status, URIRef(f"{ADMS_STATUS}Deprecated")))
    return subject


def catalogue_graph(
    session: Session, site_url: str, extension: str, page: int, gateway_url: str | None = None
) -> Graph:
    """The catalogue with page ``page`` (from 1) of its public datasets, Hydra-paged, and the
    data-sharing platform's services as DataService entries (``gateway_url``: where the
    gateway is reached; None: ``site_url``)."""
    gateway_url = (gateway_url or site_url).rstrip("/")
    graph = _graph()
    catalogue = URIRef(f"{site_url}/catalog")
    graph.add((catalogue, RDF.type, DCAT.Catalog))
    _texts(graph, catalogue, DCTERMS.title, *CATALOGUE_TITLE)
    _texts(graph, catalogue, DCTERMS.description, *CATALOGUE_DESCRIPTION)
    graph.add((catalogue, DCTERMS.publisher, _agent(graph, CATALOGUE_PUBLISHER)))
    service = URIRef(f"{site_url}/api/3/action")
    graph.add((service, RDF.type, DCAT.DataService))
    _texts(graph, service, DCTERMS.title, "API CKAN của danh mục", "The catalogue's CKAN API")
    graph.add((service, DCAT.endpointURL, service))
    graph.add((catalogue, DCAT.service, service))
    for announced in catalogue_service.announced(session):
        graph.add(
            (
                catalogue,
                DCAT.service,
                _add_exchange_service(graph, announced, site_url, gateway_url),
            )
        )
    names = dataset_service.names(session, None, 0)
    last = max(1, -(-len(names) // PAGE_SIZE))
    organisations = organisations_by_id(session)
    reader = reader_of(session, None)
    for name in names[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        found = package_dict(dataset_service.find(session, reader, name), organisations, site_url)
        graph.add((catalogue, DCAT.dataset, _add_dataset(graph, found, site_url)))
    base = f"{site_url}/catalog.{extension}"
    view = URIRef(f"{base}?page={page}")
    graph.add((view, RDF.type, HYDRA.PartialCollectionView))
    graph.add((view, HYDRA.first, URIRef(f"{base}?page=1")))
    graph.add((view, HYDRA.last, URIRef(f"{base}?page={last}")))
    if page < last:
        graph.add((view, HYDRA.next, URIRef(f"{base}?page={page + 1}")))
    if page > 1:
        graph.add((view, HYDRA.previous, URIRef(f"{base}?page={page - 1}")))
    graph.add((view, HYDRA.totalItems, Literal(len(names), datatype=XSD.nonNegativeInteger)))
    graph.add((catalogue, HYDRA.view, view))
    return graph


def serialise(graph: Graph, extension: str) -> tuple[str, str]:
    """The graph's text and media type for a file extension in FORMATS."""
    name, media_type = FORMATS[extension]
    return graph.serialize(format=name), media_type
