"""Fetch the configured models from the Hugging Face hub into MODELS_DIR.

huggingface_hub resolves what to fetch (URL, size, sha256, gated or missing repos); the transfer
itself goes into ``<file>.incomplete`` beside the target, resumes from it after an interruption,
is checked against the hub's size and sha256, and only then renamed into place, so a model path
never holds a truncated or corrupt file. Every failure becomes one line naming the fix.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from coordinator.config.catalog import ModelCatalog, ModelRole
from coordinator.config.selection import select_orpheus, snac_dir, stt_dir, stt_variant
from coordinator.config.settings import Settings
from coordinator.errors import CoordinatorError

logger = logging.getLogger(__name__)

ROLES: tuple[ModelRole, ...] = ("orpheus", "llm", "snac", "stt")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
HASH_BLOCK_BYTES = 1 << 20
TRANSFER_CHUNK_BYTES = 1 << 20
PARTIAL_SUFFIX = ".incomplete"
HTTP_PARTIAL_CONTENT = 206


class DownloadError(CoordinatorError):
    code = "download_failed"


@dataclass(frozen=True)
class DownloadItem:
    role: ModelRole
    repo: str
    filename: str
    target: Path
    size_gb: float
    license: str

    @property
    def present(self) -> bool:
        return self.target.is_file()


def plan_downloads(
    catalog: ModelCatalog,
    settings: Settings,
    *,
    only: list[ModelRole] | None = None,
    quant: str | None = None,
) -> list[DownloadItem]:
    """The files the selected models need, where they go, and whether they are already there."""
    items: list[DownloadItem] = []
    for role in only or list(ROLES):
        if role == "stt":
            whisper = stt_variant(catalog, settings)  # an unknown STT_MODEL is an error even when unused
            if whisper is None or settings.stt_model_path is not None:
                continue  # no stt entry, or a local model configured: nothing to fetch
            variant, directory = whisper[1], stt_dir(catalog, settings)
            license_name = catalog.stt.license if catalog.stt else ""
            items += [
                DownloadItem(role, variant.repo, name, directory / name, size, license_name)
                for name, size in variant.files.items()
            ]
            continue
        if role == "snac":
            spec = catalog.snac
            directory = snac_dir(catalog, settings)
            items += [
                DownloadItem(role, spec.repo, name, directory / name, size, spec.license)
                for name, size in spec.files.items()
            ]
            continue
        if role == "orpheus":
            # Every Orpheus model ORPHEUS_MODELS selects (the pretrained cloning model too), except
            # those given a local file. The hub's file name and the local one may differ (save_as).
            items += [
                DownloadItem(
                    role,
                    choice.spec.quants[choice.quant].repo,
                    choice.spec.quants[choice.quant].file,
                    choice.path,
                    choice.spec.quants[choice.quant].size_gb,
                    choice.spec.license,
                )
                for choice in select_orpheus(catalog, settings, quant=quant)
                if not choice.local
            ]
            continue
        gguf = catalog.llm
        chosen = quant or settings.llm_quant or gguf.default_quant
        entry = gguf.quant(chosen, role=role)  # an unknown name is an error even when unused
        if settings.llm_model_path is not None:
            continue  # a local file was configured: nothing to fetch for this model
        items.append(
            DownloadItem(
                role,
                entry.repo,
                entry.file,
                settings.models_dir / entry.local_name,
                entry.size_gb,
                gguf.license,
            )
        )
    return items


def describe(items: list[DownloadItem]) -> str:
    lines = [f"{'model':<8} {'file':<34} {'size':>8}  {'status':<8} {'license':<20} repo"]
    for item in items:
        status = "present" if item.present else "missing"
        lines.append(
            f"{item.role:<8} {item.filename:<34} {item.size_gb:>6.2f}GB  {status:<8} {item.license:<20} {item.repo}"
        )
    return "\n".join(lines)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's network errors (huggingface_hub 1.x uses httpx, 2.x its successor httpx2)."""
    errors: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def fetch(
    items: list[DownloadItem], *, token: str | None = None, endpoint: str | None = None
) -> list[DownloadItem]:
    """Download the missing items; return what was fetched. Raises DownloadError with the fix."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    unreachable: tuple[type[BaseException], ...] = (
        LocalEntryNotFoundError,
        ConnectionError,
        *_transport_errors(),
    )
    fetched = []
    for item in items:
        if item.present:
            logger.info("%s already present at %s", item.filename, item.target)
            continue
        item.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            metadata = get_hf_file_metadata(
                hf_hub_url(item.repo, item.filename, endpoint=endpoint), token=token
            )
            _transfer(item, metadata.location, size=metadata.size, etag=metadata.etag, token=token)
        except GatedRepoError:
            raise DownloadError(
                f"{item.repo} is gated: accept its terms on the model page while logged in, then set "
                "HF_TOKEN to a token of that account"
            ) from None
        except RepositoryNotFoundError:
            raise DownloadError(
                f"hub repo {item.repo} not found (or private without HF_TOKEN): fix the repo in models.yaml"
            ) from None
        except RemoteEntryNotFoundError:
            raise DownloadError(
                f"{item.repo} has no file {item.filename}: fix the file name in models.yaml"
            ) from None
        except unreachable:
            raise DownloadError(
                f"{item.role} file {item.filename} is missing from {item.target.parent} and the hub cannot "
                "be reached (offline?): connect to the internet or copy the file there"
            ) from None
        except HfHubHTTPError as exc:
            raise DownloadError(
                f"download of {item.repo}/{item.filename} failed: {str(exc).splitlines()[0]}"
            ) from None
        except OSError as exc:
            raise DownloadError(
                f"cannot write {item.target}: {exc.strerror or exc} (free disk space or set MODELS_DIR)"
            ) from None
        fetched.append(item)
    return fetched


def _transfer(item: DownloadItem, url: str, *, size: int | None, etag: str | None, token: str | None) -> None:
    """GET ``url`` into ``<target>.incomplete``, resuming what an earlier run left there, check size
    and sha256, then rename into place: the model path never holds a partial or corrupt file.

    (huggingface_hub 2.x no longer resumes across runs, and multi-GB models need it.)
    """
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        build_hf_headers,
        get_session,
        hf_raise_for_status,
    )
    from tqdm.auto import tqdm

    partial = item.target.with_name(item.target.name + PARTIAL_SUFFIX)
    start = partial.stat().st_size if partial.exists() else 0
    if size is not None and start > size:
        start = 0
    if size is not None:
        free = shutil.disk_usage(partial.parent).free
        if free < size - start:
            raise DownloadError(
                f"not enough disk space for {item.filename}: {(size - start) / 1e9:.2f} GB needed, "
                f"{free / 1e9:.2f} GB free in {partial.parent}: free space or set MODELS_DIR elsewhere"
            )
    headers = build_hf_headers(token=token)
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        with get_session().stream("GET", url, headers=headers, follow_redirects=True) as response:
            hf_raise_for_status(response)
            if response.status_code != HTTP_PARTIAL_CONTENT:
                start = 0  # the server ignored the Range: start over
            with (
                partial.open("ab" if start else "wb") as out,
                tqdm(
                    total=size,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    desc=item.filename,
                    disable=are_progress_bars_disabled(),
                ) as bar,
            ):
                for chunk in response.iter_bytes(TRANSFER_CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
    except _transport_errors():
        pass  # judged below by what arrived
    received = partial.stat().st_size
    if size is not None and received != size:
        raise DownloadError(
            f"the transfer of {item.filename} stopped at {received} of {size} bytes: "
            "run the download again to resume it"
        )
    if etag and SHA256_HEX.fullmatch(etag) and _sha256(partial) != etag:
        partial.unlink()
        raise DownloadError(
            f"{item.filename} from {item.repo} does not match the hub's sha256 and was deleted: "
            "run the download again (a proxy or disk may have corrupted it)"
        )
    os.replace(partial, item.target)
