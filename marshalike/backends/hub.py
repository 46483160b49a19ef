"""Models from the Hugging Face Hub for the local backend: `--model hf:OWNER/REPO[/FILE.gguf]`.

A model named so is downloaded once into the cache folder (`models/hf/OWNER/REPO/FILE`
under $MARSHALIKE_CACHE_DIR, else ~/.cache/marshalike) and loaded from there; `marshalike
models pull` downloads it ahead of time, `marshalike models list` and `marshalike cache`
show what is there. Without FILE the repository's file list decides: the GGUF whose name
says Q4_K_M, else the only GGUF, else an error naming the candidates.

- Where: `huggingface_hub` talks to $HF_ENDPOINT (else https://huggingface.co) with the
  token it finds ($HF_TOKEN, or `hf auth login`), so gated repositories work once their
  terms are accepted.
- Progress: huggingface_hub's own bar on stderr (HF_HUB_DISABLE_PROGRESS_BARS=1 hides it).
- Resuming: the bytes arrive in `FILE.partial-<ETAG PREFIX>` beside the model, through
  huggingface_hub's plain HTTP download (`http_get`). A download cut
  short, by a dropped connection or by Ctrl-C, continues from that file's end on the next
  pull or load of the same revision (an HTTP Range request). Within one download,
  huggingface_hub retries a dropped connection up to five times, from the last whole 10 MiB
  chunk it wrote.
- Verifying: the hub names each file's content by its ETag: the sha256 for LFS files (GGUFs
  are) and the git blob sha1 for small ones. huggingface_hub's HTTP download checks only
  the length it receives, so here the finished file is hashed and compared with that ETag
  before it takes the model's name; a mismatch removes the download and says so (an ETag
  that is neither is reported as not verified). The sha256 is
  recorded in `FILE.json` beside the model, with the repository's commit.
- Offline (HF_HUB_OFFLINE=1, or no network): a downloaded model loads without asking the
  hub; a missing one is one line naming it and the command that fetches it.

A model already downloaded is loaded without any request to the hub; `models pull` asks
for the file's current ETag and downloads again only when the file on the hub changed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshalike.backends.caches import cache_dir, human
from marshalike.errors import BackendError, ConfigError, MarshalikeError

PREFIX = "hf:"
DEFAULT_ENDPOINT = "https://huggingface.co"
MISSING_HUB = "models from the hub need huggingface_hub: pip install 'marshalike[local]'"
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHUNK = 1 << 20
# llama.cpp's parts of one model: NAME-00001-of-00003.gguf
_SPLIT = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class HubRef:
    """`hf:OWNER/REPO[/FILE]`: a repository, and the file in it when named."""

    repo: str
    file: str | None = None

    @property
    def spec(self) -> str:
        return PREFIX + self.repo + (f"/{self.file}" if self.file else "")

    def folder(self) -> Path:
        return models_dir().joinpath(*self.repo.split("/"))


@dataclass(frozen=True)
class Model:
    """A downloaded model: where it is, how big, and what it was checked against."""

    repo: str
    file: str
    path: Path
    size: int
    sha256: str | None
    commit: str | None

    @property
    def spec(self) -> str:
        return f"{PREFIX}{self.repo}/{self.file}"

    def as_json(self) -> dict[str, object]:
        return {
            "model": self.spec,
            "path": str(self.path),
            "bytes": self.size,
            "sha256": self.sha256,
            "commit": self.commit,
        }


def is_hub(model: str | None) -> bool:
    return model is not None and model.startswith(PREFIX)


def parse(model: str) -> HubRef:
    """`hf:OWNER/REPO` or `hf:OWNER/REPO/FILE.gguf` (FILE may lie in folders of the repo)."""
    parts = model.removeprefix(PREFIX).strip("/").split("/")
    usage = f"{model!r} is not a hub model: write hf:OWNER/REPO or hf:OWNER/REPO/FILE.gguf"
    if len(parts) < 2 or not all(_PART.match(part) for part in parts):
        raise ConfigError(usage)
    if len(parts) > 2 and not parts[-1].lower().endswith(".gguf"):
        raise ConfigError(f"{usage} (the local runtime loads GGUF files from the hub)")
    return HubRef("/".join(parts[:2]), "/".join(parts[2:]) or None)


def models_dir() -> Path:
    return cache_dir() / "models" / "hf"


def downloaded() -> list[Model]:
    """Every model in the cache folder, by repository and file."""
    root = models_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.glob("*/*/**/*.gguf")):
        repo_parts = path.relative_to(root).parts
        record = _record(path)
        found.append(
            Model(
                "/".join(repo_parts[:2]),
                "/".join(repo_parts[2:]),
                path,
                path.stat().st_size,
                record.get("sha256"),
                record.get("commit"),
            )
        )
    return found


def partials() -> list[Path]:
    """Downloads cut short, which the next pull of the same file continues."""
    root = models_dir()
    return sorted(root.rglob("*.partial-*")) if root.is_dir() else []


def resolve(model: str, *, progress: bool = True) -> Path:
    """The GGUF file `model` names: the downloaded one without asking the hub, else
    downloaded now (offline, a one-line error saying how to fetch it)."""
    ref = parse(model)
    cached = _cached(ref)
    if cached is not None:
        return cached.path
    return pull(ref, progress=progress)[0].path


def pull(ref: HubRef, *, progress: bool = True) -> tuple[Model, bool]:
    """Download `ref` unless the cache holds its current revision; the model, and whether
    anything was downloaded. Offline, the cached model is the answer."""
    if _offline():
        return _fallback(ref, "HF_HUB_OFFLINE is set"), False
    hub = _hub()
    try:
        file = ref.file or _pick(hub, ref)
        url = hub.hf_hub_url(ref.repo, file, endpoint=_endpoint())
        meta = hub.get_hf_file_metadata(url, endpoint=_endpoint())
    except hub.OfflineModeIsEnabled:
        return _fallback(ref, "HF_HUB_OFFLINE is set"), False
    except hub.HfHubHTTPError as exc:
        raise _http_error(ref, exc) from None
    except _network_errors() as exc:
        return _fallback(ref, f"cannot reach {_endpoint()}: {_first_line(exc)}"), False
    target = ref.folder() / file
    record = _record(target)
    etag = (meta.etag or "").strip('"')
    if etag and target.is_file() and record.get("etag") == etag:
        return _model(ref.repo, file, target, record), False
    try:
        sha256, verified = _download(hub, meta, target, file, progress=progress)
    except hub.HfHubHTTPError as exc:
        raise _http_error(ref, exc) from None
    except _network_errors() as exc:
        spec = f"{PREFIX}{ref.repo}/{file}"
        raise BackendError(
            f"the download of {spec} stopped ({_first_line(exc)}): run `marshalike models "
            f"pull {spec}` to continue it"
        ) from None
    _write_record(target, ref.repo, file, meta.commit_hash, etag, sha256, verified)
    return _model(ref.repo, file, target, _record(target)), True


def _fallback(ref: HubRef, why: str) -> Model:
    """The cached model when the hub cannot be asked; else why it cannot be had."""
    cached = _cached(ref)
    if cached is None:
        raise _missing(ref, why) from None
    return cached


def _pick(hub: Any, ref: HubRef) -> str:
    """The repository's GGUF: the one whose name says Q4_K_M, else the only one."""
    info = hub.HfApi(endpoint=_endpoint()).model_info(ref.repo)
    ggufs = sorted(s.rfilename for s in info.siblings or () if s.rfilename.endswith(".gguf"))
    return _choose(ref.repo, ggufs)


def _choose(repo: str, names: list[str]) -> str:
    ggufs = [name for name in names if not _SPLIT.search(name)]
    if names and not ggufs:
        raise ConfigError(
            f"{PREFIX}{repo} holds only GGUFs split in parts ({names[0]}, ...): the local "
            "runtime loads a model in one file; choose a repository that has one"
        )
    q4 = [name for name in ggufs if "q4_k_m" in name.lower()]
    if len(q4) == 1:
        return q4[0]
    if len(ggufs) == 1:
        return ggufs[0]
    if not ggufs:
        raise ConfigError(f"{PREFIX}{repo} has no .gguf file: the local runtime loads GGUF files")
    candidates = q4 or ggufs
    raise ConfigError(
        f"{PREFIX}{repo} holds {len(candidates)} GGUF files, name one "
        f"({PREFIX}{repo}/{candidates[0]}): {', '.join(candidates)}"
    )


def _cached(ref: HubRef) -> Model | None:
    folder = ref.folder()
    if ref.file is not None:
        path = folder / ref.file
        return _model(ref.repo, ref.file, path, _record(path)) if path.is_file() else None
    if not folder.is_dir():
        return None
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.gguf") if p.is_file())
    try:
        file = _choose(ref.repo, names)
    except ConfigError:  # none, or several and none preferred: the hub's list decides
        return None
    path = folder / file
    return _model(ref.repo, file, path, _record(path))


def _download(hub: Any, meta: Any, target: Path, file: str, *, progress: bool) -> tuple[str, bool]:
    """Fetch `file` into `target` through a partial file that a later call continues; its
    sha256, and whether the hub's ETag confirmed it."""
    etag = (meta.etag or "").strip('"')
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{etag[:16]}")
    for other in target.parent.glob(f"{glob.escape(target.name)}.partial-*"):
        if other != partial:
            other.unlink(missing_ok=True)  # an older revision's bytes cannot be continued
    have = partial.stat().st_size if partial.is_file() else 0
    if meta.size is not None and have > meta.size:
        partial.unlink()
        have = 0
    if have:
        _say(f"continuing {file} after its first {human(have)}", progress)
    with partial.open("ab") as out:
        hub.http_get(
            meta.location,
            out,
            resume_size=have,
            expected_size=meta.size,
            displayed_filename=file,
            tqdm_class=None if progress else _quiet(),
        )
    _say(f"verifying {file}", progress)
    sha256, verified = _verify(partial, etag, file)
    os.replace(partial, target)
    return sha256, verified


def _verify(path: Path, etag: str, file: str) -> tuple[str, bool]:
    """The file's sha256, and whether it matched the hub's ETag (a sha256 for LFS files,
    a git blob sha1 for others); a mismatch removes the file."""
    sha256 = hashlib.sha256()
    git = hashlib.sha1()
    git.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        got = sha256.hexdigest()
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        got = git.hexdigest()
    else:
        sys.stderr.write(f"marshalike: warning: the hub gave {file} no checksum: not verified\n")
        return sha256.hexdigest(), False
    if got != etag:
        path.unlink(missing_ok=True)
        raise BackendError(
            f"the download of {file} does not match its checksum {etag} (got {got}): "
            "removed; pull it again"
        )
    return sha256.hexdigest(), True


def _record(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_record(
    path: Path, repo: str, file: str, commit: str | None, etag: str, sha256: str, verified: bool
) -> None:
    record = {
        "repo": repo,
        "file": file,
        "commit": commit,
        "etag": etag,
        "sha256": sha256,
        "verified": verified,
    }
    _record_path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _model(repo: str, file: str, path: Path, record: dict[str, Any]) -> Model:
    size = path.stat().st_size if path.is_file() else 0
    return Model(repo, file, path, size, record.get("sha256"), record.get("commit"))


def _missing(ref: HubRef, why: str) -> ConfigError:
    what = ref.spec if ref.file else f"a GGUF of {ref.spec}"
    return ConfigError(
        f"{what} is not downloaded (looked in {ref.folder()}) and {why}: run `marshalike "
        f"models pull {ref.spec}` on a connected machine and copy that folder here"
    )


def _http_error(ref: HubRef, exc: Exception) -> MarshalikeError:
    hub = _hub()
    if isinstance(exc, hub.GatedRepoError):
        return ConfigError(
            f"{PREFIX}{ref.repo} is gated: accept its terms on the hub and set HF_TOKEN"
        )
    if isinstance(exc, hub.RepositoryNotFoundError):
        return ConfigError(
            f"{PREFIX}{ref.repo}: no such repository on {_endpoint()} (or it is private: "
            "set HF_TOKEN)"
        )
    if isinstance(exc, hub.RevisionNotFoundError | hub.RemoteEntryNotFoundError):
        return ConfigError(f"{ref.spec}: no such file in the repository")
    return BackendError(f"the hub failed for {ref.spec}: {_first_line(exc)}")


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a dropped or refused connection raises, whichever HTTP client huggingface_hub
    uses."""
    found: list[type[BaseException]] = [OSError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError")):
        try:
            found.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _hub() -> Any:
    try:
        import huggingface_hub
        from huggingface_hub import errors
        from huggingface_hub.file_download import http_get
    except ImportError:
        raise ConfigError(MISSING_HUB) from None
    return _Hub(huggingface_hub, errors, http_get)


class _Hub:
    """The parts of huggingface_hub used here, in one place."""

    def __init__(self, hub: Any, errors: Any, http_get: Any) -> None:
        self.HfApi = hub.HfApi
        self.hf_hub_url = hub.hf_hub_url
        self.get_hf_file_metadata = hub.get_hf_file_metadata
        self.http_get = http_get
        self.HfHubHTTPError = errors.HfHubHTTPError
        self.GatedRepoError = errors.GatedRepoError
        self.RepositoryNotFoundError = errors.RepositoryNotFoundError
        self.RevisionNotFoundError = errors.RevisionNotFoundError
        self.RemoteEntryNotFoundError = getattr(
            errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError
        )
        self.OfflineModeIsEnabled = errors.OfflineModeIsEnabled


def _quiet() -> Any:
    from tqdm.auto import tqdm

    class Quiet(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})

    return Quiet


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:300]


def _say(message: str, progress: bool) -> None:
    if progress:
        sys.stderr.write(f"marshalike: {message}\n")
        sys.stderr.flush()
