"""Hidden tests for total_by_customer.mrsh: what its description states beyond its examples."""

from total_by_customer import Order, total_by_customer


def test_orders_summed():
    orders = [Order(1, "ann", 1.5), Order(2, "bob", 1.0), Order(3, "ann", 2.0)]
    assert total_by_customer(orders) == {"ann": 3.5, "bob": 1.0}


def test_no_orders():
    assert total_by_customer([]) == {}
