"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    quantity: int
    price: float


def total_value(items: list[Item]) -> float:
    return sum((item.quantity * item.price for item in items), 0.0)


def low_stock(items: list[Item], threshold: int) -> list[str]:
    return sorted(item.name for item in items if item.quantity < threshold)


def stock_report(items: list[Item], threshold: int) -> str:
    low = ", ".join(low_stock(items, threshold)) or "none"
    return f"{len(items)} items, value {total_value(items):.2f}, low: {low}"
