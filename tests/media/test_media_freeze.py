"""The freeze globs with the vision-language toolkit's meaning, per finetuning type, on a real few-step
msft run of tiny llava: `freeze_include` freezes, `freeze_exclude` trains (wins over include and the
default tower freeze), `freeze_trainable` picks what trains in freeze mode. The state dict of the base
model is compared with final/'s: exactly the parameters the globs leave trainable may change, named
ones must change. final/ reloads to the logits the trained model gave in memory."""

import json

import pytest

pytestmark = pytest.mark.heavy  # three short training runs

PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

CASES = {
    # full: everything but the tower trains; LM layer 0 frozen by include; the tower's embeddings trained by exclude
    "full": ({"finetuning_type": "full", "freeze_include": ["*language_model.layers.0.*"],
              "freeze_exclude": ["*vision_tower.embeddings.*"]},
             lambda n: ("vision_tower" not in n and "language_model.layers.0." not in n)
             or "vision_tower.embeddings." in n,
             ["model.language_model.layers.1.self_attn.q_proj.weight", "model.multi_modal_projector.linear_1.weight",
              "model.vision_tower.embeddings.patch_embedding.weight", "model.language_model.norm.weight"]),
    # lora: adapters on the LM's linear layers; layer 0's adapters frozen by include; the projector's base
    # weights trained by exclude (merged into final/)
    "lora": ({"finetuning_type": "lora", "freeze_include": ["*language_model.layers.0.*"],
              "freeze_exclude": ["*multi_modal_projector*"]},
             lambda n: ("language_model.layers.1." in n and n.endswith(tuple(f"{p}.weight" for p in PROJ)))
             or "multi_modal_projector" in n,
             ["model.language_model.layers.1.self_attn.q_proj.weight", "model.language_model.layers.1.mlp.down_proj.weight",
              "model.multi_modal_projector.linear_2.weight"]),
    # freeze: freeze_trainable picks the projector and LM layer 1's MLP; include takes down_proj back out;
    # exclude trains the tower's patch embedding
    "freeze": ({"finetuning_type": "freeze",
                "freeze_trainable": ["*multi_modal_projector*", "*language_model.layers.1.mlp.*"],
                "freeze_include": ["*down_proj*"], "freeze_exclude": ["*vision_tower.embeddings.patch_embedding*"]},
               lambda n: "multi_modal_projector" in n or "vision_tower.embeddings.patch_embedding" in n
               or ("language_model.layers.1.mlp." in n and "down_proj" not in n),
               ["model.language_model.layers.1.mlp.up_proj.weight", "model.multi_modal_projector.linear_2.weight",
                "model.vision_tower.embeddings.patch_embedding.weight"]),
}


def _params(path):
    from mgtrainer.driver import media

    model, proc = media.load(str(path))
    return model, proc, {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("mode", list(CASES))
def test_freeze_globs_change_exactly_the_intended_parameters(media_dir, tiny_llava, make_cfg, tmp_path, monkeypatch,
                                                             mode):
    import torch

    from mgtrainer.app.runs import load_data
    from mgtrainer.data import iter_records
    from mgtrainer.driver import media, trainer as dt
    from mgtrainer.tasks import get

    lora, may_change, must_change = CASES[mode]
    recs = json.loads((media_dir / "digits.json").read_text())
    for r in recs[:8]:
        r["images"] = [str(media_dir / p) for p in r["images"]]
    (tmp_path / "train.json").write_text(json.dumps(recs[:8]))
    cfg = make_cfg("msft", tiny_llava, [tmp_path / "train.json"], lora=lora, eval={"generation_samples": 0})
    built = []
    build = dt.build_trainer
    monkeypatch.setattr(dt, "build_trainer", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    get("msft").run(cfg, load_data(cfg, get("msft")))

    _, _, before = _params(tiny_llava)
    reloaded, proc, after = _params(tmp_path / "out" / "final")
    assert before.keys() == after.keys()
    changed = {n for n in before if not before[n].equal(after[n])}
    allowed = {n for n in before if may_change(n)}
    assert changed <= allowed, sorted(changed - allowed)
    assert set(must_change) <= changed, sorted(set(must_change) - changed)
    assert not any("vision_tower" in n and "embeddings" not in n for n in changed)

    batch = media.Collator(proc.tokenizer.pad_token_id)(media.encode(proc, list(iter_records(tmp_path / "train.json"))[:2]))
    with torch.no_grad():
        trained = built[0].model.eval()(**batch).logits
        again = reloaded.eval()(**batch).logits
    assert torch.allclose(trained, again, atol=1e-5)
