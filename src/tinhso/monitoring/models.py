"""Monitoring tables: data elements, indicators, plans and targets, values, methodologies.

Values are stored one row per data element x administrative unit x period (a long
table: SQL pivots it when indicators are computed). Periods are strings: ``2025``
(year), ``2025-Q1`` (quarter), ``2025-03`` (month); ``year`` repeats the year for
cheap filtering.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from tinhso.core.db import Base, TimestampMixin, UTCDateTime, utcnow, value_enum
from tinhso.core.generations import watch
from tinhso.registry.models import UnitLevel, UnitSet


class ValueType(enum.StrEnum):
    INTEGER = "integer"  # counts: devices, households, dossiers
    NUMBER = "number"  # any real number: km, VND
    PERCENTAGE = "percentage"  # 0-100
    BOOLEAN = "boolean"  # 0 or 1 (e.g. "has an IOC")


class Aggregation(enum.StrEnum):
    """How an element's values roll up the unit tree."""

    SUM = "sum"
    AVERAGE = "average"
    WEIGHTED_AVERAGE = "weighted_average"  # weighted by another element (weight_element)
    MIN = "min"
    MAX = "max"
    NONE = "none"  # only recorded values; nothing is computed for parent units


class PeriodType(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PeriodAggregation(enum.StrEnum):
    """How an element's values of shorter periods make up a longer one (months -> year)."""

    SUM = "sum"  # flows: dossiers received in the year = the sum of the months
    AVERAGE = "average"
    LAST = "last"  # stocks: devices at the end of the year = the latest month reported
    NONE = "none"  # never: only values reported for the period itself


class Direction(enum.StrEnum):
    HIGHER_BETTER = "higher_better"
    LOWER_BETTER = "lower_better"


class ValueSource(enum.StrEnum):
    FORM = "form"  # typed in by an officer (portal or API)
    FILE = "file"  # imported from a file (or a published document)
    AUTOMATIC = "automatic"  # collected through the exchange hub
    API = "api"  # pushed by an agency system


class Comparison(enum.StrEnum):
    LE = "<="
    LT = "<"
    GE = ">="
    GT = ">"
    EQ = "=="


class Scoring(enum.StrEnum):
    RATIO = "ratio"  # min(value / reference, 1) x max points (reference / value if lower-better)
    THRESHOLDS = "thresholds"  # points of the best threshold reached
    SUM = "sum"  # a group: weighted sum of its children's scores


class Normalisation(enum.StrEnum):
    NONE = "none"  # raw points
    PERCENT = "percent"  # points / max points x 100
    MIN_MAX = "min_max"  # (points - min) / (max - min) x 100 across the ranked units
    # Each pillar's points scaled from the max points of its modelled components to the
    # pillar's max points (for illustrative subsets of an official methodology).
    MODELLED = "modelled"


class Pillar(TimestampMixin, Base):
    """A pillar of digital transformation (configurable): chính quyền số, kinh tế số, ..."""

    __tablename__ = "monitoring_pillar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)


class DataElement(TimestampMixin, Base):
    """What is counted or measured (e.g. IoT devices, population, dossiers received online)."""

    __tablename__ = "data_element"
    __table_args__ = (
        CheckConstraint(
            "aggregation <> 'weighted_average' OR weight_element_id IS NOT NULL",
            name="weighted_needs_weight",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A formula names elements by code, so a code is an identifier: a-z, 0-9, _.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    unit_of_measure: Mapped[str] = mapped_column(String(64))
    unit_of_measure_en: Mapped[str | None] = mapped_column(String(64))
    value_type: Mapped[ValueType] = mapped_column(value_enum(ValueType, "value_type"))
    aggregation: Mapped[Aggregation] = mapped_column(value_enum(Aggregation, "aggregation"))
    weight_element_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_element.id", ondelete="RESTRICT")
    )
    period_type: Mapped[PeriodType] = mapped_column(value_enum(PeriodType, "period_type"))
    period_aggregation: Mapped[PeriodAggregation] = mapped_column(
        value_enum(PeriodAggregation, "period_aggregation"),
        default=PeriodAggregation.NONE,
        server_default=PeriodAggregation.NONE.value,
    )
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    # Counts, amounts and shares cannot be negative: a negative value is refused.
    non_negative: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether a value may be given for a period that has not ended yet (an estimate);
    # otherwise only periods that have ended take values.
    allows_estimates: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Indicator(TimestampMixin, Base):
    """A formula over data elements, e.g. ``iot_devices / population * 100``."""

    __tablename__ = "indicator"
    __table_args__ = (Index("ix_indicator_pillar", "pillar_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    formula: Mapped[str] = mapped_column(Text)
    unit_of_measure: Mapped[str] = mapped_column(String(64))
    unit_of_measure_en: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[Direction] = mapped_column(value_enum(Direction, "direction"))
    pillar_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitoring_pillar.id", ondelete="RESTRICT")
    )
    decimals: Mapped[int] = mapped_column(Integer, default=2)
    # Published as open data by this organisation (its values by unit and period become a
    # dataset of the open data catalogue); None: not published.
    open_data_publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT")
    )


class ValidationRule(TimestampMixin, Base):
    """A check between values of the same unit and period: ``left <op> right``.

    "Numerator <= denominator" is ``households_fibre <= households``; any formula may
    stand on either side. A rule whose operands are missing is not applied.
    """

    __tablename__ = "validation_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    left_expression: Mapped[str] = mapped_column(Text)
    comparison: Mapped[Comparison] = mapped_column(value_enum(Comparison, "comparison"))
    right_expression: Mapped[str] = mapped_column(Text)


class Plan(TimestampMixin, Base):
    """A plan (kế hoạch) or decision that sets targets, e.g. Kế hoạch 324/KH-UBND."""

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(100))  # "324/KH-UBND"
    kind: Mapped[str] = mapped_column(String(32), default="plan")  # plan, resolution, ...
    title_vi: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str | None] = mapped_column(String(500))
    issuing_body: Mapped[str] = mapped_column(String(300))
    issued_on: Mapped[date | None] = mapped_column(Date)
    legal_reference: Mapped[str | None] = mapped_column(Text)
    start_year: Mapped[int | None] = mapped_column(Integer)
    end_year: Mapped[int | None] = mapped_column(Integer)
    source_reference: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT")
    )


class Target(TimestampMixin, Base):
    """A plan's target for one indicator, scope and year: a value or a range, with a baseline.

    Scope is one unit (``scope_unit_id``), or every unit of a level (``scope_unit_set`` +
    ``scope_level``, optionally only below ``scope_unit_id``).
    """

    __tablename__ = "plan_target"
    __table_args__ = (
        Index("ix_plan_target_plan", "plan_id"),
        Index("ix_plan_target_indicator", "indicator_id"),
        CheckConstraint(
            "target_value IS NOT NULL OR target_low IS NOT NULL OR target_high IS NOT NULL",
            name="has_goal",
        ),
        CheckConstraint("scope_unit_id IS NOT NULL OR scope_level IS NOT NULL", name="has_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="RESTRICT"))
    scope_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("administrative_unit.id", ondelete="RESTRICT")
    )
    scope_unit_set: Mapped[UnitSet] = mapped_column(value_enum(UnitSet, "unit_set"))
    scope_level: Mapped[UnitLevel | None] = mapped_column(value_enum(UnitLevel, "unit_level"))
    year: Mapped[int] = mapped_column(Integer)
    # How the value is compared with the target (with a range: with its low end, or its
    # high end when lower is better); None means "as the indicator's direction says".
    comparison: Mapped[Comparison | None] = mapped_column(value_enum(Comparison, "comparison"))
    target_value: Mapped[float | None] = mapped_column(Float)
    target_low: Mapped[float | None] = mapped_column(Float)
    target_high: Mapped[float | None] = mapped_column(Float)
    baseline_value: Mapped[float | None] = mapped_column(Float)
    baseline_year: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    source_reference: Mapped[str | None] = mapped_column(Text)


class DataValue(Base):
    """The current value of one element for one unit and period, with its provenance."""

    __tablename__ = "data_value"
    __table_args__ = (
        UniqueConstraint("data_element_id", "unit_id", "period"),
        Index("ix_data_value_unit_period", "unit_id", "period"),
        Index("ix_data_value_element_year", "data_element_id", "year"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_element_id: Mapped[int] = mapped_column(ForeignKey("data_element.id", ondelete="RESTRICT"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    # The source's hedging kept with the number: nearly, over, approximately.
    qualifier: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[ValueSource] = mapped_column(value_enum(ValueSource, "value_source"))
    source_reference: Mapped[str | None] = mapped_column(Text)  # file name, URL, quote
    audit_record_id: Mapped[str | None] = mapped_column(String(64))  # exchange audit record
    comment: Mapped[str | None] = mapped_column(Text)
    entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class DataValueCorrection(Base):
    """One correction of a value: what it was, what it became, who changed it and why."""

    __tablename__ = "data_value_correction"
    __table_args__ = (Index("ix_data_value_correction_value", "data_value_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_value_id: Mapped[int] = mapped_column(ForeignKey("data_value.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)  # the version this correction replaced
    previous_value: Mapped[float] = mapped_column(Float)
    previous_source: Mapped[ValueSource] = mapped_column(value_enum(ValueSource, "value_source"))
    previous_source_reference: Mapped[str | None] = mapped_column(Text)
    previous_audit_record_id: Mapped[str | None] = mapped_column(String(64))
    previous_entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    previous_entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    new_value: Mapped[float] = mapped_column(Float)
    corrected_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)


class Methodology(TimestampMixin, Base):
    """A version of a composite index's method, e.g. DTI per 922/QĐ-BTTTT (2022)."""

    __tablename__ = "methodology"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    legal_reference: Mapped[str | None] = mapped_column(Text)
    issuing_body: Mapped[str | None] = mapped_column(String(300))
    issued_on: Mapped[date | None] = mapped_column(Date)
    # Units the index ranks (province for the provincial DTI).
    unit_level: Mapped[UnitLevel] = mapped_column(
        value_enum(UnitLevel, "unit_level"), default=UnitLevel.PROVINCE
    )
    normalisation: Mapped[Normalisation] = mapped_column(
        value_enum(Normalisation, "normalisation"), default=Normalisation.NONE
    )
    max_points: Mapped[float] = mapped_column(Float)


class MethodologyComponent(Base):
    """A node of a methodology: a pillar (top level), a group, or a scored indicator (leaf)."""

    __tablename__ = "methodology_component"
    __table_args__ = (
        UniqueConstraint("methodology_id", "code"),
        Index("ix_methodology_component_parent", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    methodology_id: Mapped[int] = mapped_column(ForeignKey("methodology.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("methodology_component.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    group_code: Mapped[str | None] = mapped_column(String(64))  # e.g. foundation, activity
    pillar_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitoring_pillar.id", ondelete="RESTRICT")
    )
    indicator_id: Mapped[int | None] = mapped_column(
        ForeignKey("indicator.id", ondelete="RESTRICT")
    )
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    max_points: Mapped[float] = mapped_column(Float)
    scoring: Mapped[Scoring] = mapped_column(value_enum(Scoring, "scoring"))
    reference_value: Mapped[float | None] = mapped_column(Float)  # for ratio scoring
    # For threshold scoring: [{"min": bound, "points": p}, ...] (higher-better: the highest
    # band whose min <= value) or [{"max": bound, "points": p}, ...] (lower-better: the
    # lowest band whose max >= value); no band reached gives 0 points.
    thresholds: Mapped[list[Any] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SubmissionState(enum.StrEnum):
    """A unit's report for a period: sent for review, accepted, or sent back. With no row the
    report is a draft its unit's officers may change."""

    SUBMITTED = "submitted"  # đã gửi, chờ duyệt
    APPROVED = "approved"  # đã duyệt
    RETURNED = "returned"  # trả lại để sửa


class ReportSubmission(TimestampMixin, Base):
    """A unit's values for one period sent to the unit above for review. While submitted or
    approved, the unit's values of that period cannot be changed by any path."""

    __tablename__ = "monitoring_submission"
    __table_args__ = (UniqueConstraint("unit_id", "period", name="uq_monitoring_submission"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="RESTRICT"))
    period: Mapped[str] = mapped_column(String(10))
    state: Mapped[SubmissionState] = mapped_column(
        value_enum(SubmissionState, "monitoring_submission_state")
    )
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UnitBoundary(Base):
    """A unit's boundary for the maps: its GeoJSON geometry simplified for two zoom levels,
    uploaded by an operator or synthetic (a Voronoi cell around the unit's centroid,
    labelled as such). The unit (of either set) is the row's unit id."""

    __tablename__ = "monitoring_unit_boundary"
    __table_args__ = (UniqueConstraint("unit_id", name="uq_monitoring_unit_boundary_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("administrative_unit.id", ondelete="CASCADE"))
    geometry: Mapped[str] = mapped_column(Text)  # simplified for a province's communes
    # Simplified further, for the map of the whole country (None before migration 0037).
    geometry_overview: Mapped[str | None] = mapped_column(Text)
    # The geometry's bounding box, to find the boundaries that may hold a point.
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(300))  # the uploaded file's name, or "synthetic"
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# What the computed figures (indicator values, rankings, plan progress, the composite index)
# are made of: a commit writing any of these moves the generation on, and the figures kept by
# ``progress/service.py`` are computed again (``core.generations``).
FIGURES_GENERATION = "monitoring"
watch(
    FIGURES_GENERATION,
    Pillar,
    DataElement,
    Indicator,
    Plan,
    Target,
    DataValue,
    DataValueCorrection,
    Methodology,
    MethodologyComponent,
)

# The stored unit boundaries a map draws (``maps/boundaries.py`` keeps them parsed).
BOUNDARIES_GENERATION = "monitoring-boundaries"
watch(BOUNDARIES_GENERATION, UnitBoundary)
