"""Hand-written reference solution, used by the quality benchmark's simulated user."""

SEPARATORS = " -.()"


def normalize_phone(text: str) -> str:
    rest = text.strip()
    country_code = rest.startswith("+1")
    if country_code:
        rest = rest[2:]
    if any(char not in "0123456789" + SEPARATORS for char in rest):
        raise ValueError(f"not a phone number: {text!r}")
    digits = "".join(char for char in rest if char in "0123456789")
    if not country_code and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError(f"not ten digits after the country code: {text!r}")
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
