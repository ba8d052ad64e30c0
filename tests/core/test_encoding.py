"""encode(): codes of a model in batches, the model's mode restored."""

from __future__ import annotations

import numpy as np
import torch

from core.encoding import encode
from core.models import ModelConfig, build_model


class TestEncode:
    def test_batched_codes_match_one_pass_and_mode_is_restored(self):
        torch.manual_seed(0)
        model = build_model(ModelConfig("dense", latent_dim=3, width=32), (1, 8, 8))
        x = torch.rand(10, 1, 8, 8)
        model.train()
        z = encode(model, x, batch_size=3)
        assert model.training  # put back as it was
        model.eval()
        with torch.no_grad():
            expected = model.encode(x).numpy()
        assert z.dtype == np.float32 and z.shape == (10, 3)
        np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
