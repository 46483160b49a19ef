"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def is_valid_email(address: str) -> bool:
    if any(char.isspace() for char in address) or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    return bool(local) and "." in domain and not domain.startswith(".") and not domain.endswith(".")
