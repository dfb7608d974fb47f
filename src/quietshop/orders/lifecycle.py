"""The order graph: which status may follow which, who may move it, and what the
customer is told. A move not listed here is refused, whoever asks."""

from __future__ import annotations

from dataclasses import dataclass

from quietshop.errors import Conflict

LABELS = {
    "placed": "Placed",
    "payment_verified": "Payment confirmed",
    "packed": "Packed",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "payment_problem": "Payment problem",
    "availability_problem": "Item not available yet",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "partially_refunded": "Partly refunded",
    "return_requested": "Return requested",
    "return_received": "Return received",
}

# status -> the statuses it may move to.
GRAPH: dict[str, frozenset[str]] = {
    "placed": frozenset(
        {"payment_verified", "payment_problem", "availability_problem", "cancelled"}
    ),
    "payment_verified": frozenset({"packed", "availability_problem", "cancelled"}),
    "payment_problem": frozenset({"payment_verified", "cancelled"}),
    "availability_problem": frozenset({"placed", "payment_verified", "cancelled"}),
    "packed": frozenset({"shipped"}),
    "shipped": frozenset({"delivered", "refunded", "partially_refunded"}),
    "delivered": frozenset({"return_requested", "refunded", "partially_refunded"}),
    "return_requested": frozenset({"return_received", "delivered"}),
    "return_received": frozenset({"refunded", "partially_refunded"}),
    "partially_refunded": frozenset({"refunded", "partially_refunded", "return_requested"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}

# Before packing the customer may still cancel: nothing has left the shelf.
CANCELLABLE = frozenset({"placed", "payment_verified", "payment_problem", "availability_problem"})
# Stock is held from placing until cancelling (it left with the parcel otherwise).
HOLDS_STOCK = CANCELLABLE | {"packed"}

# The mail each move queues (P4: order updates are mail the customer expects).
MAIL_FOR: dict[str, str] = {
    "payment_problem": "payment_problem",
    "availability_problem": "availability_problem",
    "cancelled": "order_cancelled",
    "shipped": "order_shipped",
    "delivered": "order_delivered",
    "refunded": "order_refunded",
    "partially_refunded": "order_refunded",
    "return_requested": "return_requested",
    "return_received": "return_received",
}


class StatusConflict(Conflict):
    status_code = 409
    code = "status_conflict"


@dataclass(frozen=True)
class Move:
    from_status: str
    to_status: str


def check_move(current: str, target: str) -> Move:
    if target not in GRAPH.get(current, frozenset()):
        raise StatusConflict(
            f"An order that is {LABELS.get(current, current).lower()} cannot become "
            f"{LABELS.get(target, target).lower()}."
        )
    return Move(current, target)


def customer_actions(status: str, payment_status: str | None) -> list[str]:
    """What the customer may do now, for the order page's buttons."""
    actions = []
    if status in CANCELLABLE:
        actions.append("cancel")
    if status == "availability_problem":
        actions.append("answer_availability")
    if status == "payment_problem":
        actions.append("new_card")
    if status in ("delivered", "partially_refunded"):
        actions.append("request_return")
    return actions
