"""Every domain's tables on one metadata, for Alembic and the drift check."""

from quietshop.accounts import models as accounts_models
from quietshop.analytics import models as analytics_models
from quietshop.audit import models as audit_models
from quietshop.catalog import models as catalog_models
from quietshop.db import Base
from quietshop.mail import models as mail_models
from quietshop.orders import models as orders_models
from quietshop.payments import models as payments_models
from quietshop.privacy import models as privacy_models
from quietshop.shop_pages import models as shop_pages_models
from quietshop.staff import models as staff_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "analytics_models",
    "audit_models",
    "catalog_models",
    "mail_models",
    "metadata",
    "orders_models",
    "payments_models",
    "privacy_models",
    "shop_pages_models",
    "staff_models",
]
