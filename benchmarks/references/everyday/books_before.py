"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from dataclasses import dataclass


@dataclass
class Book:
    title: str
    author: str
    year: int


def books_before(books: list[Book], year: int) -> list[str]:
    return [book.title for book in books if book.year < year]
