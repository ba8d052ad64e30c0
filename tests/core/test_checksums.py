"""core.checksums on its own: sealed files read back as safetensors always did, any changed byte that
matters is a MISMATCH, files without a checksum are UNSEALED, and each file is hashed once per version."""

from __future__ import annotations

import json
import os
import struct

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from core import checksums
from core.checksums import Verdict, opened_json, sealed_json, sealed_safetensors, verify
from core.sorting import read_sorting, save_sorting, start

TENSORS = {"weight": torch.linspace(-1, 1, 12).reshape(3, 4), "rows": torch.arange(5, dtype=torch.int64)}


@pytest.fixture
def sealed(tmp_path):
    path = tmp_path / "file.safetensors"
    path.write_bytes(sealed_safetensors(TENSORS, {"latentboard": '{"epoch": 3}'}))
    return path


def test_a_sealed_file_reads_back_as_plain_safetensors(sealed):
    tensors = safetensors_load(sealed.read_bytes())
    for name, tensor in TENSORS.items():
        torch.testing.assert_close(tensors[name], tensor)
    with safe_open(str(sealed), framework="pt") as f:
        assert f.metadata()["latentboard"] == '{"epoch": 3}' and len(f.metadata()["sha256"]) == 64
    assert verify(sealed) is Verdict.SOUND


def test_every_tensor_byte_is_covered(sealed):
    original = sealed.read_bytes()
    (length,) = struct.unpack("<Q", original[:8])
    for offset in range(8 + length, len(original), 7):
        data = bytearray(original)
        data[offset] ^= 0x01
        sealed.write_bytes(bytes(data))
        os.utime(sealed, ns=(offset, offset))  # a new version for the cache, whatever the clock's grain
        assert verify(sealed) is Verdict.MISMATCH, offset


def test_edited_metadata_is_a_mismatch(sealed):
    data = sealed.read_bytes().replace(b'{\\"epoch\\": 3}', b'{\\"epoch\\": 4}')
    assert data != sealed.read_bytes()
    sealed.write_bytes(data)
    assert verify(sealed) is Verdict.MISMATCH


def test_a_file_without_a_checksum_is_unsealed(tmp_path):
    path = tmp_path / "old.safetensors"
    path.write_bytes(safetensors_save(TENSORS))
    assert verify(path) is Verdict.UNSEALED


def test_each_version_of_a_file_is_hashed_once(sealed):
    checksums._cached_verdict.cache_clear()
    for _ in range(5):
        assert verify(sealed) is Verdict.SOUND
    assert checksums._cached_verdict.cache_info().misses == 1
    sealed.write_bytes(sealed_safetensors({"weight": torch.zeros(2)}))
    os.utime(sealed, ns=(1, 1))
    assert verify(sealed) is Verdict.SOUND and checksums._cached_verdict.cache_info().misses == 2


def test_json_round_trip_and_damage():
    obj = {"version": 1, "names": {"0": "sparrows"}, "edits": [{"merge": 1, "into": 0}]}
    text = sealed_json(obj)
    assert opened_json(json.loads(text)) == (obj, Verdict.SOUND)
    edited = json.loads(text.replace(b"sparrows", b"sparrowz"))
    assert opened_json(edited)[1] is Verdict.MISMATCH
    assert opened_json(obj) == (obj, Verdict.UNSEALED)
    assert opened_json([1, 2])[1] is Verdict.UNSEALED


def test_sorting_edits_carry_a_checksum_and_a_changed_one_is_reported(tmp_path):
    sorting = start("kmeans", 3, 10).renamed(0, "sparrows")
    path = save_sorting(tmp_path, sorting)
    assert read_sorting(tmp_path, 10) == (sorting, None)
    path.write_text(path.read_text().replace("sparrows", "sparrowz"))
    saved, problem = read_sorting(tmp_path, 10)
    assert (
        saved is None
        and problem == f"{path} is damaged: it does not match its checksum (it changed on disk after it was saved)"
    )
