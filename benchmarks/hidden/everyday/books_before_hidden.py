"""Hidden tests for books_before.mrsh: what its description states beyond its examples."""

from books_before import Book, books_before


def test_same_year_excluded():
    assert books_before([Book("Dune", "Frank Herbert", 1965)], 1965) == []


def test_order_kept():
    books = [Book("B", "x", 1990), Book("A", "y", 1950), Book("C", "z", 2001)]
    assert books_before(books, 2000) == ["B", "A"]
