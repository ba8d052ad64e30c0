"""Every family builds from one config for any input shape, and keeps the model contract."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.models import (
    FAMILIES,
    Autoencoder,
    AutoencoderOutput,
    ModelConfig,
    build_model,
    conv_blocks,
    families_for,
    kl_divergence,
)

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (13,)]
IMAGE_ONLY = [name for name, family in FAMILIES.items() if family.image_only]
CASES = [(f, s) for f in FAMILIES for s in SHAPES if not (FAMILIES[f].image_only and len(s) == 1)]


def small(family: str, **kw) -> ModelConfig:
    return ModelConfig(family=family, **{"latent_dim": 3, "width": 16, "depth": 2, **kw})


def data(shape, n: int = 4) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, *shape) if len(shape) == 3 else torch.randn(n, *shape)


class TestBuilding:
    @pytest.mark.parametrize("family,shape", CASES)
    def test_shapes_and_loss(self, family, shape):
        model = build_model(small(family, sparsity=0.1), shape)
        x = data(shape)
        out = model(x)
        assert isinstance(model, Autoencoder) and isinstance(out, AutoencoderOutput)
        assert model.input_shape == shape and model.is_variational == FAMILIES[family].variational
        assert out.recon.shape == x.shape and out.code.shape == (4, 3)
        assert out.loss.dim() == 0 and torch.isfinite(out.loss)
        assert set(out.parts) == ({"recon", "kl", "sparsity"} if model.is_variational else {"recon", "sparsity"})
        z = model.encode(x)
        assert z.shape == (4, 3) and model.decode(z).shape == x.shape
        if len(shape) == 3:  # images come back in [0, 1]
            assert 0 <= out.recon.min() and out.recon.max() <= 1

    @pytest.mark.parametrize("shape", [(1, 30, 30), (3, 64, 64), (2, 5, 7), (1, 1, 1)])
    @pytest.mark.parametrize("family", IMAGE_ONLY)
    def test_conv_any_image_size(self, family, shape):
        x = data(shape, 2)
        assert build_model(small(family, depth=4), shape)(x).recon.shape == x.shape

    def test_conv_depth_is_capped_for_small_images(self):
        assert conv_blocks(5, 8) == 2  # 8 -> 4 -> 2, never 1x1
        assert conv_blocks(3, 28) == 3 and conv_blocks(1, 1) == 1

    def test_same_config_same_state_dict_keys(self):
        a, b = build_model(small("conv-vae"), (1, 8, 8)), build_model(small("conv-vae"), (1, 8, 8))
        b.load_state_dict(a.state_dict())
        x = data((1, 8, 8))
        assert torch.equal(a.eval()(x).recon, b.eval()(x).recon)


class TestFamilyTraits:
    """The registry's traits say what the built models do: pages and the CLI branch on them."""

    def test_families_for_vectors_leave_out_the_image_only_ones(self):
        assert families_for(images=True) == list(FAMILIES)
        assert families_for(images=False) == ["dense", "recurrent", "vae"]

    @pytest.mark.parametrize("family", list(FAMILIES))
    def test_recurrent_families_read_with_the_chosen_cell(self, family):
        model = build_model(small(family, cell="lstm"), (1, 8, 8))
        has_lstm = any(isinstance(m, torch.nn.LSTM) for m in model.modules())
        assert has_lstm == FAMILIES[family].recurrent

    def test_every_family_has_a_label_and_help(self):
        for name, family in FAMILIES.items():
            assert family.name == name and family.label and family.help.endswith(".")


class TestLosses:
    def test_only_recon_without_extras(self):
        assert set(build_model(small("dense"), (13,))(data((13,))).parts) == {"recon"}

    def test_loss_is_weighted_sum_of_parts(self):
        model = build_model(small("vae", beta=2.0, sparsity=0.5), (1, 8, 8)).eval()
        out = model(data((1, 8, 8)))
        p = out.parts
        assert torch.allclose(out.loss, p["recon"] + 2.0 * p["kl"] + 0.5 * p["sparsity"])

    def test_bce_matches_plain_bce_on_the_output(self):
        model = build_model(small("conv", loss="bce"), (1, 8, 8))
        x = data((1, 8, 8))
        out = model(x)
        assert torch.allclose(out.parts["recon"], F.binary_cross_entropy(out.recon, x), atol=1e-5)

    def test_kl_against_torch_distributions(self):
        mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
        x = torch.zeros(5, 7)
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        expected = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum() / x.numel()
        assert torch.allclose(kl_divergence(mu, logvar, x), expected, atol=1e-6)


class TestRandomness:
    def test_noise_only_in_training_and_target_is_clean(self):
        model = build_model(small("dense", noise=0.5), (1, 8, 8))
        x = data((1, 8, 8))
        model.train()
        a, b = model(x), model(x)
        assert not torch.equal(a.recon, b.recon)
        assert torch.allclose(a.parts["recon"], F.mse_loss(a.recon, x))  # compared with the clean input
        model.eval()
        assert torch.equal(model(x).recon, model(x).recon)
        assert torch.equal(model(x).recon, model.decode(model.encode(x)))

    def test_pose_augmentation_moves_the_input_only_in_training(self):
        model = build_model(small("conv", augment=1.0), (1, 28, 28))
        x = torch.zeros(8, 1, 28, 28)
        x[:, :, 10:18, 12:16] = 1.0  # a bar in the middle: any turn or shift moves some of it
        model.train()
        torch.manual_seed(0)
        posed = model.corrupt(x)
        assert posed.shape == x.shape and 0 <= posed.min() and posed.max() <= 1
        assert all(not torch.allclose(posed[i], x[i], atol=1e-3) for i in range(len(x)))
        assert not torch.allclose(posed[0], posed[1], atol=1e-3)  # each image its own pose
        out = model(x)
        assert torch.allclose(out.parts["recon"], F.mse_loss(out.recon, x))  # rebuilds the upright original
        model.eval()
        assert torch.equal(model.corrupt(x), x)

    def test_pose_augmentation_strength_scales_the_change(self):
        x = torch.zeros(64, 1, 28, 28)
        x[:, :, 6:22, 13:15] = 1.0
        change = {}
        for strength in (0.25, 1.0):
            model = build_model(small("conv", augment=strength), (1, 28, 28)).train()
            torch.manual_seed(0)
            change[strength] = (model.corrupt(x) - x).abs().mean().item()
        assert 0 < change[0.25] < change[1.0]

    def test_pose_augmentation_leaves_table_rows_alone(self):
        model = build_model(small("dense", augment=1.0), (13,)).train()
        x = data((13,))
        assert torch.equal(model.corrupt(x), x)

    def test_vae_eval_uses_the_mean(self):
        model = build_model(small("vae"), (13,)).eval()
        x = data((13,))
        assert torch.equal(model(x).code, model.encode(x))
        assert torch.equal(model(x).recon, model(x).recon)

    def test_vae_sample(self):
        model = build_model(small("conv-vae"), (3, 32, 32)).eval()
        s = model.sample(6, generator=torch.Generator().manual_seed(1))
        assert s.shape == (6, 3, 32, 32) and 0 <= s.min() and s.max() <= 1
        assert torch.equal(s, model.sample(6, generator=torch.Generator().manual_seed(1)))
        assert build_model(small("vae"), (13,)).sample(2).shape == (2, 13)


class TestConfigErrors:
    def test_unknown_family_lists_names(self):
        with pytest.raises(ConfigError, match="dense, conv, recurrent, vae, conv-vae"):
            build_model(ModelConfig(family="cnov"), (1, 8, 8))

    def test_bce_on_table(self):
        with pytest.raises(ConfigError, match="mse"):
            build_model(ModelConfig(family="dense", loss="bce"), (13,))

    @pytest.mark.parametrize("family", IMAGE_ONLY)
    def test_conv_on_table(self, family):
        with pytest.raises(ConfigError, match=", ".join(families_for(images=False))):
            build_model(ModelConfig(family=family), (13,))

    @pytest.mark.parametrize(
        "change",
        [
            {"latent_dim": 0},
            {"depth": 0},
            {"noise": -1.0},
            {"augment": -0.5},
            {"augment": float("nan")},
            {"activation": "relu6"},
            {"cell": "rnn"},
        ],
    )
    def test_bad_settings(self, change):
        with pytest.raises(ConfigError):
            build_model(ModelConfig(**change), (1, 8, 8))

    def test_a_depth_past_the_most_is_refused_at_once(self):
        from core.models import MAX_DEPTH, check_model_config

        check_model_config(ModelConfig(family="dense", depth=MAX_DEPTH), (13,))
        with pytest.raises(ConfigError, match=f"depth must be at most {MAX_DEPTH} hidden layers"):
            build_model(ModelConfig(family="dense", depth=MAX_DEPTH + 1), (13,))

    def test_bad_shape(self):
        with pytest.raises(ConfigError, match="shape"):
            build_model(ModelConfig(), (8, 8))
