"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from dataclasses import dataclass


@dataclass
class Employee:
    name: str
    department: str
    salary: int


def highest_paid(staff: list[Employee], department: str) -> str | None:
    best: Employee | None = None
    for employee in staff:
        if employee.department == department and (best is None or employee.salary > best.salary):
            best = employee
    return None if best is None else best.name
