"""Every domain's tables on one metadata, for Alembic and the drift check."""

from quietshop.catalog import models as catalog_models
from quietshop.db import Base
from quietshop.privacy import models as privacy_models

metadata = Base.metadata

__all__ = ["catalog_models", "metadata", "privacy_models"]
