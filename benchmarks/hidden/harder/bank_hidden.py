"""Hidden tests for bank.mrsh: what its description states beyond its examples."""

from bank import Transaction, balance, first_overdraft


def test_empty_balance():
    assert balance([]) == 0


def test_overdraft_index():
    txs = [
        Transaction("deposit", 10),
        Transaction("withdraw", 5),
        Transaction("withdraw", 10),
        Transaction("deposit", 100),
    ]
    assert first_overdraft(txs) == 2


def test_first_transaction():
    assert first_overdraft([Transaction("withdraw", 1)]) == 0


def test_empty():
    assert first_overdraft([]) is None
