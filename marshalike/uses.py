"""What a spec gets from the specs it `# use`s: their functions, importable.

A used spec is compiled first; its generated module must land in the same output folder so
that `from other import f` works for the generated code, its tests and the sandbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Used:
    """The used modules: names to import, code to show the model, files for the sandbox."""

    imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # module -> funcs
    code: Mapping[str, str] = field(default_factory=dict)  # func -> verified code
    files: Mapping[str, str] = field(default_factory=dict)  # "other.py" -> its text

    @property
    def fingerprint(self) -> str:
        """Part of every unit's key: a change in a used module recompiles its users."""
        digest = hashlib.sha256()
        for name, text in sorted(self.files.items()):
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        return digest.hexdigest() if self.files else ""

    def merged(self, other: Used) -> Used:
        return Used(
            imports={**self.imports, **other.imports},
            code={**self.code, **other.code},
            files={**self.files, **other.files},
        )
