"""One typed settings object, read once from ``QUIETSHOP_*`` environment variables.

``load_settings()`` is the one place a running shop builds it (the CLI, every server
worker, the mail worker); tests construct ``Settings(...)`` directly.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Written by `quietshop demo` into its data dir: every process that reads that data dir
# (the server, `quietshop mail ...` from another shell) then runs as the demo and builds
# links from the same base URL, with the key generated into the same folder.
DEMO_MARKER = "demo.json"
MIN_SECRET_KEY_CHARS = 32


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
    # The demo: generated key, certificate and local mail server are fine. Off, the secret
    # key and the public base URL must be configured (checked at start-up).
    demo: bool = False
    # Signs unsubscribe links and seals queued mail links; in the demo generated into
    # data_dir/secret.key when empty.
    secret_key: SecretStr = Field(SecretStr(""), description="At least 32 characters.")
    # Request bodies above this many bytes are refused with 413 before they are read.
    max_request_body_bytes: int = Field(64 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Mail (P4): the sender's SMTP server and the outbox rules.
    mail_from: str = "Quietshop <shop@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=1, le=65535)
    smtp_security: Literal["plain", "starttls", "tls"] = "plain"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = Field(10.0, gt=0, le=300)
    smtp_ca_file: Path | None = Field(None, description="Trust this CA for the SMTP server.")
    mail_max_body_bytes: int = Field(256 * 1024, ge=1024)
    mail_max_attempts: int = Field(8, ge=1, le=50)
    mail_retry_base_seconds: float = Field(30.0, ge=0)
    mail_claim_lease_seconds: float = Field(300.0, gt=0)
    # The demo's local SMTP server, which keeps what it receives as a Maildir in data_dir/mail.
    local_smtp: bool = False
    # serve also runs the mail sender in-process (the embedded default).
    send_mail_in_process: bool = True
    # Customer sign-in (P7-like rules for customers, P8).
    token_idle_minutes: float = Field(30, gt=0)
    token_absolute_hours: float = Field(12, gt=0)
    sign_in_max_failures: int = Field(10, ge=1)
    sign_in_lock_minutes: float = Field(30, gt=0)
    # Per client address, kept in memory only and never next to an account (P5).
    sign_in_attempts_per_address: int = Field(30, ge=1)
    sign_in_address_window_seconds: float = Field(600, gt=0)
    # Tests set this so a Set-Cookie raises instead of being stripped and logged.
    strict_privacy_guard: bool = False
    access_log_enabled: bool = True
    # Days a day's rotated access log (raw addresses and all) is kept before serve deletes
    # it (P5, issue 10): access.log.YYYY-MM-DD goes once that day is more than this old.
    access_log_retention_days: int = Field(30, ge=1, le=3650)
    # Proxies in front whose X-Forwarded-For is believed (addresses or networks, comma
    # separated: "10.0.0.0/8, fd00::/8"). Empty: the header is ignored, the client is the
    # peer. From anyone else it is ignored too: anyone can send it (web/forwarded.py).
    trusted_proxies: str = Field("", max_length=2000)
    # Traffic analytics (issue 10). This node's name in the aggregates: each node counts
    # its own log and replaces only its own rows (empty: the machine's host name).
    analytics_node: str = Field("", max_length=64)
    # A breakdown's cell counting fewer visitors than this is shown as "fewer than k" and
    # folded into "other", so no report singles anyone out.
    analytics_min_visitors: int = Field(5, ge=2, le=1000)
    # serve ingests its own access log this often.
    analytics_ingest_minutes: float = Field(5, gt=0, le=24 * 60)
    # Orders and payments (P8). "manual": billing staff take the card on their own terminal
    # and record the answer; "simulator": deterministic test cards, no money moves (demo).
    payment_processor: Literal["manual", "simulator"] = "manual"
    # Hours a card number is kept once its payment is captured (0: purged at capture).
    card_purge_hours_after_capture: float = Field(0, ge=0, le=24 * 30)
    # Catalog prices are what the customer pays, tax included (as EU shops show them).
    prices_include_tax: bool = True
    # Idempotency-Key answers are replayed for this long (the draft asks for at least 24 h).
    idempotency_key_hours: float = Field(24, ge=24, le=24 * 30)
    # A guest's mailed order link works this long.
    order_link_days: int = Field(60, ge=1, le=365)
    # Tax law keeps invoices (billing name, address, lines, totals) this long after an
    # order, even once the customer's account is closed; then they are erased as well.
    order_retention_days: int = Field(3650, ge=0, le=36500)
    # Product questions and quote requests are kept this long, then deleted.
    info_request_retention_days: int = Field(90, ge=1, le=3650)
    # Orders placed at once per server process. More only queue for the database (SQLite
    # takes one writer at a time) while holding the GIL away from the event loop that
    # answers every cached page; the rest wait their turn without a thread.
    order_threads: int = Field(4, ge=1, le=64)
    # Staff sessions (P7, PCI DSS 8.2.8): a session idle this long locks until the password
    # is typed again; more than 15 minutes is refused when the settings load.
    staff_idle_lock_minutes: float = Field(15, gt=0, le=15)
    # A staff session ends this long after its sign-in, whatever happens (P7: 12 hours).
    staff_session_hours: float = Field(12, gt=0, le=12)
    # An enrolment link (`quietshop staff add`) works this long.
    staff_enrolment_hours: float = Field(72, gt=0, le=24 * 14)
    # An audit entry committed and still not sealed after this long fails `quietshop audit
    # verify`: `serve` seals within seconds, so the sealer is down or the entry held back.
    audit_unsealed_limit_minutes: float = Field(5, gt=0, le=24 * 60)
    # A product picture uploaded in the back office may be this large (PNG, JPEG or WebP;
    # catalog/images.py); the route's body limit, 32 MiB, is the ceiling.
    catalog_image_max_bytes: int = Field(5 * 1024 * 1024, ge=64 * 1024, le=32 * 1024 * 1024)
    # A catalog file imported through the back office may be this large (the command line
    # takes any size, up to catalog/csv_io.py's row limit); 256 MiB is the ceiling.
    catalog_import_max_bytes: int = Field(32 * 1024 * 1024, ge=1024 * 1024, le=256 * 1024 * 1024)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'quietshop.db').as_posix()}"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for proxy in _listed(value):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {proxy!r}") from None
        return value

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return _listed(self.trusted_proxies)

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
    def analytics_dir(self) -> Path:
        """The node's ingestion state: positions and the recent days' pageviews (no address)."""
        return self.data_dir / "analytics"

    @property
    def analytics_node_name(self) -> str:
        return self.analytics_node or socket.gethostname()[:64] or "node"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def keyring_path(self) -> Path:
        """The card data keys (P8): outside the database, readable by the shop's user only."""
        return self.data_dir / "keyring.json"

    def start_up_problems(self) -> list[str]:
        """What must be set before a real shop starts, one line each (empty: all is well)."""
        problems = []
        key = self.secret_key.get_secret_value()
        if key and len(key) < MIN_SECRET_KEY_CHARS:
            problems.append(
                f"QUIETSHOP_SECRET_KEY has {len(key)} characters; it needs at least "
                f"{MIN_SECRET_KEY_CHARS}"
            )
        if not self.demo and not key:
            problems.append(
                "QUIETSHOP_SECRET_KEY is not set: give every node the same random value "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.public_base_url:
            parts = urlsplit(self.public_base_url)
            if parts.scheme != "https" or not parts.hostname or parts.path.strip("/"):
                problems.append(
                    "QUIETSHOP_PUBLIC_BASE_URL must look like https://shop.example "
                    f"(got {self.public_base_url!r})"
                )
        elif not self.demo:
            problems.append(
                "QUIETSHOP_PUBLIC_BASE_URL is not set: links in mail need the address "
                "customers reach the shop at, e.g. https://shop.example"
            )
        if self.smtp_username and not self.smtp_password.get_secret_value():
            problems.append("QUIETSHOP_SMTP_USERNAME is set but QUIETSHOP_SMTP_PASSWORD is not")
        return problems

    def serving_problems(self) -> list[str]:
        """``start_up_problems``, and what serving the shop needs besides: the keyring."""
        problems = self.start_up_problems()
        if not self.demo and not self.keyring_path.exists():
            problems.append(
                f"the card keyring {self.keyring_path} is missing: create it once with "
                "`quietshop keys init` (and back it up apart from the database)"
            )
        return problems

    @property
    def demo_marker(self) -> Path:
        return self.data_dir / DEMO_MARKER

    @property
    def base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "localhost" if self.bind_host in ("127.0.0.1", "0.0.0.0", "::") else self.bind_host  # noqa: S104
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{host}{port}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, joined with the demo's marker if its data dir has one."""
    settings = Settings(**overrides)
    marker = _demo_marker(settings.demo_marker)
    if marker is None:
        return settings
    update: dict[str, Any] = {
        "demo": True,
        "public_base_url": settings.public_base_url or marker.get("public_base_url", ""),
    }
    if "payment_processor" not in settings.model_fields_set:
        update["payment_processor"] = "simulator"  # the demo takes test cards only
    return settings.model_copy(update=update)


def _demo_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # a damaged marker still says "this is the demo"
    return data if isinstance(data, dict) else {}


def write_demo_marker(settings: Settings) -> None:
    """Mark the data dir as the demo's, with the base URL its links use."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "public_base_url": settings.base_url,
        "note": "This data directory belongs to the Quietshop demo (quietshop demo).",
    }
    settings.demo_marker.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _listed(value: str) -> tuple[str, ...]:
    """A comma-separated setting's entries, stripped, empty ones dropped."""
    return tuple(entry.strip() for entry in value.split(",") if entry.strip())
