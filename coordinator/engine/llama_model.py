"""A loaded GGUF model through llama.cpp's C API: loading, vocabulary, tokenization, metadata.

The model (weights, vocabulary) is read-only after loading and may be shared across threads;
contexts are not, and live in the engine's worker thread.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
from pathlib import Path

import llama_cpp

from coordinator.config.catalog import DOWNLOAD_SCRIPT
from coordinator.engine.weight_repack import (
    WeightRepack,
    build_features,
    decide_weight_repack,
    read_cpu_flags,
)
from coordinator.errors import ModelLoadError

logger = logging.getLogger(__name__)
llama_logger = logging.getLogger("coordinator.llama_cpp")

GGUF_MAGIC = b"GGUF"
# ggml_log_level values (ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5) → logging levels.
# llama.cpp is chatty at INFO (it dumps all metadata on load), so that becomes DEBUG here.
_GGML_LOG_LEVELS = {
    0: logging.DEBUG,
    1: logging.DEBUG,
    2: logging.DEBUG,
    3: logging.WARNING,
    4: logging.ERROR,
}
_GGML_LOG_CONTINUE = 5
_TOKEN_PIECE_BUFFER = 256
_METADATA_BUFFER = 1 << 16

_backend_lock = threading.Lock()
_backend_ready = False
_last_level = logging.DEBUG


@llama_cpp.llama_log_callback
def _forward_llama_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # Route llama.cpp's stderr chatter into logging, so the CLI shows one clean line by default.
    global _last_level
    py_level = _last_level if level == _GGML_LOG_CONTINUE else _GGML_LOG_LEVELS.get(level, logging.DEBUG)
    _last_level = py_level
    if llama_logger.isEnabledFor(py_level):
        llama_logger.log(py_level, "%s", text.decode("utf-8", errors="replace").rstrip())


def init_backend() -> None:
    """Initialise llama.cpp once per process and take over its logging."""
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            llama_cpp.llama_log_set(_forward_llama_log, ctypes.c_void_p(0))
            llama_cpp.llama_backend_init()
            _backend_ready = True


@functools.cache
def weight_repack_enabled(setting: WeightRepack) -> bool:
    """CPU_WEIGHT_REPACK resolved on this host and this llama.cpp build, logged once per process.
    Resolved when a model loads, never at import: it reads the hardware."""
    init_backend()
    decision = decide_weight_repack(
        setting,
        flags=read_cpu_flags(),
        features=build_features(llama_cpp.llama_print_system_info().decode(errors="replace")),
    )
    logger.log(logging.DEBUG if isinstance(setting, bool) else logging.INFO, "%s", decision.reason)
    return decision.enabled


def _is_cuda_build() -> bool:
    """Whether this llama-cpp-python ships llama.cpp's CUDA backend library."""
    return any((Path(llama_cpp.__file__).parent / "lib").glob("libggml-cuda*"))


def no_gpu_message(n_gpu_layers: int) -> str:
    """What to say when GPU layers were asked for but llama.cpp has no GPU device to put them on."""
    return (
        f"N_GPU_LAYERS={n_gpu_layers} asks for the GPU, but llama.cpp sees no GPU: none is visible to "
        "this process (a container started without `--gpus all` or the NVIDIA runtime), or this "
        "llama.cpp was built without CUDA; running on the CPU (set N_GPU_LAYERS=0 to silence this)"
    )


class LlamaModel:
    """Owns one ``llama_model``. Use ``load``; call ``close`` (or use as a context manager)."""

    def __init__(self, path: Path, handle: llama_cpp.llama_model_p) -> None:
        self.path = path
        self._handle: llama_cpp.llama_model_p | None = handle
        self._vocab = llama_cpp.llama_model_get_vocab(handle)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(handle))

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        n_gpu_layers: int = -1,
        download_hint: str = DOWNLOAD_SCRIPT,
        cpu_weight_repack: WeightRepack = "auto",
    ) -> LlamaModel:
        init_backend()
        try:
            with path.open("rb") as handle:
                magic = handle.read(len(GGUF_MAGIC))
        except OSError as exc:
            raise ModelLoadError(f"cannot read model file {path}: {exc.strerror}") from None
        if magic != GGUF_MAGIC:
            raise ModelLoadError(
                f"{path} is not a GGUF file (it does not start with 'GGUF'): re-download it with "
                f"`{download_hint}`"
            )
        params = llama_cpp.llama_model_default_params()
        # -1 means "all layers": llama.cpp clamps the count to the model's layer count.
        params.n_gpu_layers = 2**31 - 1 if n_gpu_layers < 0 else n_gpu_layers
        # llama.cpp re-lays quantized weights kept on the CPU for its fastest kernels (AMX, AVX
        # repack). Its AMX path crashes on some hosts: see coordinator/engine/weight_repack.py.
        params.use_extra_bufts = weight_repack_enabled(cpu_weight_repack)
        handle = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not handle:
            raise ModelLoadError(
                f"llama.cpp could not load {path}: the file is corrupt or truncated, or its "
                f"architecture is unsupported; re-download it with `{download_hint}`"
            )
        model = cls(path, handle)
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        logger.info(
            "loaded %s: %d tokens in vocabulary, GPU layers requested %s, GPU offload %s",
            path.name,
            model.n_vocab,
            n_gpu_layers,
            "supported" if offload else "not available in this build",
        )
        if n_gpu_layers != 0 and not offload and _is_cuda_build():
            # A CUDA build with no device: the GPU image run without --gpus. (A CPU-only build
            # says so in the line above; warning there would only be noise.)
            logger.warning("%s", no_gpu_message(n_gpu_layers))
        return model

    @property
    def handle(self) -> llama_cpp.llama_model_p:
        if self._handle is None:
            raise RuntimeError(f"model {self.path.name} is closed")
        return self._handle

    def close(self) -> None:
        if self._handle:
            llama_cpp.llama_model_free(self._handle)
            self._handle = None

    def __enter__(self) -> LlamaModel:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def tokenize(self, text: str, *, add_special: bool = False, parse_special: bool = False) -> list[int]:
        """Text → ids. ``parse_special=False`` keeps user text from smuggling in control tokens."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(
            self._vocab, data, len(data), buffer, capacity, add_special, parse_special
        )
        if n < 0:  # buffer too small: llama.cpp returns minus the needed size
            capacity = -n
            buffer = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(
                self._vocab, data, len(data), buffer, capacity, add_special, parse_special
            )
        return list(buffer[:n])

    def token_text(self, token: int) -> str:
        """The vocabulary entry of ``token`` as stored (e.g. '<custom_token_5>', '▁hello')."""
        return llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", errors="replace")

    def token_texts(self) -> list[str]:
        return [self.token_text(token) for token in range(self.n_vocab)]

    def token_piece(self, token: int, *, special: bool = True) -> bytes:
        """The bytes ``token`` contributes to detokenized text."""
        buffer = ctypes.create_string_buffer(_TOKEN_PIECE_BUFFER)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, _TOKEN_PIECE_BUFFER, 0, special)
        return buffer.raw[: max(n, 0)]

    def detokenize(self, tokens: list[int], *, special: bool = False) -> str:
        return b"".join(self.token_piece(t, special=special) for t in tokens).decode(
            "utf-8", errors="replace"
        )

    @property
    def bos_id(self) -> int:
        return int(llama_cpp.llama_vocab_bos(self._vocab))

    @property
    def eos_id(self) -> int:
        return int(llama_cpp.llama_vocab_eos(self._vocab))

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def end_of_generation_ids(self) -> frozenset[int]:
        return frozenset(t for t in range(self.n_vocab) if self.is_end_of_generation(t))

    def metadata(self, key: str) -> str | None:
        buffer = ctypes.create_string_buffer(_METADATA_BUFFER)
        n = llama_cpp.llama_model_meta_val_str(self.handle, key.encode(), buffer, _METADATA_BUFFER)
        return None if n < 0 else buffer.value.decode("utf-8", errors="replace")
