"""The imports run one way (design.md, "Architecture"), checked on the source itself.

Every ``.py`` under ``src/quietshop`` is parsed with ``ast``; none is imported, so neither
an import cycle nor an import with side effects can hide a violation. Four rules, one test
each, and each failure names the file, the line and the rule:

1. No import runs uphill: cli -> app -> domains -> web/, db, console, signing -> settings,
   clock, errors. Two units on one floor import each other only as ``SAME_FLOOR_IMPORTS``
   lists.
2. A domain reaches another domain only through a seam listed in ``CROSS_DOMAIN_SEAMS``
   (another domain's ``service``), or through privacy's declaration helpers.
3. ``web/`` imports no domain.
4. A route (a domain's ``api.py`` / ``pages.py``), ``cli.py`` and every ``commands.py``
   build no query: no sqlalchemy statement, no session call, no models module.

Each rule also has a test that feeds its checker a few lines breaking it, so a checker
that has stopped seeing anything fails instead of passing quietly.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "quietshop"

# Business domains, today's and those design.md plans. A domain is a package quietshop.<name>.
DOMAINS = (
    "catalog",
    "accounts",
    "mail",
    "privacy",
    "orders",
    "payments",
    "staff",
    "audit",
    "analytics",
    "documents",
    "shop_pages",
)
DOMAIN_UNITS = frozenset(f"quietshop.{name}" for name in DOMAINS)

# The floors, top to bottom. A unit is a top-level module or package of quietshop; a
# module may import its own unit and any unit on a lower floor. A unit on no floor fails
# rule 1: place it on purpose.
FLOORS: tuple[tuple[str, frozenset[str]], ...] = (
    # Nothing imports the command.
    ("cli", frozenset({"quietshop.cli"})),
    # Assembly, the only code that knows every domain. Only cli imports app (and then by
    # the string "quietshop.app:app_from_environment" it hands granian). quietshop.models
    # gathers every domain's tables on one metadata for Alembic and the drift test; it
    # sits here because it imports every domain's models, and nothing in src imports it.
    ("app", frozenset({"quietshop.app", "quietshop.models"})),
    # Imports between two domains are rule 2's.
    ("domains", DOMAIN_UNITS),
    # The ground floor: HTTP tools, the database, the command-line console, the shop's
    # key. keyring.py is not written yet; design.md puts it here (payments and staff use it).
    (
        "ground floor",
        frozenset(
            {
                "quietshop.web",
                "quietshop.db",
                "quietshop.console",
                "quietshop.signing",
                "quietshop.keyring",
                # serve's periodic jobs (housekeeping, salts, log retention) share its loop.
                "quietshop.periodic",
            }
        ),
    ),
    # The base. "quietshop" is the package's own __init__ (``__version__``).
    (
        "base",
        frozenset(
            {
                "quietshop.settings",
                "quietshop.clock",
                "quietshop.errors",
                "quietshop.check_digits",
                "quietshop",
            }
        ),
    ),
)
FLOOR_OF = {unit: index for index, (_, units) in enumerate(FLOORS) for unit in units}
FLOOR_NAMES = [name for name, _ in FLOORS]

# (importer, imported) for two units on the same floor, other than two domains.
SAME_FLOOR_IMPORTS: dict[tuple[str, str], str] = {
    ("quietshop.web", "quietshop.db"): "web.dependencies.write_session is db.transaction()",
    # Nothing else. In particular settings, clock and errors import nothing from quietshop
    # today, not even each other (nor does the package __init__): keep the base that flat.
    # console, signing and db import only the base.
}

# Every import from one domain into another domain's service, on purpose:
# (importing domain, imported module) -> why. Only a ``service`` module belongs here, and
# mail and privacy, which the others build on, import no other domain's service.
CROSS_DOMAIN_SEAMS: dict[tuple[str, str], str] = {
    ("accounts", "quietshop.mail.service"): (
        "account mail (verification, reset, address change, goodbye) is queued in the "
        "account's own transaction, and accounts tell mail of every opt-in change: mail "
        "owns the subscription row (design.md)"
    ),
    ("orders", "quietshop.accounts.service"): (
        "an order copies its buyer (a signed-in customer, or a guest record made at "
        "checkout) and its addresses checked by the address book's per-country rules"
    ),
    ("orders", "quietshop.accounts.auth"): (
        "orders' routes need the signed-in customer: the bearer-token dependency lives "
        "with its owner (design.md), and is the accounts domain's HTTP door"
    ),
    ("orders", "quietshop.catalog.service"): (
        "checkout prices lines at today's catalog prices and takes stock atomically in "
        "the order's own transaction"
    ),
    ("orders", "quietshop.mail.service"): (
        "every order move that concerns the customer queues its mail in the same "
        "transaction (P4: order updates)"
    ),
    ("orders", "quietshop.payments.service"): (
        "placing authorises the card, shipping captures it, cancelling voids it: one "
        "transaction with the order; the card's erasure rows are declared by payments"
    ),
    ("staff", "quietshop.audit.service"): (
        "every staff read of personal data, change, refusal, sign-in, lock and card reveal "
        "is appended to the audit chain, a change in its own transaction (P6, PCI DSS 10.2)"
    ),
    ("staff", "quietshop.analytics.service"): (
        "the Traffic screen shows analytics' report, counts only, for the roles that view "
        "aggregates (P5)"
    ),
    ("staff", "quietshop.privacy.service"): (
        "the owner publishes policy versions, which are privacy's rows (never edited), and "
        "staff acknowledge the current version of each kind (P7)"
    ),
    ("staff", "quietshop.mail.service"): (
        "a publication and each quarter remind every staff member (purpose account), and a "
        "new privacy policy queues the policy_change notice to every customer (P4); the "
        "back office reads the outbox and the demo's captured mail, link tokens cut out"
    ),
    ("staff", "quietshop.accounts.service"): (
        "the customers a new privacy policy is told to, page by page: accounts decide who "
        "is still a customer to tell (closed accounts are not); customer service's lookup, "
        "a customer's record, the caller's postcode and edits by accounts' own rules"
    ),
    ("staff", "quietshop.catalog.service"): (
        "a new privacy policy drops the cached public pages through the catalog's change "
        "log, the one log every process's page cache reads; and the back office manages "
        "the catalog (products, variants, categories, pictures, the CSV file) through the "
        "catalog's own rules, which record what each change drops (service.admin, "
        ".csv_io, .images)"
    ),
    ("staff", "quietshop.orders.service"): (
        "the back office's order screens: the queue and an order as row mappings the "
        "need-to-know table cuts per role, and the shop's moves (pack, ship, refund...) "
        "with the staff member as actor, each in one transaction with its audit entry; "
        "customer service's view of a customer's orders, their postcodes, and the questions; "
        "the owner's rate tables (shipping, tax, discount codes) to edit"
    ),
    ("orders", "quietshop.audit.service"): (
        "an edit of a rate table (shipping, tax, discount codes) is a change in the audit "
        "chain naming the staff member, appended in the edit's own transaction (P6)"
    ),
    ("staff", "quietshop.shop_pages.service"): (
        "the owner edits the contact, shipping and returns pages in the back office "
        "through shop_pages' own rules (limits, the stale-save check)"
    ),
    ("shop_pages", "quietshop.audit.service"): (
        "an edit of a shop page is a change in the audit chain naming the staff member, "
        "appended in the edit's own transaction (P6)"
    ),
    ("shop_pages", "quietshop.catalog.service"): (
        "an edit drops the cached page in every process through the catalog's change log, "
        "the one log every page cache reads (a whole-site change, as a new privacy policy)"
    ),
    ("shop_pages", "quietshop.orders.service"): (
        "the shipping page lists the active shipping rates checkout charges, read through "
        "the orders domain's own published view (no ids, no inactive rows)"
    ),
    ("accounts", "quietshop.audit.service"): (
        "a customer sees every staff access to their data in the account, and takes it "
        "with the data export: their own share of the audit chain, never who (item 4)"
    ),
}
# The one door other than a service: a domain's bearer-token dependency (HTTP), which
# design.md keeps with the domain that owns the token. staff.auth is the back office's:
# other domains' staff routes reach the signed-in staff member through it (issue 9).
AUTH_DOORS = frozenset({"quietshop.accounts.auth", "quietshop.staff.auth"})
BOTTOM_DOMAINS = frozenset({"mail", "privacy", "audit"})

# Every domain may declare its personal columns and hand privacy its share of a customer's
# data with privacy's declaration helpers (design.md: personal data is declared once, on
# the columns; each domain contributes its rows at assembly). By name, so that the seam
# stays these few names and no domain reaches the rest of privacy/.
PERSONAL_DATA = "quietshop.privacy.personal_data"
DECLARATION_HELPERS = frozenset(
    {"personal", "SubjectRows", "DataSubject", "PersonalDataRegistry", "scrubbed_values"}
)

# Rule 4: what a route, a command or the CLI must not call.
QUERY_BUILDERS = frozenset({"select", "update", "delete", "insert", "text"})
SESSION_METHODS = frozenset(
    {
        "execute",
        "query",
        "get",
        "add",
        "add_all",
        "delete",
        "merge",
        "scalar",
        "scalars",
        "exec_driver_sql",
    }
)
# A receiver is a session when one of the names it is reached through says so
# (session, sessions(), connection, conn, engine), when a ``with`` bound it from such a
# call (``with read_session(request) as s``), or when it is annotated Session/Connection.
_SESSIONISH = re.compile(r"session|conn|engine|transaction", re.IGNORECASE)
_SESSION_TYPES = frozenset({"Session", "AsyncSession", "Connection", "AsyncConnection", "Engine"})

RULES = {
    1: "imports run downhill",
    2: "a domain reaches another only through its service",
    3: "web/ imports no domain",
    4: "a route builds no query",
}


# ---------------------------------------------------------------- reading the source


@dataclass(frozen=True)
class Module:
    name: str  # quietshop.accounts.api; a package is named by its __init__
    path: str  # as shown in a failure: src/quietshop/accounts/api.py
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.endswith("__init__.py")


@dataclass(frozen=True)
class Import:
    module: Module
    line: int
    target: str  # the module imported: quietshop.mail.service
    name: str | None  # the name taken from it (from X import name), or None for all of X


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    rule: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: rule {self.rule} ({RULES[self.rule]}): {self.message}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_package() -> list[Module]:
    return [
        Module(module_name(path), str(path.relative_to(REPO)), ast.parse(path.read_text(), path))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def synthetic(name: str, source: str) -> Module:
    """A module that exists only in a test, named as if it were in the package."""
    *package, last = name.split(".")
    path = "/".join(["src", *package, "__init__.py" if last == "__init__" else f"{last}.py"])
    return Module(name.removesuffix(".__init__"), path, ast.parse(source))


def unit_of(name: str) -> str:
    """quietshop.accounts.api -> quietshop.accounts; quietshop -> quietshop."""
    return ".".join(name.split(".")[:2])


def domain_of(name: str) -> str | None:
    unit = unit_of(name)
    return unit.split(".")[1] if unit in DOMAIN_UNITS else None


def _absolute(module: Module, level: int, target: str | None) -> str:
    """The module a relative import (``from ..web import x``) names."""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _import_module_call(node: ast.Call) -> str | None:
    """The module named by importlib.import_module("...") or __import__("...")."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def quietshop_imports(module: Module, known: frozenset[str]) -> Iterator[Import]:
    """Every import of quietshop in the module, at any depth (inside functions and
    TYPE_CHECKING blocks too). ``from pkg import name`` names the module pkg.name when
    there is one, else pkg."""
    for node in ast.walk(module.tree):
        found: list[tuple[str, str | None]] = []
        if isinstance(node, ast.Import):
            found = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node.level, node.module) if node.level else node.module
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append(
                    (submodule, None) if submodule in known else (source or "", alias.name)
                )
        elif isinstance(node, ast.Call):
            named = _import_module_call(node)
            found = [(named, None)] if named else []
        for target, name in found:
            if target == "quietshop" or target.startswith("quietshop."):
                yield Import(module, node.lineno, target, name)


@functools.cache
def _package_module_names() -> frozenset[str]:
    return frozenset(module_name(path) for path in PACKAGE.rglob("*.py"))


def _imports(modules: list[Module]) -> Iterator[Import]:
    known = _package_module_names() | {module.name for module in modules}
    for module in modules:
        yield from quietshop_imports(module, known)


# ---------------------------------------------------------------- rule 1: downhill


def uphill_imports(modules: list[Module]) -> list[Violation]:
    found = [
        Violation(module.path, 1, 1, f"{module.name} is on no floor: add its unit to FLOORS")
        for module in modules
        if unit_of(module.name) not in FLOOR_OF
    ]
    for imp in _imports(modules):
        source, target = unit_of(imp.module.name), unit_of(imp.target)
        if source == target or source not in FLOOR_OF:
            continue
        if target not in FLOOR_OF:
            found.append(
                Violation(imp.module.path, imp.line, 1, f"imports {imp.target}, on no floor")
            )
            continue
        here, there = FLOOR_OF[source], FLOOR_OF[target]
        if there < here:
            found.append(
                Violation(
                    imp.module.path,
                    imp.line,
                    1,
                    f"{imp.module.name} ({FLOOR_NAMES[here]}) imports {imp.target} "
                    f"({FLOOR_NAMES[there]}), uphill; the imports run cli -> app -> domains "
                    "-> web/, db, console, signing -> settings, clock, errors"
                    + ("; nothing imports cli" if target == "quietshop.cli" else "")
                    + ("; only cli imports app" if target == "quietshop.app" else ""),
                )
            )
        elif (
            there == here
            and FLOOR_NAMES[here] != "domains"
            and (source, target) not in SAME_FLOOR_IMPORTS
        ):
            found.append(
                Violation(
                    imp.module.path,
                    imp.line,
                    1,
                    f"{imp.module.name} imports {imp.target} on its own floor "
                    f"({FLOOR_NAMES[here]}), which SAME_FLOOR_IMPORTS does not allow",
                )
            )
    return found


# ---------------------------------------------------------------- rule 2: domain to domain


def cross_domain_imports(modules: list[Module]) -> list[Violation]:
    found = []
    for imp in _imports(modules):
        importer, owner = domain_of(imp.module.name), domain_of(imp.target)
        if importer is None or owner is None or importer == owner:
            continue
        where, what = imp.module.path, f"{imp.module.name} imports {imp.target}"
        if imp.target == PERSONAL_DATA:
            if imp.name is None:
                problem = "import privacy's declaration helpers by name, not the whole module"
            elif imp.name not in DECLARATION_HELPERS:
                problem = (
                    f"{imp.name} is not one of privacy's declaration helpers "
                    f"({', '.join(sorted(DECLARATION_HELPERS))})"
                )
            else:
                continue
        elif (importer, imp.target) in CROSS_DOMAIN_SEAMS:
            continue
        elif importer in BOTTOM_DOMAINS:
            problem = (
                f"{importer} is at the bottom and imports no other domain (design.md), only "
                "privacy's declaration helpers"
            )
        elif imp.target == f"quietshop.{owner}.service":
            problem = (
                f"{importer} -> {imp.target} is not in CROSS_DOMAIN_SEAMS: add it there on "
                "purpose, with its reason"
            )
        else:
            problem = (
                f"reaches the {owner} domain's insides"
                + (f" ({imp.name})" if imp.name else "")
                + f"; go through quietshop.{owner}.service"
            )
        found.append(Violation(where, imp.line, 2, f"{what}: {problem}"))
    return found


# ---------------------------------------------------------------- rule 3: web/ knows no domain


def web_imports_of_domains(modules: list[Module]) -> list[Violation]:
    return [
        Violation(
            imp.module.path,
            imp.line,
            3,
            f"{imp.module.name} imports {imp.target}; web/ is the ground floor and knows no "
            "domain: let app.py hand it a function (or a DomainSite, or a part of AppState)",
        )
        for imp in _imports(modules)
        if unit_of(imp.module.name) == "quietshop.web"
        and FLOOR_OF.get(unit_of(imp.target), len(FLOORS)) <= FLOOR_NAMES.index("domains")
    ]


# ---------------------------------------------------------------- rule 4: no query in a route


def is_route_module(name: str) -> bool:
    """A domain's api.py and pages.py (or api/, pages/ packages, or ``*_api.py`` /
    ``*_pages.py`` beside them, as staff/ has one per screen), cli.py, any commands.py."""
    parts = name.split(".")
    if name == "quietshop.cli" or "commands" in parts[1:]:
        return True
    if domain_of(name) is None or len(parts) <= 2:
        return False
    return parts[2] in ("api", "pages") or parts[2].endswith(("_api", "_pages"))


def _reached_through(node: ast.expr) -> Iterator[str]:
    """The names an expression is reached through: session.connection() -> connection, session."""
    while True:
        if isinstance(node, ast.Attribute):
            yield node.attr
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            if isinstance(node, ast.Name):
                yield node.id
            return


def _annotation_names(annotation: ast.expr | None) -> set[str]:
    if annotation is None:
        return set()
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return set(re.findall(r"\w+", annotation.value))
    return {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(annotation) if isinstance(n, ast.Attribute)
    }


def _session_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                opened = item.context_expr
                if (
                    isinstance(item.optional_vars, ast.Name)
                    and isinstance(opened, ast.Call)
                    and any(_SESSIONISH.search(n) for n in _reached_through(opened.func))
                ):
                    names.add(item.optional_vars.id)
        elif isinstance(node, ast.arg | ast.AnnAssign):
            target = node.arg if isinstance(node, ast.arg) else getattr(node.target, "id", None)
            if target and _annotation_names(node.annotation) & _SESSION_TYPES:
                names.add(target)
    return names


def _sqlalchemy_names(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Local names of sqlalchemy's statement builders (name -> builder), and of its modules."""
    builders: dict[str, str] = {}
    namespaces: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in QUERY_BUILDERS:
                    builders[alias.asname or alias.name] = alias.name
                else:
                    namespaces.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    namespaces.add(alias.asname or "sqlalchemy")
    return builders, namespaces


def _query_calls(module: Module) -> Iterator[tuple[int, str]]:
    builders, namespaces = _sqlalchemy_names(module.tree)
    sessions = _session_names(module.tree)
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in builders:
            yield node.lineno, f"sqlalchemy's {builders[func.id]}()"
        elif isinstance(func, ast.Attribute):
            through = list(_reached_through(func.value))
            if func.attr in QUERY_BUILDERS and through and through[-1] in namespaces:
                yield node.lineno, f"sqlalchemy's {func.attr}()"
            elif func.attr in SESSION_METHODS and any(
                name in sessions or _SESSIONISH.search(name) for name in through
            ):
                yield node.lineno, f"{'.'.join(reversed(through))}.{func.attr}()"


def queries_in_routes(modules: list[Module]) -> list[Violation]:
    routes = [module for module in modules if is_route_module(module.name)]
    found = [
        Violation(
            module.path,
            line,
            4,
            f"{module.name} calls {call}: a route or command parses, passes the session to "
            "one service function and renders; the query belongs in the service",
        )
        for module in routes
        for line, call in _query_calls(module)
    ]
    for imp in _imports(routes):
        owner = domain_of(imp.target)
        if imp.target == "quietshop.models" or (owner and imp.target.split(".")[2:3] == ["models"]):
            found.append(
                Violation(
                    imp.module.path,
                    imp.line,
                    4,
                    f"{imp.module.name} imports {imp.target}: routes and commands know no table",
                )
            )
    return found


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def package() -> list[Module]:
    modules = read_package()
    names = {module.name for module in modules}
    # A wrong path would make every rule pass on nothing.
    assert {"quietshop.app", "quietshop.cli", "quietshop.web.privacy"} <= names
    assert {"quietshop.accounts.api", "quietshop.catalog.pages", "quietshop.mail.commands"} <= names
    return modules


def _report(violations: list[Violation]) -> str:
    return "\n" + "\n".join(str(v) for v in sorted(violations, key=lambda v: (v.path, v.line)))


def test_imports_run_downhill(package: list[Module]) -> None:
    violations = uphill_imports(package)
    assert not violations, _report(violations)


def test_a_domain_reaches_another_only_through_a_listed_seam(package: list[Module]) -> None:
    violations = cross_domain_imports(package)
    assert not violations, _report(violations)


def test_web_imports_no_domain(package: list[Module]) -> None:
    violations = web_imports_of_domains(package)
    assert not violations, _report(violations)


def test_routes_and_commands_build_no_query(package: list[Module]) -> None:
    routes = [module for module in package if is_route_module(module.name)]
    assert {"quietshop.cli", "quietshop.mail.commands", "quietshop.accounts.api"} <= {
        module.name for module in routes
    }
    violations = queries_in_routes(package)
    assert not violations, _report(violations)


def test_the_seam_table_names_only_services_above_the_bottom() -> None:
    for (importer, target), why in CROSS_DOMAIN_SEAMS.items():
        owner = domain_of(target)
        assert importer in DOMAINS and owner is not None and owner != importer, (importer, target)
        assert target == f"quietshop.{owner}.service" or target in AUTH_DOORS, (
            f"{importer} -> {target}: not a service"
        )
        assert importer not in BOTTOM_DOMAINS, f"{importer} is at the bottom: {target}"
        assert why.strip(), f"{importer} -> {target} needs its reason"


# ---------------------------------------------------------------- the checkers see


Checker = Callable[[list[Module]], list[Violation]]


def _caught(checker: Checker, name: str, source: str) -> list[Violation]:
    return checker([synthetic(name, source)])


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("quietshop.settings", "from quietshop.db import Base"),
        ("quietshop.errors", "from quietshop.clock import Clock"),
        ("quietshop.db", "from quietshop.web.state import AppState"),
        ("quietshop.catalog.service", "from quietshop.app import build_app"),
        ("quietshop.web.fake", "from ..app import DOMAIN_SITES"),
        ("quietshop.mail.fake", "def f():\n    import quietshop.cli"),
        ("quietshop.models", "from quietshop.app import AssembledApp"),
        ("quietshop.signing", "importlib.import_module('quietshop.accounts.tokens')"),
        ("quietshop.gadgets", "x = 1"),
    ],
)
def test_rule_1_catches_an_uphill_import(name: str, source: str) -> None:
    violations = _caught(uphill_imports, name, source)
    assert [v.rule for v in violations] == [1], violations


def test_rule_1_lets_downhill_imports_pass() -> None:
    source = (
        "from quietshop import __version__\n"
        "from quietshop.catalog import service\n"
        "from quietshop.web.routing import DomainSite\n"
        "from quietshop.db import transaction\n"
        "from quietshop.settings import Settings\n"
    )
    assert _caught(uphill_imports, "quietshop.accounts.fake", source) == []
    assert _caught(uphill_imports, "quietshop.web.fake", "from quietshop.db import Base") == []


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("quietshop.catalog.fake", "from quietshop.accounts.models import Customer"),
        ("quietshop.catalog.fake", "from quietshop.accounts import tokens"),
        ("quietshop.catalog.fake", "import quietshop.mail.outbox"),
        ("quietshop.mail.fake", "from quietshop.accounts import service"),
        ("quietshop.privacy.fake", "from quietshop.mail.service import queue_message"),
        ("quietshop.accounts.fake", "from quietshop.privacy.personal_data import personal_columns"),
        ("quietshop.accounts.fake", "from quietshop.privacy import personal_data"),
        ("quietshop.accounts.fake", "from quietshop.privacy.service import current_policy"),
    ],
)
def test_rule_2_catches_a_domain_reaching_into_another(name: str, source: str) -> None:
    violations = _caught(cross_domain_imports, name, source)
    assert [v.rule for v in violations] == [2], violations


def test_rule_2_lets_the_listed_seams_pass() -> None:
    seams = (
        "from quietshop.mail import service as mail\n"
        "from quietshop.privacy.personal_data import DataSubject, SubjectRows\n"
        "from quietshop.accounts.models import Customer\n"  # its own domain
    )
    assert _caught(cross_domain_imports, "quietshop.accounts.fake", seams) == []
    declares = "from quietshop.privacy.personal_data import personal"
    assert _caught(cross_domain_imports, "quietshop.mail.fake", declares) == []


@pytest.mark.parametrize(
    "source",
    [
        "from quietshop.catalog import service",
        "import quietshop.accounts.auth",
        "from quietshop import models",
        "from ..mail.service import unsubscribe_url",
    ],
)
def test_rule_3_catches_web_importing_a_domain(source: str) -> None:
    violations = _caught(web_imports_of_domains, "quietshop.web.fake", source)
    assert [v.rule for v in violations] == [3], violations


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("quietshop.catalog.api", "from sqlalchemy import select\nselect(Product)"),
        ("quietshop.catalog.pages", "from sqlalchemy import text as sql\nsql('SELECT 1')"),
        ("quietshop.accounts.api", "import sqlalchemy as sa\nsa.update(Customer)"),
        ("quietshop.accounts.api", "def f(session):\n    session.execute(statement)"),
        ("quietshop.accounts.api", "with signed_in(r) as (session, c):\n    session.add(row)"),
        ("quietshop.catalog.pages", "with read_session(request) as s:\n    s.get(Product, 1)"),
        ("quietshop.privacy.pages", "def f(db: Session):\n    db.query(Policy)"),
        ("quietshop.cli", "with engine.connect() as c:\n    c.exec_driver_sql('VACUUM')"),
        ("quietshop.mail.commands", "session.connection().execute(statement)"),
        ("quietshop.catalog.pages", "from quietshop.catalog.models import Product"),
        ("quietshop.cli", "def f():\n    from quietshop.accounts import models"),
        ("quietshop.staff.api.orders", "session.delete(row)"),
    ],
)
def test_rule_4_catches_a_query_in_a_route(name: str, source: str) -> None:
    violations = _caught(queries_in_routes, name, source)
    assert [v.rule for v in violations] == [4], violations


def test_rule_4_lets_thin_routes_pass() -> None:
    thin = (
        "from sqlalchemy.orm import Session\n"
        "def f(request, session: Session):\n"
        "    addresses.delete(session, customer.id, 3)\n"
        "    request.query_params.get('q')\n"
        "    with read_session(request) as session:\n"
        "        return service.product_page(session, request.headers.get('x'))\n"
    )
    assert _caught(queries_in_routes, "quietshop.accounts.api", thin) == []
    # The rule is about routes: a service may query.
    query = "from sqlalchemy import select\nsession.execute(select(Product))"
    assert _caught(queries_in_routes, "quietshop.catalog.service", query) == []
