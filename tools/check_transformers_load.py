#!/usr/bin/env python3
"""Loads a `qig export` folder of a Hugging Face LLaVA model with transformers (which decompresses
compressed-tensors checkpoints through compressed-tensors) and compares its logits with those of
the same config exported with `qig export --fake-quantize` (plain float weights, no quantization).

    python tools/check_transformers_load.py EXPORT_FOLDER FAKE_QUANTIZED_FOLDER GOLDEN_SAFETENSORS

GOLDEN_SAFETENSORS holds the inputs (case0.input_ids, case0.pixel_values), e.g. the golden file of
services/core/src/test/resources/hf-llava/llava-siglip-qwen2. Needs torch, safetensors,
transformers and compressed-tensors (docs/export.md).
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import LlavaForConditionalGeneration


def main(export: Path, fake: Path, golden: Path) -> int:
    g = load_file(str(golden))
    ids, pixels = g["case0.input_ids"], g["case0.pixel_values"]
    logits = {}
    for name, folder in (("compressed", export), ("fake-quantized", fake)):
        model = LlavaForConditionalGeneration.from_pretrained(str(folder), torch_dtype=torch.float32).eval()
        with torch.no_grad():
            logits[name] = model(input_ids=ids, pixel_values=pixels).logits
        print(f"{name}: loaded by transformers, logits {tuple(logits[name].shape)}")
    diff = (logits["compressed"] - logits["fake-quantized"]).abs().max().item()
    print(f"largest logit difference, compressed against fake-quantized: {diff:.3g} "
          f"(largest logit {logits['fake-quantized'].abs().max().item():.3g})")
    return 0 if diff <= 1e-5 * max(1.0, logits["fake-quantized"].abs().max().item()) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
