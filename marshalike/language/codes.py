"""Every diagnostic code, once: its text, its severity and a one-line summary.

Code that reports a problem names it here (`Code.UNKNOWN_FUNCTION`), never by its text, so
a code cannot be reused by accident or emitted without being documented: docs/language.md
has a section for each one, with an example that triggers it, and
tests/test_language_docs.py runs those examples.

The ranges follow the phase that reports them: M001-M009 the parser (`parse`, `headings`),
M010-M029 and M050-M069 the semantic checker (`semantics`), M030-M039 loading from disk
(`load`: file encoding, CSV files, `# use`), M040-M049 the compiler's plan (`build.plan`).
"""

from __future__ import annotations

from enum import StrEnum, unique

from marshalike.language.diagnostics import Diagnostic, Severity, Span


@unique
class Code(StrEnum):
    """A diagnostic code. A member is its text (`Code.UNKNOWN_FUNCTION == "M012"`);
    `Code("M099")` raises ValueError for a code that is not registered."""

    severity: Severity
    summary: str

    def __new__(cls, text: str, severity: Severity, summary: str) -> Code:
        member = str.__new__(cls, text)
        member._value_ = text
        member.severity = severity
        member.summary = summary
        return member

    # The parser: a line it cannot read.
    FUNC_HEADING = "M001", "error", "malformed `# func` heading"
    TYPE_HEADING = "M002", "error", "malformed `# type` heading"
    USE_HEADING = "M003", "error", "malformed `# use` heading"
    UNKNOWN_SECTION = "M004", "error", "misspelt section keyword"
    MISPLACED_LINE = "M005", "error", "line where the spec's structure does not allow it"
    OPEN_QUOTE = "M006", "error", "unterminated quoted field in a CSV row"
    UNCLOSED_BLOCK = "M007", "error", "unclosed HTML comment or code block"
    RETURN_WITHOUT_COLON = "M008", "warning", "missing `:` before the return type"
    TYPE_WITHOUT_HEADER = "M009", "error", "`# type NAME` without a CSV header or file"

    # The semantic checker: text that parses but cannot compile as written.
    DUPLICATE_FUNCTION = "M010", "error", "function declared twice"
    DUPLICATE_TYPE = "M011", "error", "type declared twice"
    UNKNOWN_FUNCTION = "M012", "error", "example calls an unknown function"
    TYPE_AND_FUNCTION = "M013", "error", "name declared as both a type and a function"
    ARGUMENTS_MISMATCH = "M014", "error", "example passes arguments no declaration accepts"
    UNDECLARED_TYPE = "M015", "error", "example constructs an undeclared type"
    RAGGED_ROW = "M016", "error", "CSV row that does not match its header"
    DUPLICATE_COLUMN = "M017", "error", "type with the same column twice"
    DUPLICATE_PARAMETER = "M018", "error", "function with two parameters of the same name"
    DEFAULT_ORDER = "M019", "error", "parameter without a default after one with a default"
    NO_DESCRIPTION = "M020", "error", "function without a description"
    NO_EXAMPLES = "M021", "warning", "function without examples"
    INFORMAL_EXAMPLE = "M022", "warning", "example that cannot become a test"
    ONLY_INFORMAL_EXAMPLES = "M023", "warning", "function with only informal examples"
    EMPTY_SPEC = "M024", "warning", "spec that declares no functions or types"
    KEYWORD_NAME = "M025", "error", "function, type or parameter named by a Python keyword"
    FEW_EXAMPLES = "M026", "warning", "function with fewer than 3 checkable examples"
    EXAMPLE_TOO_DEEP = "M027", "error", "example nested too deeply to check"
    UNDECLARED_CALL = "M028", "error", "example calls an undeclared function inside it"
    RESERVED_NAME = "M029", "error", "function or type name the generated files cannot hold"
    # More of the checker: its first range is full.
    MISSPELT_EXCEPTION = "M050", "warning", "raised exception spelt like a built-in one"
    NO_SUCH_EXCEPTION = "M051", "error", "raised standard library name that is no exception"
    UNDECLARED_NAME = "M052", "error", "example reads a name nothing declares"
    USED_TYPE_CLASH = "M053", "warning", "type of the same name as a used spec's"
    USED_FUNCTION_CLASH = "M054", "warning", "function of the same name in two used specs"
    FUNCTION_AS_VALUE = "M055", "error", "expected value names a function without calling it"
    NOT_AN_EXCEPTION = "M056", "error", "raised name of a function, type or value, not an exception"

    # Loading from disk: the spec's encoding, CSV files, used specs.
    NOT_UTF8 = "M030", "error", "spec is not UTF-8 text"
    CSV_UNREADABLE = "M031", "error", "CSV file of a type missing, unreadable or malformed"
    CSV_EMPTY = "M032", "error", "CSV file of a type is empty"
    CSV_RAGGED_ROWS = "M033", "error", "CSV file rows that do not match its header"
    USE_UNREADABLE = "M034", "error", "used spec missing or unreadable"
    CIRCULAR_USE = "M035", "error", "specs that use each other in a circle"
    USE_HAS_ERRORS = "M036", "error", "used spec has errors"

    # The compiler's plan.
    FUNCTION_CYCLE = "M040", "error", "functions that refer to each other in a cycle"


def report(path: str, code: Code, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    """A diagnostic of `code`, with the severity the registry gives it."""
    return Diagnostic(code.severity, code, message, span, path, hint)
