"""Settings: one schema (`schema.Settings`, each field's `Setting`) from which the flags,
the `[tool.marshalike]` keys, the environment variables, the checks and the lock's record
are all made; `resolve` reads pyproject.toml, then the environment, then flags."""

from marshalike.settings.arguments import add_arguments, flag_values
from marshalike.settings.schema import (
    ENV_KEYS,
    FILE_KEYS,
    LOCKED,
    OLDER_LOCKS,
    SETTINGS,
    TOKEN_BUDGETS,
    TOP_P,
    Api,
    PromptKind,
    Quant,
    Rank,
    Setting,
    Settings,
    choices,
    default,
    repairs,
    token_budget,
)
from marshalike.settings.sources import checked, find_pyproject, resolve

__all__ = [
    "TOKEN_BUDGETS",
    "TOP_P",
    "ENV_KEYS",
    "FILE_KEYS",
    "LOCKED",
    "OLDER_LOCKS",
    "SETTINGS",
    "Api",
    "PromptKind",
    "Quant",
    "Rank",
    "Setting",
    "Settings",
    "add_arguments",
    "checked",
    "choices",
    "default",
    "find_pyproject",
    "flag_values",
    "repairs",
    "resolve",
    "token_budget",
]
