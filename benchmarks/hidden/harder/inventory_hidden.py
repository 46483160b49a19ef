"""Hidden tests for inventory.mrsh: what its description states beyond its examples."""

from inventory import Item, low_stock, stock_report


def test_nothing_low():
    assert stock_report([Item("bolt", 100, 0.25)], 10) == "1 items, value 25.00, low: none"


def test_low_sorted():
    items = [Item("nut", 1, 1.0), Item("bolt", 2, 1.0), Item("washer", 50, 1.0)]
    assert low_stock(items, 10) == ["bolt", "nut"]


def test_threshold_is_strict():
    assert low_stock([Item("a", 10, 1.0)], 10) == []


def test_report_lists_all_low():
    items = [Item("nut", 1, 1.0), Item("bolt", 2, 0.5)]
    assert stock_report(items, 10) == "2 items, value 2.00, low: bolt, nut"
