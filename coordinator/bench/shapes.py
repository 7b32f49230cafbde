"""The shapes of the released models, and what they cost in memory. Pure: no torch, no llama_cpp.

A decode step's cost depends on a model's shapes and quantization, not on its weights' values, so
random weights of the real shapes measure the real speed (bench/README.md says what they cannot
show: a random model never ends its speech, so utterance lengths are set by max_tokens).

Sources, read 2026-12-01:
- Orpheus 3B = canopylabs/orpheus-3b-0.1-ft config.json: LlamaForCausalLM, hidden_size 3072,
  intermediate_size 8192, num_hidden_layers 28, num_attention_heads 24, num_key_value_heads 8,
  head_dim 128, rms_norm_eps 1e-5, rope_theta 500000, rope_scaling llama3 (factor 32,
  low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192),
  max_position_embeddings 131072, vocab_size 156940 (Llama 3.2 3B's 128256 text tokens, then
  `<custom_token_N>` at 128256 + N). Its GGUFs (lex-au/Orpheus-3b-FT-Q8_0.gguf, and the same
  conversion at Zuellni/orpheus-3b-0.1-ft-GGUF) hold 3.78 B parameters: a separate output.weight
  besides token_embd (3.30 B with them tied), Q8_0 4.03 GB, Q4_K_M 2.36 GB.
- Gemma 2 2B = google/gemma-2-2b-it config.json: Gemma2ForCausalLM, hidden_size 2304,
  intermediate_size 9216, num_hidden_layers 26, num_attention_heads 8, num_key_value_heads 4,
  head_dim 256, query_pre_attn_scalar 256, sliding_window 4096, attn_logit_softcapping 50,
  final_logit_softcapping 30, rms_norm_eps 1e-6, max_position_embeddings 8192, vocab_size 256000,
  embeddings tied (bartowski/gemma-2-2b-it-GGUF: 2.61 B parameters, Q8_0 2.78 GB).
- SNAC 24 kHz = hubertsiuzdak/snac_24khz config.json (coordinator/bench/synthetic.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# Bits per weight of the quantizations we write (ggml block sizes: Q8_0 stores 32 weights in 34
# bytes; Q4_K 256 in 144; Q6_K 256 in 210; Q4_K_M is mostly Q4_K with Q6_K for the output and part
# of attn_v / ffn_down, measured 4.9 bits on average over Orpheus' GGUF: 2.36 GB / 3.78 B weights).
BITS_PER_WEIGHT = {"F32": 32.0, "F16": 16.0, "Q8_0": 8.5, "Q4_K_M": 4.99}
QUANTS = ("Q8_0", "Q4_K_M")
KV_BYTES_PER_VALUE = 2  # llama.cpp's default KV cache type is F16


@dataclass(frozen=True)
class ModelShape:
    """What a GGUF writer needs to lay out one decoder-only transformer."""

    arch: str  # llama.cpp architecture name: "llama" or "gemma2"
    n_embd: int
    n_layers: int
    n_heads: int
    n_heads_kv: int
    n_ff: int
    head_dim: int | None = None  # None: n_embd // n_heads
    rms_eps: float = 1e-5
    n_ctx_train: int = 4096
    rope_theta: float = 10_000.0
    tied_output: bool = False  # no output.weight: llama.cpp reuses token_embd
    # llama3 rope scaling (factor, low_freq_factor, high_freq_factor, original context), or None
    llama3_rope: tuple[float, float, float, int] | None = None
    sliding_window: int | None = None  # gemma2
    attn_softcap: float | None = None  # gemma2
    final_softcap: float | None = None  # gemma2

    @property
    def n_embd_head(self) -> int:
        return self.head_dim or self.n_embd // self.n_heads

    def parameters(self, n_vocab: int) -> int:
        """Weights in the GGUF (norms included)."""
        q = self.n_heads * self.n_embd_head
        kv = self.n_heads_kv * self.n_embd_head
        norms = 4 if self.arch == "gemma2" else 2  # gemma2 adds post-attention and post-FFN norms
        per_layer = self.n_embd * (q + 2 * kv) + q * self.n_embd + 3 * self.n_embd * self.n_ff
        per_layer += norms * self.n_embd
        embeddings = n_vocab * self.n_embd * (1 if self.tied_output else 2)
        return self.n_layers * per_layer + embeddings + self.n_embd

    def kv_bytes_per_token(self) -> int:
        """KV cache per token of context: K and V of every layer (F16)."""
        return 2 * self.n_layers * self.n_heads_kv * self.n_embd_head * KV_BYTES_PER_VALUE


# Released vocabulary sizes and the ids of the tokens the servers look up (see the module docstring).
ORPHEUS_VOCAB = 156_940
ORPHEUS_CUSTOM_TOKEN_OFFSET = 128_256
LLAMA3_SPECIAL_IDS = {"<|begin_of_text|>": 128_000, "<|end_of_text|>": 128_001, "<|eot_id|>": 128_009}
GEMMA_VOCAB = 256_000
# google/gemma-2-2b-it tokenizer: <pad> 0, <eos> 1, <bos> 2, <unk> 3, <start_of_turn> 106, <end_of_turn> 107.
GEMMA_SPECIAL_IDS = {
    "<pad>": 0,
    "<eos>": 1,
    "<bos>": 2,
    "<unk>": 3,
    "<start_of_turn>": 106,
    "<end_of_turn>": 107,
}

ORPHEUS_3B = ModelShape(
    arch="llama",
    n_embd=3072,
    n_layers=28,
    n_heads=24,
    n_heads_kv=8,
    n_ff=8192,
    head_dim=128,
    rms_eps=1e-5,
    n_ctx_train=131_072,
    rope_theta=500_000.0,
    llama3_rope=(32.0, 1.0, 4.0, 8192),
)
GEMMA2_2B = ModelShape(
    arch="gemma2",
    n_embd=2304,
    n_layers=26,
    n_heads=8,
    n_heads_kv=4,
    n_ff=9216,
    head_dim=256,
    rms_eps=1e-6,
    n_ctx_train=8192,
    tied_output=True,
    sliding_window=4096,
    attn_softcap=50.0,
    final_softcap=30.0,
)
# The tests' models (tests/rig): 2 layers, 64 dims, F32, ~10 MB; they load and generate in a blink.
TINY = ModelShape(arch="llama", n_embd=64, n_layers=2, n_heads=4, n_heads_kv=2, n_ff=128)
# For benchmarks only (~200 MB): big enough that a decode step is bound by reading the weights,
# as a real model's is, rather than by the tiny model's per-token arithmetic.
SMALL = ModelShape(arch="llama", n_embd=512, n_layers=8, n_heads=8, n_heads_kv=4, n_ff=1536)
# `bench --synthetic --tiny`: the smallest shapes every quantization applies to as it does to the
# real models (k-quants need rows of a multiple of 256 weights), in both architectures.
TINY_QUANTIZABLE = ModelShape(arch="llama", n_embd=256, n_layers=2, n_heads=4, n_heads_kv=2, n_ff=512)
TINY_GEMMA2 = ModelShape(
    arch="gemma2",
    n_embd=256,
    n_layers=2,
    n_heads=4,
    n_heads_kv=2,
    n_ff=512,
    head_dim=64,
    rms_eps=1e-6,
    tied_output=True,
    sliding_window=4096,
    attn_softcap=50.0,
    final_softcap=30.0,
)


def weight_bytes(shape: ModelShape, n_vocab: int, quant: str) -> int:
    """Approximate GGUF size of ``shape`` in ``quant`` (norms are F32 but negligible)."""
    return round(shape.parameters(n_vocab) * BITS_PER_WEIGHT[quant] / 8)


def kv_cache_bytes(shape: ModelShape, *, streams: int, n_ctx: int) -> int:
    """KV cache llama.cpp reserves for ``streams`` sequences of ``n_ctx`` tokens each."""
    return shape.kv_bytes_per_token() * streams * n_ctx
