"""API shapes of the monitoring domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tinhso.core.errors import InvalidInput
from tinhso.core.text import MultiLine, SingleLine
from tinhso.monitoring.models import (
    Aggregation,
    Comparison,
    Direction,
    Normalisation,
    PeriodAggregation,
    PeriodType,
    Scoring,
    ValueSource,
    ValueType,
)
from tinhso.monitoring.periods import parse_period
from tinhso.registry.models import UnitLevel, UnitSet
from tinhso.registry.schemas import UnitRef
from tinhso.registry.unit_catalogue import CURRENT_VALID_FROM

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$"),
    Field(description="Lower-case code: letters, digits, '.', '_' or '-' (2-64 characters)"),
]
# Element codes appear in formulas, so they are identifiers.
ElementCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,63}$"),
    Field(description="Lower-case identifier: letters, digits and '_' (2-64 characters)"),
]
# Every text field refuses control characters (`tinhso.core.text`); notes and comments
# may hold tabs and line breaks.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300), SingleLine
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500), SingleLine
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), SingleLine
]
LongText = Annotated[str, StringConstraints(max_length=8000), MultiLine]
Reference = Annotated[str, StringConstraints(max_length=8000), SingleLine]
FormulaText = Annotated[str, StringConstraints(min_length=1, max_length=2000), MultiLine]
PeriodCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=10)]
Year = Annotated[int, Field(ge=1990, le=2100)]
Tree = Literal["legacy", "current"]
# How a computed value was obtained; "recorded_over_legacy": recorded under the current unit
# while values of the legacy units for the same period exist too (the recorded one is shown).
BasisName = Literal["recorded", "aggregated", "reaggregated", "recorded_over_legacy"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PillarCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    position: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0  # an INTEGER column


class PillarOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    position: int


class ElementCreate(Strict):
    code: ElementCode
    name_vi: Name
    name_en: Name | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    unit_of_measure: Short
    unit_of_measure_en: Short | None = None
    value_type: ValueType
    aggregation: Aggregation
    weight_element_code: ElementCode | None = None
    period_type: PeriodType
    period_aggregation: PeriodAggregation = Field(
        default=PeriodAggregation.NONE,
        description="How values of shorter periods make up a longer one (sum, average, last)",
    )
    min_value: float | None = None
    max_value: float | None = None
    non_negative: bool = Field(default=False, description="Negative values are refused")
    allows_estimates: bool = Field(
        default=False,
        description="Values may be given for periods that have not ended (estimates)",
    )


class ElementUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    unit_of_measure: Short | None = None
    unit_of_measure_en: Short | None = None
    aggregation: Aggregation | None = None
    weight_element_code: ElementCode | None = None
    period_aggregation: PeriodAggregation | None = None
    min_value: float | None = None
    max_value: float | None = None
    non_negative: bool | None = None
    allows_estimates: bool | None = None


class ElementOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    description_vi: str | None
    description_en: str | None
    unit_of_measure: str
    unit_of_measure_en: str | None
    value_type: ValueType
    aggregation: Aggregation
    weight_element_code: str | None
    period_type: PeriodType
    period_aggregation: PeriodAggregation
    min_value: float | None
    max_value: float | None
    non_negative: bool
    allows_estimates: bool


class IndicatorCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    formula: FormulaText
    unit_of_measure: Short
    unit_of_measure_en: Short | None = None
    direction: Direction = Direction.HIGHER_BETTER
    pillar_code: Code | None = None
    decimals: Annotated[int, Field(ge=0, le=6)] = 2
    open_data_publisher: Code | None = Field(
        default=None,
        description="Organisation code that publishes the indicator's values as open data",
    )


class IndicatorUpdate(Strict):
    name_vi: Name | None = None
    name_en: Name | None = None
    description_vi: LongText | None = None
    description_en: LongText | None = None
    formula: FormulaText | None = None
    unit_of_measure: Short | None = None
    unit_of_measure_en: Short | None = None
    direction: Direction | None = None
    pillar_code: Code | None = None
    decimals: Annotated[int, Field(ge=0, le=6)] | None = None
    open_data_publisher: Code | None = None


class IndicatorOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    description_vi: str | None
    description_en: str | None
    formula: str
    elements: list[str]
    unit_of_measure: str
    unit_of_measure_en: str | None
    direction: Direction
    pillar_code: str | None
    decimals: int
    open_data_publisher: str | None = None


class RuleCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    left_expression: FormulaText
    comparison: Comparison
    right_expression: FormulaText


class RuleOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    left_expression: str
    comparison: Comparison
    right_expression: str


class PlanCreate(Strict):
    code: Code
    number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
    ]
    kind: Short = "plan"
    title_vi: Title
    title_en: Title | None = None
    issuing_body: Name
    issued_on: date | None = None
    legal_reference: LongText | None = None
    start_year: Year | None = None
    end_year: Year | None = None
    source_reference: LongText | None = None
    organisation_code: Code | None = None


class PlanUpdate(Strict):
    number: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
        ]
        | None
    ) = None
    kind: Short | None = None
    title_vi: Title | None = None
    title_en: Title | None = None
    issuing_body: Name | None = None
    issued_on: date | None = None
    legal_reference: LongText | None = None
    start_year: Year | None = None
    end_year: Year | None = None
    source_reference: LongText | None = None


class PlanOut(BaseModel):
    code: str
    number: str
    kind: str
    title_vi: str
    title_en: str | None
    issuing_body: str
    issued_on: date | None
    legal_reference: str | None
    start_year: int | None
    end_year: int | None
    source_reference: str | None
    organisation_code: str | None
    targets: int


class TargetCreate(Strict):
    indicator_code: Code
    scope_unit: UnitRef | None = Field(
        default=None, description="One unit; with scope_level, the units of that level below it"
    )
    scope_unit_set: UnitSet = UnitSet.CURRENT
    scope_level: UnitLevel | None = None
    year: Year
    comparison: Comparison | None = None
    target_value: float | None = None
    target_low: float | None = None
    target_high: float | None = None
    baseline_value: float | None = None
    baseline_year: Year | None = None
    note: LongText | None = None
    source_reference: LongText | None = None


class TargetOut(BaseModel):
    id: int
    plan_code: str
    indicator_code: str
    scope_unit: UnitRef | None
    scope_unit_set: UnitSet
    scope_level: UnitLevel | None
    year: int
    comparison: Comparison | None
    target_value: float | None
    target_low: float | None
    target_high: float | None
    baseline_value: float | None
    baseline_year: int | None
    note: str | None
    source_reference: str | None


class ValueIn(Strict):
    element_code: ElementCode
    unit: UnitRef
    period: PeriodCode
    # Checked against the element's value type by the service, so that a wrong type is
    # reported with the value and the rule (not as a generic parsing error).
    value: float | int | bool | str
    qualifier: Literal["nearly", "over", "approximately", "under"] | None = None
    source: ValueSource = ValueSource.FORM
    source_reference: Reference | None = None
    audit_record_id: Annotated[str, StringConstraints(max_length=64), SingleLine] | None = None
    comment: LongText | None = Field(
        default=None,
        description="A note on the value; on a stored value, null keeps it and '' clears it",
    )
    reason: LongText | None = Field(
        default=None, description="Why an existing value is being corrected"
    )

    @model_validator(mode="before")
    @classmethod
    def _unit_set_follows_period(cls, data: Any) -> Any:
        """A unit without its set is in the set of its period: legacy before 01/07/2025,
        current after (codes repeat between the sets, so it is never guessed as current)."""
        if not isinstance(data, dict):
            return data
        unit, period = data.get("unit"), data.get("period")
        if isinstance(unit, dict) and "unit_set" not in unit and isinstance(period, str):
            try:
                ended = parse_period(period).end
            except InvalidInput:
                return data  # the service reports the period
            unit_set = UnitSet.LEGACY if ended < CURRENT_VALID_FROM else UnitSet.CURRENT
            return {**data, "unit": {**unit, "unit_set": unit_set.value}}
        return data


class ValueBatch(Strict):
    values: Annotated[list[ValueIn], Field(min_length=1, max_length=5000)]


class ValueCorrection(Strict):
    value: float | int | bool | str
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000), MultiLine
    ]
    qualifier: Literal["nearly", "over", "approximately", "under"] | None = None
    source: ValueSource = ValueSource.FORM
    source_reference: Reference | None = None
    comment: LongText | None = Field(
        default=None, description="The value's note: null keeps it, '' clears it"
    )


class ValueOut(BaseModel):
    id: int
    element_code: str
    unit: UnitRef
    period: str
    value: float
    qualifier: str | None
    source: ValueSource
    source_reference: str | None
    audit_record_id: str | None
    comment: str | None
    entered_by: str | None
    entered_at: datetime
    version: int


class BatchResult(BaseModel):
    inserted: int
    corrected: int
    unchanged: int


class CorrectionOut(BaseModel):
    version: int
    previous_value: float
    previous_source: ValueSource
    previous_source_reference: str | None
    previous_audit_record_id: str | None
    previous_entered_by: str | None
    previous_entered_at: datetime
    new_value: float
    corrected_by: str | None
    corrected_at: datetime
    reason: str | None


class ComputedValue(BaseModel):
    model_config = ConfigDict(frozen=True)  # kept and shared (progress.service.FIGURES)

    indicator_code: str
    unit: UnitRef
    unit_name: str
    period: str
    value: float | None
    basis: BasisName


class TreeNote(BaseModel):
    tree: Tree
    note_vi: str
    note_en: str


class ComputedPage(TreeNote):
    items: list[ComputedValue]
    total: int
    limit: int
    offset: int


class RankedUnit(BaseModel):
    model_config = ConfigDict(frozen=True)  # kept and shared (progress.service.FIGURES)

    rank: int
    unit: UnitRef
    unit_name: str
    value: float
    basis: BasisName


class RankingPage(TreeNote):
    indicator_code: str
    direction: Direction
    period: str
    items: list[RankedUnit]
    total: int
    limit: int
    offset: int


TrajectoryStatus = Literal[
    "achieved", "on_track", "behind", "not_achieved", "insufficient_data", "no_data"
]


class Achievement(BaseModel):
    model_config = ConfigDict(frozen=True)  # kept and shared (progress.service.FIGURES)

    target_id: int
    indicator_code: str
    indicator_name_vi: str
    direction: Direction
    unit: UnitRef
    unit_name: str
    year: int
    comparison: Comparison
    goal: float
    target_value: float | None
    target_low: float | None
    target_high: float | None
    baseline_value: float | None
    baseline_period: str | None
    baseline_inferred: bool
    actual: float | None
    actual_period: str | None
    expected_now: float | None = Field(description="The straight line's value at actual_period")
    achievement_percent: float | None
    status: TrajectoryStatus
    status_vi: str
    status_en: str


class PlanProgress(TreeNote):
    plan_code: str
    plan_number: str
    as_of_year: int | None
    items: list[Achievement]
    total: int
    limit: int
    offset: int


class ComponentIn(Strict):
    code: Code
    parent_code: Code | None = None
    name_vi: Name
    name_en: Name | None = None
    group_code: Short | None = None
    pillar_code: Code | None = None
    indicator_code: Code | None = None
    weight: Annotated[float, Field(ge=0)] = 1.0
    max_points: Annotated[float, Field(ge=0)]
    scoring: Scoring = Scoring.SUM
    reference_value: Annotated[float, Field(gt=0)] | None = None
    thresholds: list[dict[Literal["min", "max", "points"], float]] | None = None


class MethodologyCreate(Strict):
    code: Code
    name_vi: Name
    name_en: Name | None = None
    legal_reference: LongText | None = None
    issuing_body: Name | None = None
    issued_on: date | None = None
    unit_level: UnitLevel = UnitLevel.PROVINCE
    normalisation: Normalisation = Normalisation.NONE
    max_points: Annotated[float, Field(gt=0)]
    components: Annotated[list[ComponentIn], Field(min_length=1, max_length=1000)]


class ComponentOut(BaseModel):
    code: str
    parent_code: str | None
    name_vi: str
    name_en: str | None
    group_code: str | None
    pillar_code: str | None
    indicator_code: str | None
    weight: float
    max_points: float
    scoring: Scoring
    reference_value: float | None
    thresholds: list[dict[str, float]] | None


class MethodologyOut(BaseModel):
    code: str
    name_vi: str
    name_en: str | None
    legal_reference: str | None
    issuing_body: str | None
    issued_on: date | None
    unit_level: UnitLevel
    normalisation: Normalisation
    max_points: float
    components: list[ComponentOut]


class PillarScore(BaseModel):
    model_config = ConfigDict(frozen=True)  # kept and shared (progress.service.FIGURES)

    code: str
    name_vi: str
    name_en: str | None
    points: float
    max_points: float


class UnitIndex(BaseModel):
    model_config = ConfigDict(frozen=True)  # kept and shared (progress.service.FIGURES)

    rank: int
    unit: UnitRef
    unit_name: str
    total: float
    normalised: float | None
    components_with_data: int
    pillars: list[PillarScore]


class IndexPage(TreeNote):
    methodology_code: str
    period: str
    max_points: float
    normalisation: Normalisation
    items: list[UnitIndex]
    total: int
    limit: int
    offset: int
