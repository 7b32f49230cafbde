"""Fetch the configured models from the Hugging Face hub into MODELS_DIR.

huggingface_hub does the transfer: progress bars, resume of interrupted downloads, and an
``.incomplete`` file that is only renamed into place once complete, so a model path never holds a
truncated file. This module decides *what* to fetch and turns hub failures into one clear line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from coordinator.config import ModelCatalog, ModelRole, Settings, snac_dir
from coordinator.errors import CoordinatorError

logger = logging.getLogger(__name__)

ROLES: tuple[ModelRole, ...] = ("orpheus", "llm", "snac")


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
        if role == "snac":
            spec = catalog.snac
            directory = snac_dir(catalog, settings)
            items += [
                DownloadItem(role, spec.repo, name, directory / name, size, spec.license)
                for name, size in spec.files.items()
            ]
            continue
        gguf = catalog.orpheus if role == "orpheus" else catalog.llm
        chosen = (
            quant
            or (settings.orpheus_quant if role == "orpheus" else settings.llm_quant)
            or gguf.default_quant
        )
        entry = gguf.quant(chosen, role=role)  # an unknown name is an error even when unused
        if (settings.orpheus_model_path if role == "orpheus" else settings.llm_model_path) is not None:
            continue  # a local file was configured: nothing to fetch for this model
        items.append(
            DownloadItem(
                role, entry.repo, entry.file, settings.models_dir / entry.file, entry.size_gb, gguf.license
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


def fetch(items: list[DownloadItem], *, token: str | None = None) -> list[DownloadItem]:
    """Download the missing items; return what was fetched. Raises DownloadError with the fix."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    fetched = []
    for item in items:
        if item.present:
            logger.info("%s already present at %s", item.filename, item.target)
            continue
        item.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            hf_hub_download(item.repo, item.filename, local_dir=item.target.parent, token=token)
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
        except LocalEntryNotFoundError:
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
