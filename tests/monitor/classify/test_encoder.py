"""Fine-tuned layers load over the bundled encoder only if their SHA-256 is the published one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.classify.encoder import (
    TOP_LAYERS_FILE,
    ModelMissing,
    apply_tuned_layers,
    file_sha256,
    resolve,
)


def bundled() -> Any:
    from transformers import AutoModel

    directory, _ = resolve(None)
    return AutoModel.from_pretrained(directory, local_files_only=True)


def tuned_dir(tmp_path: Path, state: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    save_file(state, str(tmp_path / TOP_LAYERS_FILE))
    manifest = {"file": TOP_LAYERS_FILE, "sha256": file_sha256(tmp_path / TOP_LAYERS_FILE)}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def test_tuned_layers_replace_the_bundled_ones_and_name_themselves_in_the_version(
    tmp_path: Path,
) -> None:
    import torch

    network = bundled()
    key = "encoder.layer.5.output.dense.bias"
    changed = {key: torch.full_like(network.state_dict()[key], 0.5).half()}
    directory = tuned_dir(tmp_path, changed)
    suffix = apply_tuned_layers(network, directory)
    digest = json.loads((directory / "manifest.json").read_text())["sha256"]
    assert suffix == f"+tuned@{digest[:12]}"
    assert torch.allclose(network.state_dict()[key], torch.full_like(changed[key].float(), 0.5))


def test_altered_tuned_layers_are_refused_with_the_fix(tmp_path: Path) -> None:
    import torch

    network = bundled()
    key = "encoder.layer.5.output.dense.bias"
    directory = tuned_dir(tmp_path, {key: network.state_dict()[key].half()})
    weights = directory / TOP_LAYERS_FILE
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    before = network.state_dict()[key].clone()
    with pytest.raises(ModelMissing, match="do not match their manifest's SHA-256"):
        apply_tuned_layers(network, directory)
    assert torch.equal(network.state_dict()[key], before)


def test_layers_that_do_not_fit_the_encoder_are_refused(tmp_path: Path) -> None:
    import torch

    directory = tuned_dir(tmp_path, {"encoder.layer.9.output.dense.bias": torch.zeros(384).half()})
    with pytest.raises(ModelMissing, match=r"does not fit this encoder \(unknown encoder.layer.9"):
        apply_tuned_layers(bundled(), directory)
