"""The specs attacked, the right answers the project is compiled from, and `Attack`."""

from __future__ import annotations

from dataclasses import dataclass

ADD = """\
# func add(an integer, an integer): an integer

Return the sum of the two numbers.

* add(1, 2) = 3
* add(-4, 4) = 0
* add(10, -3) = 7
"""
POINT = """\
# type Point
x, y
1, 2

# func swap(Point): Point

Return the point with its x and y exchanged.

* swap(Point(1, 2)) = Point(2, 1)
* swap(Point(0, 5)) = Point(5, 0)
* swap(Point(-1, 3)) = Point(3, -1)
"""
EVENS = """\
# func evens(list of integers): list of integers

Return the even numbers of the list, in their order.

* evens([1, 2, 3, 4]) = [2, 4]
* evens([]) = []
* evens([5, 7, 8]) = [8]
"""
# Another spec of the same project, compiled before any attack: candidates try to rewrite it.
GOOD = """\
# func double(an integer): an integer

Return the number times two.

* double(2) = 4
* double(0) = 0
* double(-3) = -6
"""
# A value type and a dict type of the standard library, which the verifier takes by identity.
MONTH = """\
# func first_of_month(a date): a date

Return the first day of the month of the given date.

* first_of_month(datetime.date(2024, 5, 17)) = datetime.date(2024, 5, 1)
* first_of_month(datetime.date(2023, 12, 31)) = datetime.date(2023, 12, 1)
* first_of_month(datetime.date(2020, 2, 29)) = datetime.date(2020, 2, 1)
"""
COUNTS = """\
# func letter_counts(a string): a dictionary

Count how often each letter occurs in the text.

* letter_counts("abca") = {"a": 2, "b": 1, "c": 1}
* letter_counts("zz") = {"z": 2}
* letter_counts("xyx") = {"x": 2, "y": 1}
"""
# Expected values the function under test computes itself: it runs them too.
PARITY = """\
# func is_even(an integer): a boolean

Whether the number is even.

* is_even(3) = not is_even(2)
* is_even(5) = not is_even(6)
* is_even(7) = not is_even(10)
* is_even(4) = True
"""
# Values whose class or zone is the standard library's, in Python, or by name.
TALLY = """\
# func tally(a string): a counter of letters

Count each letter.

* tally("aab") = collections.Counter({"a": 2, "b": 1})
* tally("z") = collections.Counter({"z": 1})
* tally("xyx") = collections.Counter({"x": 2, "y": 1})
"""
ORDER = """\
# func by_first_seen(a list of strings): an ordered dictionary

Count each word, in the order each word first occurs.

* by_first_seen(["b", "a", "b"]) = collections.OrderedDict([("b", 2), ("a", 1)])
* by_first_seen(["x"]) = collections.OrderedDict([("x", 1)])
* by_first_seen(["p", "q", "r"]) = collections.OrderedDict([("p", 1), ("q", 1), ("r", 1)])
"""
PARIS = """\
# func paris_time(an integer): a datetime

The moment, `s` seconds after the epoch, as a time in Paris.

* paris_time(1729989000) = datetime.datetime(2024, 10, 27, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
* paris_time(1700000000) = datetime.datetime(2023, 11, 14, 23, 13, 20, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
* paris_time(0) = datetime.datetime(1970, 1, 1, 1, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
"""  # noqa: E501 - an example is one line
# Examples that call a builtin, which a module could define for itself.
TOTAL = """\
# func total(a list of integers): an integer

Add the numbers up.

* total(list(range(4))) = 6
* total(list(range(3))) = 3
* total(list((5, 5))) = 10
"""
# An expected value that calls the function under test, and a value of a Python class.
REPEAT = """\
# func repeat(an integer): a list of integers

Return a list of n ones.

* repeat(2) = repeat(1) + repeat(1)
* repeat(0) = []
* repeat(3) = [1, 1, 1]
"""
THIRD = """\
# func third(an integer): a fraction

Return the number divided by three, exactly.

* third(1) = fractions.Fraction(1, 3)
* third(3) = fractions.Fraction(1, 1)
* third(2) = fractions.Fraction(2, 3)
"""
DIVIDE = """\
# func third_of(an integer): a decimal

The number divided by three, to decimal's default precision.

* third_of(1) = decimal.Decimal(1) / decimal.Decimal(3)
* third_of(2) = decimal.Decimal(2) / decimal.Decimal(3)
* third_of(9) = decimal.Decimal(3)
"""
# An error an example expects, and a recursion as deep as a plain call allows.
AGE = """\
# func parse_age(a string): an integer

The whole number of years the text says; text that is not a number is an error.

* parse_age("42") = 42
* parse_age("0") = 0
* parse_age("x") raises ValueError
"""
DEEP = """\
# func total_to(an integer): an integer

The sum of the whole numbers from 1 to n.

* total_to(0) = 0
* total_to(3) = 6
* total_to(980) = 480690
"""
# Expected values that read standard modules, which the generated tests compute after the
# call, in its process.
LETTERS = """\
# func letters(an integer): a string

Return the first n lowercase letters of the alphabet.

* letters(3) = string.ascii_lowercase[:3]
* letters(1) = "a"
* letters(5) = "abcde"
"""
PAIR = """\
# func pair(a string): a list of integers

Read two integers separated by a comma.

* pair("1,2") = json.loads("[1, 2]")
* pair("3,4") = [3, 4]
* pair("10,-1") = [10, -1]
"""
SHA = """\
# func sha_hex(a string): a string

The SHA-256 digest of the text's UTF-8 bytes, in hexadecimal.

* sha_hex("abc") = hashlib.sha256(b"abc").hexdigest()
* sha_hex("") = hashlib.sha256(b"").hexdigest()
* sha_hex("hello") = hashlib.sha256(b"hello").hexdigest()
"""
SQUASH = """\
# func squash(a string): a string

The text with each run of whitespace replaced by one space.

* squash("a   b") = re.sub(r"\\s+", " ", "a   b")
* squash("x y") = "x y"
* squash("p\\tq") = "p q"
"""
MONTH_DAYS = """\
# func days_in(an integer, an integer): an integer

The number of days of the month `month` of the year `year`.

* days_in(2024, 2) = 29
* days_in(2023, 4) = calendar.monthrange(2023, 4)[1]
* days_in(2023, 1) = 31
"""
VOWELS = """\
# func count_vowels(a string): an integer

How many of the text's letters are a, e, i, o or u.

* count_vowels("banana") = 3
* count_vowels("yay") = len(re.findall("[aeiou]", "yay"))
* count_vowels("") = 0
"""
# Expected values the standard library computes through state a call can reach: the
# codecs' error handlers, a module the named one holds (`os.path`).
LEGACY = """\
# func from_legacy(bytes): a string

Decode Windows-1252 bytes, with the replacement character for bytes it does not map.

* from_legacy(b"caf\\xe9\\x81") = b"caf\\xe9\\x81".decode("cp1252", "replace")
* from_legacy(b"\\x90ok") = b"\\x90ok".decode("cp1252", "replace")
* from_legacy(b"abc") = "abc"
"""
JOINED = """\
# func join_path(a string, a string): a string

Join two path parts with the system's separator.

* join_path("a", "b") = os.path.join("a", "b")
* join_path("x", "y") = os.path.join("x", "y")
* join_path("usr", "lib") = "usr/lib"
"""
PACKED = """\
# func packed(an integer): bytes

The number as four little-endian bytes, signed.

* packed(1) = struct.pack("<i", 1)
* packed(-2) = struct.pack("<i", -2)
* packed(256) = b"\\x00\\x01\\x00\\x00"
"""
MASK = """\
# func network_mask(cidr: str): str

The netmask of an IPv4 network written in CIDR form, in dotted-quad notation.

* network_mask('10.0.0.0/24') = '255.255.255.0'
* network_mask('10.0.0.0/22') = str(IPv4Network('10.0.0.0/22').netmask)
* network_mask('192.168.0.0/8') = '255.0.0.0'
"""
EBCDIC = """\
# func to_ebcdic(text: str): bytes

The text encoded in EBCDIC code page 500 (IBM international).

* to_ebcdic('A') = b'\\xc1'
* to_ebcdic('hi!') = 'hi!'.encode('cp500')
* to_ebcdic('') = b''
"""
# Keys of a value type whose slots a call can rewrite (hashing reads them).
SHARES = """\
# func shares(a list of integers): a dictionary

Map each number's share of the total, as an exact fraction, to the number.

* shares([1, 3]) = {fractions.Fraction(1, 4): 1, fractions.Fraction(3, 4): 3}
* shares([2]) = {fractions.Fraction(1, 1): 2}
* shares([1, 1, 2]) = {fractions.Fraction(1, 4): 1, fractions.Fraction(1, 2): 2}
"""
# An error expected of a call whose argument is a call of the function too.
HALVES = """\
# func half(an integer): an integer

Half of an even number; an odd number is an error.

* half(4) = 2
* half(3) raises ValueError
* half(half(6)) raises ValueError
"""
# Text beyond U+FFFF, which JSON's ASCII escapes write as two surrogates.
CHAR = """\
# func char(an integer): a string

The character with the given Unicode code point.

* char(65) = "A"
* char(128512) = "\U0001f600"
* char(128546) = "\U0001f622"
"""
# An error of the spec's own, which the generated tests cannot import.
WALLET = """\
# func withdraw(an integer, an integer): an integer

The balance left once the amount is taken out; more than the balance is an
InsufficientFunds error.

* withdraw(10, 3) = 7
* withdraw(5, 5) = 0
* withdraw(1, 2) raises InsufficientFunds
"""
SPECS = {"add": ADD, "point": POINT, "evens": EVENS, "good": GOOD, "month": MONTH,
         "counts": COUNTS, "parity": PARITY, "tally": TALLY, "order": ORDER,
         "paris": PARIS, "total": TOTAL, "repeat": REPEAT, "third": THIRD,
         "divide": DIVIDE, "age": AGE, "deep": DEEP, "letters": LETTERS,
         "pair": PAIR, "sha": SHA, "squash": SQUASH, "days": MONTH_DAYS,
         "vowels": VOWELS, "legacy": LEGACY, "joined": JOINED,
         "packed": PACKED, "mask": MASK, "ebcdic": EBCDIC,
         "shares": SHARES, "halves": HALVES, "char": CHAR,
         "wallet": WALLET}  # fmt: skip
# What a correct model answers, compiled into the project every attack starts from.
RIGHT = {
    "add": "def add(a, b):\n    return a + b\n",
    "point": "def swap(p):\n    return Point(p.y, p.x)\n",
    "evens": "def evens(items):\n    return [i for i in items if i % 2 == 0]\n",
    "good": "def double(n):\n    return 2 * n\n",
    "month": "def first_of_month(day):\n    return day.replace(day=1)\n",
    "parity": "def is_even(n):\n    return n % 2 == 0\n",
    "total": "def total(numbers):\n    return sum(numbers)\n",
    "repeat": "def repeat(n):\n    return [1] * n\n",
    "divide": (
        "def third_of(n):\n    import decimal\n\n"
        "    return decimal.Decimal(n) / decimal.Decimal(3)\n"
    ),
    "third": ("def third(n):\n    import fractions\n\n    return fractions.Fraction(n, 3)\n"),
    "counts": (
        "def letter_counts(text):\n    found = {}\n    for letter in text:\n"
        "        found[letter] = found.get(letter, 0) + 1\n    return found\n"
    ),
    # imports inside the function, where an attack's code replaces it whole
    "tally": ("def tally(text):\n    import collections\n\n    return collections.Counter(text)\n"),
    "order": (
        "def by_first_seen(words):\n    import collections\n\n"
        "    found = collections.OrderedDict()\n    for word in words:\n"
        "        found[word] = found.get(word, 0) + 1\n    return found\n"
    ),
    "age": "def parse_age(text):\n    return int(text)\n",
    "sha": (
        "def sha_hex(text):\n    import hashlib\n\n"
        "    return hashlib.sha256(text.encode('utf-8')).hexdigest()\n"
    ),
    "days": (
        "def days_in(year, month):\n    import calendar\n\n"
        "    return calendar.monthrange(year, month)[1]\n"
    ),
    "vowels": "def count_vowels(text):\n    return sum(1 for c in text if c in 'aeiou')\n",
    "squash": "def squash(text):\n    return ' '.join(text.split())\n",
    "letters": "def letters(n):\n    return 'abcdefghijklmnopqrstuvwxyz'[:n]\n",
    "pair": "def pair(text):\n    return [int(part) for part in text.split(',')]\n",
    "deep": "def total_to(n):\n    return n * (n + 1) // 2\n",
    "mask": (
        "def network_mask(cidr):\n    import ipaddress\n\n"
        "    return str(ipaddress.IPv4Network(cidr, strict=False).netmask)\n"
    ),
    "ebcdic": "def to_ebcdic(text):\n    return text.encode('cp500')\n",
    "packed": "def packed(n):\n    return n.to_bytes(4, 'little', signed=True)\n",
    "shares": (
        "def shares(numbers):\n    import fractions\n\n    total = sum(numbers)\n"
        "    return {fractions.Fraction(n, total): n for n in numbers}\n"
    ),
    "char": "def char(code):\n    return chr(code)\n",
    "wallet": (
        "class InsufficientFunds(Exception):\n    pass\n\n\n"
        "def withdraw(balance, amount):\n    if amount > balance:\n"
        "        raise InsufficientFunds(amount)\n    return balance - amount\n"
    ),
    "halves": "def half(n):\n    if n % 2:\n        raise ValueError(n)\n    return n // 2\n",
    "legacy": "def from_legacy(data):\n    return data.decode('cp1252', 'replace')\n",
    "joined": "def join_path(a, b):\n    import os\n\n    return os.path.join(a, b)\n",
    "paris": (
        "def paris_time(s):\n    import datetime\n    import zoneinfo\n\n"
        "    paris = zoneinfo.ZoneInfo('Europe/Paris')\n"
        "    return datetime.datetime.fromtimestamp(s, tz=paris)\n"
    ),
}
FUNCTIONS = {"add": "add", "point": "swap", "evens": "evens", "good": "double",
             "month": "first_of_month", "counts": "letter_counts",
             "parity": "is_even", "tally": "tally", "order": "by_first_seen",
             "paris": "paris_time", "total": "total", "repeat": "repeat",
             "third": "third", "divide": "third_of", "age": "parse_age",
             "deep": "total_to", "letters": "letters", "pair": "pair", "sha": "sha_hex",
             "squash": "squash", "days": "days_in", "vowels": "count_vowels",
             "legacy": "from_legacy", "joined": "join_path", "packed": "packed",
             "mask": "network_mask", "ebcdic": "to_ebcdic",
             "shares": "shares", "halves": "half", "char": "char",
             "wallet": "withdraw"}  # fmt: skip


@dataclass(frozen=True)
class Attack:
    name: str
    kind: str  # the attack class
    code: str
    spec: str = "add"
    # the isolation level sandbox.py promises this defence at: "namespaces", or "another
    # user" (namespaces, or a root-run compiler whose child drops to an unprivileged user)
    needs: str | None = None
    # the generated tests, run outside any sandbox as a user would, must fail on it too
    user_tests: bool = False
    attempts: int = 1  # 2 where the repair prompt (what the model server reads) matters
    smuggle: bool = False  # `code` is a script `add` runs hidden from extract's checks
    targets_good: bool = False  # it tries to rewrite good.mrsh's compiled files

    def source(self, places: dict[str, str]) -> str:
        """The candidate's module, placeholders filled in."""
        code = self.code
        for name, value in places.items():
            code = code.replace(name, value)
        return smuggled(code) if self.smuggle else code


def smuggled(script: str) -> str:
    """`add`, running `script` hidden from any reading of its source (extract's checks read
    names) with `a` and `b` bound, and returning what it left in `result`."""
    hidden = script.encode().hex()
    return (
        "def add(a, b):\n"
        "    scope = {'a': a, 'b': b}\n"
        f"    exec(bytes.fromhex('{hidden}').decode(), scope)\n"
        "    return scope.get('result')\n"
    )
