"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from dataclasses import dataclass


@dataclass
class Order:
    id: int
    customer: str
    amount: float


def total_by_customer(orders: list[Order]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for order in orders:
        totals[order.customer] = totals.get(order.customer, 0.0) + order.amount
    return totals
