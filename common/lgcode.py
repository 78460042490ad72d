"""全国地方公共団体コード (local government codes, 総務省): five digits (two for the prefecture, three for
the municipality) and a check digit. The check digit, per 総務省's rule: the five digits weighted 6, 5,
4, 3, 2 and summed; the sum's remainder by 11 taken from 11; of that only the last digit (10 → 0,
11 → 1). 伊勢原市: 14214 → 6+20+8+3+8 = 45, 45 mod 11 = 1, 11 − 1 = 10 → 0 → 142140."""

from __future__ import annotations

WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(code5: str) -> int:
    if len(code5) != 5 or not code5.isascii() or not code5.isdigit():
        raise ValueError(code5)
    total = sum(int(d) * w for d, w in zip(code5, WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def is_valid(code6: str) -> bool:
    """A six-digit code whose last digit is the check digit of the first five."""
    return len(code6) == 6 and code6.isascii() and code6.isdigit() and check_digit(code6[:5]) == int(code6[5])
