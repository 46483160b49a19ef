"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from dataclasses import dataclass


@dataclass
class Transaction:
    kind: str
    amount: int


def balance(transactions: list[Transaction]) -> int:
    total = 0
    for transaction in transactions:
        if transaction.kind == "deposit":
            total += transaction.amount
        elif transaction.kind == "withdraw":
            total -= transaction.amount
    return total


def first_overdraft(transactions: list[Transaction]) -> int | None:
    for i in range(len(transactions)):
        if balance(transactions[: i + 1]) < 0:
            return i
    return None
