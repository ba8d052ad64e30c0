"""The per-run disk cache: codes and maps kept per checkpoint fingerprint."""

from __future__ import annotations

import os

import numpy as np
import pytest

import core.run_cache as run_cache
from core.encoding import encode
from core.run_cache import checkpoint_fingerprint, run_codes, run_projection


class TestRunCache:
    def test_codes_and_projection_are_cached_per_checkpoint(self, trained, monkeypatch):
        codes = run_codes(trained, "val")
        assert codes.shape == (len(trained.splits.val), trained.config.model.latent_dim)
        xy = run_projection(trained, "val", "pca", dims=2)
        assert xy.shape == (len(codes), 2)
        files = sorted(p.name for p in trained.run.cache_dir.glob("*.npy"))
        assert any(f.startswith("codes-val-") for f in files) and any(f.startswith("pca2d-val-") for f in files)

        # A restart reads the files instead of computing again ...
        def boom(*args, **kwargs):
            raise AssertionError("recomputed")

        monkeypatch.setattr(run_cache, "encode", boom)
        monkeypatch.setattr(run_cache, "project", boom)
        np.testing.assert_array_equal(run_codes(trained, "val"), codes)
        np.testing.assert_array_equal(run_projection(trained, "val", "pca", dims=2), xy)
        # ... other parameters are other entries ...
        with pytest.raises(AssertionError, match="recomputed"):
            run_projection(trained, "val", "pca", dims=3)
        # ... and a new checkpoint makes every entry stale.
        stat = trained.run.checkpoint_path.stat()
        os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        try:
            with pytest.raises(AssertionError, match="recomputed"):
                run_codes(trained, "val")
        finally:
            os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    def test_split_order_follows_the_splits(self, trained):
        index = trained.splits.get("test")
        np.testing.assert_allclose(
            run_codes(trained, "test"), encode(trained.model, trained.dataset.x[index]), rtol=1e-5
        )


def test_the_fingerprint_is_the_one_a_stored_evaluation_names(trained, tmp_path):
    from types import SimpleNamespace

    stat = trained.run.checkpoint_path.stat()
    assert checkpoint_fingerprint(trained.run) == f"{stat.st_size}-{stat.st_mtime_ns}"
    with pytest.raises(OSError):
        checkpoint_fingerprint(SimpleNamespace(checkpoint_path=tmp_path / "model.safetensors"))  # no checkpoint yet
