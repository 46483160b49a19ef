"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from math import isqrt


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, isqrt(n) + 1))


def primes_up_to(n: int) -> list[int]:
    return [k for k in range(2, n + 1) if is_prime(k)]


def prime_factors(n: int) -> list[int]:
    factors = []
    d = 2
    while n > 1 and d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors
