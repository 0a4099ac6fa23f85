"""The pretraining recipe as typed arguments; the defaults are the bundled model's recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from engine.paths import REPO_ROOT, SAMPLE_DATA

DEFAULT_OUT = SAMPLE_DATA / "models" / "finetui-tiny"
DEFAULT_CORPUS = SAMPLE_DATA / "corpus-v2"
PRECISIONS = ("auto", "bf16", "fp32")
#: How the weights are stored on disk; bfloat16 halves the file, so twice the parameters fit the size budget.
SAVE_DTYPES = ("bfloat16", "float32")


@dataclass
class PretrainArgs:
    """Everything that decides the model; saved next to it as ``pretrain_args.json``."""

    corpus: Path = field(default=DEFAULT_CORPUS, metadata={"help": "folder of cleaned .txt books"})
    out: Path = field(default=DEFAULT_OUT, metadata={"help": "folder the model is written to (Hugging Face format)"})
    heldout_fraction: float = field(default=0.05, metadata={"help": "last share of each book held out for evaluation"})
    corpus_chars: int = field(default=0, metadata={"help": "use only the first N characters of each book (0: all)"})
    vocab_size: int = field(default=4096, metadata={"help": "byte-level BPE vocabulary size"})
    d_model: int = field(default=320, metadata={"help": "hidden size"})
    n_layers: int = field(default=6, metadata={"help": "transformer blocks"})
    n_heads: int = field(default=5, metadata={"help": "attention heads"})
    n_kv_heads: int = field(default=5, metadata={"help": "key/value heads (fewer than n_heads: grouped-query attention)"})
    ffn: int = field(default=896, metadata={"help": "SwiGLU inner size (a multiple of 64: bitsandbytes packs 4-bit CPU weights in blocks of 64)"})
    seq_len: int = field(default=512, metadata={"help": "tokens per training sequence, <s> included"})
    batch_size: int = field(default=8, metadata={"help": "sequences per step"})
    steps: int = field(default=1400, metadata={"help": "optimizer steps"})
    lr: float = field(default=2e-3, metadata={"help": "peak learning rate (AdamW)"})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "final learning rate as a share of the peak (cosine decay)"})
    warmup: int = field(default=100, metadata={"help": "linear warmup steps"})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay on matrices"})
    grad_clip: float = field(default=1.0, metadata={"help": "clip the gradient norm to this (0: off)"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation, batches and samples"})
    device: str = field(default="auto", metadata={"help": "auto (cuda when present, else cpu), cpu or cuda"})
    precision: str = field(default="auto", metadata={"help": "autocast: bf16, fp32, or auto (bf16 where the hardware has it)"})
    threads: int = field(default=0, metadata={"help": "CPU threads for torch (0: torch's default)"})
    eval_every: int = field(default=250, metadata={"help": "steps between quick held-out checks (0: only at the end)"})
    eval_windows: int = field(default=48, metadata={"help": "held-out windows in a quick check (the final evaluation uses all)"})
    log_every: int = field(default=25, metadata={"help": "steps between log lines"})
    sample_tokens: int = field(default=60, metadata={"help": "new tokens in each sample generation of the model card"})
    check_generations: int = field(default=200, metadata={"help": "sampled generations the model card's blocklist check scans"})
    outside_chars: int = field(default=200_000, metadata={"help": "characters scored of each text from outside the corpus in the model card"})
    save_dtype: str = field(default="bfloat16", metadata={"help": "dtype of the saved weights: bfloat16 (half the size on disk) or float32"})

    def __post_init__(self) -> None:
        self.corpus = Path(self.corpus)
        self.out = Path(self.out)
        positive = (
            "vocab_size",
            "d_model",
            "n_layers",
            "n_heads",
            "n_kv_heads",
            "ffn",
            "batch_size",
            "steps",
            "log_every",
            "check_generations",
            "outside_chars",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.seq_len < 8:
            raise ValueError(f"seq_len must be at least 8, not {self.seq_len}")
        if self.d_model % 64 or self.ffn % 64:
            raise ValueError(f"d_model ({self.d_model}) and ffn ({self.ffn}) must be multiples of 64, so the model loads in 4-bit on a CPU")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if not 0 < self.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must be between 0 and 1, not {self.heldout_fraction}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be between 0 and 1, not {self.min_lr_ratio}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, not {self.lr}")
        if self.warmup < 0 or self.eval_every < 0 or self.threads < 0 or self.corpus_chars < 0:
            raise ValueError("warmup, eval_every, threads and corpus_chars must not be negative")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.save_dtype not in SAVE_DTYPES:
            raise ValueError(f"save_dtype must be one of {', '.join(SAVE_DTYPES)}, not {self.save_dtype!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")

    def to_json(self) -> dict:
        """The arguments as JSON; paths inside the repository are written relative to its root."""
        return {k: _show_path(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def _show_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


#: A few steps on a sliver of the corpus with a toy model: seconds, for tests and smoke runs.
QUICK = dict(
    corpus_chars=8_000,
    vocab_size=384,
    d_model=64,
    n_layers=2,
    n_heads=2,
    n_kv_heads=2,
    ffn=128,
    seq_len=64,
    batch_size=4,
    steps=6,
    warmup=2,
    eval_every=3,
    eval_windows=4,
    log_every=2,
    sample_tokens=8,
    check_generations=4,
    outside_chars=4_000,
)


def field_help() -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in fields(PretrainArgs)}
