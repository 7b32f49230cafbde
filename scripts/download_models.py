#!/usr/bin/env python3
"""Download the models named in models.yaml into MODELS_DIR (default ./models).

    python scripts/download_models.py                       # Orpheus + Gemma (default quants) + SNAC
    python scripts/download_models.py --only orpheus --quant Q4_K_M
    python scripts/download_models.py --list                # what would be fetched, sizes, licenses

Same as `python -m coordinator download`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coordinator.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["download", *sys.argv[1:]]))
