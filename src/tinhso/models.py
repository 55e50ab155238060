"""Every domain's tables, imported in one place for Alembic and drift checks."""

from tinhso.core import models as core_models
from tinhso.core.db import Base
from tinhso.core.jobs import models as core_job_models
from tinhso.exchange import models as exchange_models
from tinhso.monitoring import models as monitoring_models
from tinhso.monitoring.alerts import models as monitoring_alert_models
from tinhso.monitoring.collection import models as monitoring_collection_models
from tinhso.monitoring.dashboards import models as monitoring_dashboard_models
from tinhso.opendata import models as opendata_models
from tinhso.registry import models as registry_models
from tinhso.reports import models as reports_models

metadata = Base.metadata

__all__ = [
    "core_job_models",
    "core_models",
    "exchange_models",
    "metadata",
    "monitoring_alert_models",
    "monitoring_collection_models",
    "monitoring_dashboard_models",
    "monitoring_models",
    "opendata_models",
    "registry_models",
    "reports_models",
]
