"""One typed settings object, read once from ``QUIETSHOP_*`` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the shop needs to know about where and how it runs."""

    model_config = SettingsConfigDict(env_prefix="QUIETSHOP_", extra="ignore", frozen=True)

    data_dir: Path = Field(Path("./var"), description="Database, certificates, images, logs.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    bind_host: str = "127.0.0.1"
    https_port: int = Field(8443, ge=1, le=65535)
    http_port: int = Field(8080, ge=0, le=65535, description="0 disables the redirect port.")
    tls_cert: Path | None = Field(None, description="PEM certificate chain; generated if unset.")
    tls_key: Path | None = Field(None, description="PEM private key; generated if unset.")
    public_base_url: str = Field("", description="e.g. https://shop.example; derived if empty.")
    shop_name: str = "Quietshop"
    shop_postal_address: str = "1 Quiet Lane, Springfield, 12345, USA"
    currency: str = Field("USD", min_length=3, max_length=3)
    page_cache_max_age: int = Field(60, ge=0, description="Seconds a browser may reuse a page.")
    catalog_version_check_interval: float = Field(
        0.5, ge=0, description="Seconds between checks of the shared catalog version."
    )
    page_cache_enabled: bool = Field(True, description="Keep public pages in memory.")
    # Tests set this so a Set-Cookie raises instead of being stripped and logged.
    strict_privacy_guard: bool = False
    access_log_enabled: bool = True

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'quietshop.db').as_posix()}"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def access_log_path(self) -> Path:
        return self.log_dir / "access.log"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.bind_host in ("127.0.0.1", "0.0.0.0", "::") else self.bind_host  # noqa: S104
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{host}{port}"
