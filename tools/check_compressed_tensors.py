#!/usr/bin/env python3
"""Checks a `qig export` folder with compressed-tensors' own code (not the project's reader).

    python tools/check_compressed_tensors.py EXPORT_FOLDER FAKE_QUANTIZED_FOLDER

EXPORT_FOLDER is a compressed export (pack-quantized or int-quantized); FAKE_QUANTIZED_FOLDER is
the same model and config exported with `qig export --fake-quantize` (float32 weights equal to the
evaluated ones). The script
  1. validates config.json's quantization_config with compressed-tensors' pydantic models
     (QuantizationConfig; its schemes and arguments forbid unknown fields);
  2. decompresses every quantized linear with compressed-tensors' compressor for that format
     (unpack_from_int32 + dequantize) and compares it with the fake-quantized weight.
Needs torch, safetensors, pydantic, loguru, transformers and compressed-tensors (docs/export.md).
"""
import json
import re
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.quantization import QuantizationConfig


def tensors(folder: Path) -> dict:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def scheme_for(module: str, groups: dict):
    """vLLM's order: a regex or name target before a class-name target ("Linear")."""
    for scheme in groups.values():
        for t in scheme.targets:
            if t.startswith("re:") and re.match(t[3:], module):
                return scheme
    for scheme in groups.values():
        if "Linear" in scheme.targets:
            return scheme
    return None


def main(export: Path, fake: Path) -> int:
    config = json.loads((export / "config.json").read_text())["quantization_config"]
    qc = QuantizationConfig.model_validate(config)
    print(f"quantization_config validates: format {qc.format}, status {qc.quantization_status}, "
          f"{len(qc.config_groups)} config group(s), version {config['version']}")
    stored = tensors(export)
    expected = tensors(fake)
    modules = sorted({k[: -len(".weight_packed")] for k in stored if k.endswith(".weight_packed")}
                     | {k[: -len(".weight")] for k in stored if k.endswith(".weight") and stored[k].dtype == torch.int8})
    checked = exact = 0
    worst = 0.0
    for m in modules:
        scheme = scheme_for(m, qc.config_groups)
        assert scheme is not None, f"{m}: no config group targets it"
        fmt = scheme.format or qc.format
        compressor = BaseCompressor.load_from_registry(fmt)
        local = {k[len(m) + 1:]: v for k, v in stored.items() if k.startswith(m + ".") and k[len(m) + 1:].startswith("weight")}
        weight = compressor.decompress(local, scheme)["weight"].to(torch.float32)
        want = expected[m + ".weight"]
        assert weight.shape == want.shape, f"{m}: shape {tuple(weight.shape)} vs {tuple(want.shape)}"
        diff = (weight - want).abs().max().item()
        worst = max(worst, diff)
        checked += 1
        exact += int(torch.equal(weight, want))
    print(f"{checked} quantized linears decompressed by compressed-tensors ({fmt}): {exact} equal to the "
          f"fake-quantized weights exactly, largest difference {worst:.3g}")
    return 0 if checked > 0 and worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
