"""Hidden tests for primes.mrsh: what its description states beyond its examples."""

from primes import is_prime, prime_factors, primes_up_to


def test_small_numbers():
    assert [is_prime(n) for n in (-7, 0, 1, 2)] == [False, False, False, True]


def test_primes_up_to_inclusive():
    assert primes_up_to(2) == [2]
    assert primes_up_to(13) == [2, 3, 5, 7, 11, 13]
    assert primes_up_to(1) == []


def test_factors():
    assert prime_factors(1) == []
    assert prime_factors(97) == [97]
    assert prime_factors(360) == [2, 2, 2, 3, 3, 5]
