"""Fine-tuning types: LoRA targets (names, regex, all-linear), freeze globs / last-N layers, full; dtype."""

import pytest
from pydantic import BaseModel

from mgtrainer.driver import model as dm
from mgtrainer.errors import MgtError


class Lora(BaseModel):
    finetuning_type: str = "lora"
    rank: int = 4
    alpha: int = 8
    dropout: float = 0.0
    target: list[str] | str = "all-linear"
    merge: bool = True
    freeze_trainable: list[str] | None = None
    freeze_include: list[str] | None = None
    freeze_exclude: list[str] | None = None
    freeze_layers: int | None = None
    use_rslora: bool = False


class Model(BaseModel):
    name_or_path: str
    trust_remote_code: bool = False
    dtype: str = "auto"
    attn_implementation: str | None = None
    template: str | None = None


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("target,hit,miss", [
    (["q_proj"], "q_proj", "v_proj"), ("(q|k)_proj", "k_proj", "o_proj"), ("all-linear", "down_proj", "embed"),
])
def test_lora_targets(tiny_qwen2, target, hit, miss):
    model = dm.apply_finetuning(dm.load_model(Model(name_or_path=str(tiny_qwen2)), "causal_lm"), Lora(target=target),
                                "causal_lm")
    names = _trainable(model)
    assert names and all("lora_" in n for n in names)
    assert any(hit in n for n in names) and not any(miss in n for n in names)


@pytest.mark.parametrize("rslora, scaling", [(False, 8 / 4), (True, 8 / 4 ** 0.5)])
def test_rank_stabilised_lora_scales_by_the_root_of_the_rank(tiny_qwen2, rslora, scaling):
    model = dm.apply_finetuning(dm.load_model(Model(name_or_path=str(tiny_qwen2)), "causal_lm"),
                                Lora(use_rslora=rslora), "causal_lm")  # rank 4, alpha 8
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(scaling)


def test_lora_unknown_target_is_a_user_error(tiny_qwen2):
    model = dm.load_model(Model(name_or_path=str(tiny_qwen2)), "causal_lm")
    with pytest.raises(MgtError, match="lora.target"):
        dm.apply_finetuning(model, Lora(target=["no_such_module"]), "causal_lm")


def test_freeze_globs_and_layers(tiny_llama, minilm):
    model = dm.load_model(Model(name_or_path=str(tiny_llama)), "causal_lm")
    dm.apply_finetuning(model, Lora(finetuning_type="freeze", freeze_trainable=["*mlp*"], freeze_include=["*gate*"]),
                        "causal_lm")
    names = _trainable(model)
    assert names and all("mlp" in n and "gate" not in n for n in names)
    dm.apply_finetuning(model, Lora(finetuning_type="freeze", freeze_layers=1), "causal_lm")
    assert _trainable(model) and all(".layers.1." in n for n in _trainable(model))
    cls = dm.load_model(Model(name_or_path=str(minilm)), "sequence_classification", labels=["a", "b"])
    dm.apply_finetuning(cls, Lora(finetuning_type="freeze", freeze_layers=-1), "sequence_classification")
    assert {n.split(".")[0] for n in _trainable(cls)} == {"bert", "classifier"}
    assert all("layer.0." in n or n.startswith("classifier") for n in _trainable(cls))
    with pytest.raises(MgtError, match="freeze_trainable"):
        dm.apply_finetuning(model, Lora(finetuning_type="freeze", freeze_trainable=["*nothing*"]), "causal_lm")


def test_freeze_include_exclude_mean_the_same_in_every_type(tiny_llama):
    """freeze_include freezes, freeze_exclude trains, after full / lora / freeze chose; peft's prefix is
    not part of the names the globs see; a glob that matches nothing, or one that leaves nothing to
    train, is an error."""
    def trainable(lora):
        model = dm.load_model(Model(name_or_path=str(tiny_llama)), "causal_lm")
        return {n.removeprefix("base_model.model.") for n in _trainable(dm.apply_finetuning(model, lora, "causal_lm"))}

    everything = trainable(Lora(finetuning_type="full"))
    full = trainable(Lora(finetuning_type="full", freeze_include=["*layers.0.*", "*embed*"],
                          freeze_exclude=["*layers.0.mlp.*"]))
    assert full == {n for n in everything if ("layers.0." not in n or ".mlp." in n) and "embed" not in n}
    lora = trainable(Lora(freeze_include=["*layers.0.*"], freeze_exclude=["model.norm.weight"]))
    assert lora and all(".layers.1." in n and "lora_" in n or n == "model.norm.weight" for n in lora)
    assert "model.norm.weight" in lora
    freeze = trainable(Lora(finetuning_type="freeze", freeze_layers=1, freeze_include=["*self_attn*"],
                            freeze_exclude=["model.norm.weight"]))
    assert freeze == {n for n in everything if ".layers.1.mlp." in n or ".layers.1." in n and "layernorm" in n} | {
        "model.norm.weight"}
    model = dm.load_model(Model(name_or_path=str(tiny_llama)), "causal_lm")
    with pytest.raises(MgtError, match=r"lora.freeze_include pattern '\*vison\*' matches no parameter"):
        dm.apply_finetuning(model, Lora(finetuning_type="full", freeze_include=["*vison*"]), "causal_lm")
    with pytest.raises(MgtError, match="freezes every trained parameter"):
        dm.apply_finetuning(model, Lora(finetuning_type="full", freeze_include=["*"]), "causal_lm")
    with pytest.raises(MgtError, match="expected lora.merge: true"):
        dm.apply_finetuning(model, Lora(merge=False, freeze_exclude=["*embed*"]), "causal_lm")


def test_dtype_per_machine_and_heads(tiny_qwen2, minilm):
    import torch

    assert dm.pick_dtype(Model(name_or_path="x")) == (torch.bfloat16 if dm.gpu_bf16() else torch.float32)
    assert dm.pick_dtype(Model(name_or_path="x", dtype="bfloat16")) == torch.bfloat16
    enc = dm.load_model(Model(name_or_path="sentence-transformers/all-MiniLM-L6-v2"), "encoder")
    assert type(enc).__name__ == "BertModel"
    cls = dm.load_model(Model(name_or_path=str(tiny_qwen2)), "sequence_classification",
                        tokenizer=dm.load_tokenizer(Model(name_or_path=str(tiny_qwen2))), labels=["x", "y", "z"])
    assert cls.config.num_labels == 3 and cls.config.pad_token_id is not None
    with pytest.raises(MgtError, match="model.name_or_path"):
        dm.load_model(Model(name_or_path="/no/such/model"), "causal_lm")
