"""Open data tables: datasets, their resources, tags, themes (groups) and licences.

Publishers are the registry's organisations (referenced by id, never copied). Each dataset
keeps two folded shadow columns (lower-case ASCII, đ → d, words separated by one space) that
search's full-text indexes are built from on both databases (migration 0038, not declared
here: SQLite's FTS5 table kept in step by triggers, PostgreSQL's generated ``search_vector``):
``search_title`` (name, titles, tags) weighs more than ``search_text`` (everything a search
may find, notes included).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow
from tinhso.core.generations import watch


class DatasetState(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class OpendataLicence(Base):
    __tablename__ = "opendata_licence"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(500), default="")
    attribution_vi: Mapped[str] = mapped_column(Text, default="")
    attribution_en: Mapped[str] = mapped_column(Text, default="")


class OpendataGroup(Base):
    """A theme (nhóm chủ đề) datasets belong to."""

    __tablename__ = "opendata_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    description_vi: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OpendataTag(Base):
    __tablename__ = "opendata_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


opendata_dataset_tag = Table(
    "opendata_dataset_tag",
    Base.metadata,
    Column(
        "dataset_id",
        ForeignKey("opendata_dataset.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag_id", ForeignKey("opendata_tag.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_opendata_dataset_tag_tag", "tag_id"),
)

opendata_dataset_group = Table(
    "opendata_dataset_group",
    Base.metadata,
    Column(
        "dataset_id",
        ForeignKey("opendata_dataset.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("group_id", ForeignKey("opendata_group.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_opendata_dataset_group_group", "group_id"),
)


class OpendataDataset(TimestampMixin, Base):
    __tablename__ = "opendata_dataset"
    __table_args__ = (
        Index("ix_opendata_dataset_organisation", "organisation_id"),
        Index("ix_opendata_dataset_state_private", "state", "private"),
        # PostgreSQL: a trigram index (pg_trgm) serves search's typo-tolerant pass
        # (word_similarity, the <% operator); SQLite keeps a plain index of the column.
        Index(
            "ix_opendata_dataset_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as CKAN's ids
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title_vi: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str | None] = mapped_column(String(500))
    notes_vi: Mapped[str] = mapped_column(Text, default="")
    notes_en: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    licence_id: Mapped[str | None] = mapped_column(
        ForeignKey("opendata_licence.id", ondelete="RESTRICT")
    )
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[DatasetState] = mapped_column(
        Enum(
            DatasetState,
            name="opendata_dataset_state",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
        ),
        default=DatasetState.ACTIVE,
    )
    update_frequency: Mapped[str] = mapped_column(String(32), default="")
    temporal_start: Mapped[date | None] = mapped_column(Date)
    temporal_end: Mapped[date | None] = mapped_column(Date)
    # Spatial coverage: an administrative unit of either unit set ("current"/"legacy", code).
    spatial_unit_set: Mapped[str] = mapped_column(String(16), default="")
    spatial_unit_code: Mapped[str] = mapped_column(String(16), default="")
    contact_point: Mapped[str] = mapped_column(String(300), default="")
    version: Mapped[str] = mapped_column(String(100), default="")
    search_title: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")

    resources: Mapped[list[OpendataResource]] = relationship(
        lazy="raise",
        order_by="OpendataResource.position",
        cascade="all, delete-orphan",
        back_populates="dataset",
    )
    tags: Mapped[list[OpendataTag]] = relationship(
        secondary=opendata_dataset_tag, lazy="raise", order_by=OpendataTag.name
    )
    groups: Mapped[list[OpendataGroup]] = relationship(
        secondary=opendata_dataset_group, lazy="raise", order_by=OpendataGroup.name
    )
    licence: Mapped[OpendataLicence | None] = relationship(lazy="raise")


class OpendataResource(Base):
    """A link or an uploaded file (stored under the data directory) of a dataset."""

    __tablename__ = "opendata_resource"
    # (dataset_id, format): a dataset's resources, and the search's format facet read from the
    # index alone (migration 0044)
    __table_args__ = (Index("ix_opendata_resource_dataset_format", "dataset_id", "format"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_dataset.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    # Relative to the data directory when the file was uploaded; "" for a link.
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    format: Mapped[str] = mapped_column(String(32), default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_modified: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Its rows are in the datastore (an OpendataDatastore row says where).
    datastore_active: Mapped[bool] = mapped_column(Boolean, default=False)

    dataset: Mapped[OpendataDataset] = relationship(lazy="raise", back_populates="resources")


class OpendataDatastore(Base):
    """Where a tabular resource's rows are: its current table and the table's fields.

    ``fields`` is a list of ``{"id", "type", "column", "number_format"}`` in the file's
    order. ``generation`` grows with every ingestion; the table's name carries it, so a new
    upload fills a new table and switches to it in one transaction.
    """

    __tablename__ = "opendata_datastore"

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("opendata_resource.id", ondelete="CASCADE"), primary_key=True
    )
    table_name: Mapped[str] = mapped_column(String(80))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Composite indexes the publisher declared (datastore_create's ``indexes``): lists of
    # field ids, kept across new uploads.
    indexes: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    number_format: Mapped[str] = mapped_column(String(2), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OpendataActivity(Base):
    """One change of a dataset, with the whole dataset as it was after it (CKAN's activity
    stream): the metadata's version history."""

    __tablename__ = "opendata_activity"
    __table_args__ = (Index("ix_opendata_activity_dataset", "dataset_id", "timestamp"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_dataset.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    activity_type: Mapped[str] = mapped_column(String(32))  # new/changed/deleted package
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class OpendataListReview(Base):
    """An agency's officers reviewed its open-data list (due at least every six months)."""

    __tablename__ = "opendata_list_review"
    __table_args__ = (Index("ix_opendata_list_review_organisation", "organisation_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")


# What a search's count, facet counts and results are made of: a commit writing any of these
# moves the generation on, and what ``catalogue/search.py``, ``facets.py`` and ``packages.py``
# keep is computed again (``core.generations``). Publishers' codes and names are read afresh on
# every search, never kept; the units' names are the registry's, kept per its units generation.
CATALOGUE_GENERATION = "opendata"
watch(
    CATALOGUE_GENERATION,
    OpendataDataset,
    OpendataResource,
    OpendataTag,
    OpendataGroup,
    OpendataLicence,
    opendata_dataset_tag,
    opendata_dataset_group,
)
