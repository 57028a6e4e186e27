"""Per modality on a tiny model: a few training steps change the language model and leave the frozen
tower as it was; final/ reloads to the same eval loss; the manifest names modality and processor; media
rows meant for a text model (or the other modality) stop with one line instead of being dropped."""

import json

import pytest

from mgtrainer.errors import MgtError


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _reloaded_loss(final, records):
    import torch

    from mgtrainer.driver import media

    model, proc = media.load(str(final))
    batch = media.Collator(proc.tokenizer.pad_token_id)(media.encode(proc, records))
    with torch.no_grad():
        return model.eval()(**batch).loss.item()


def _records(path):
    from mgtrainer.data import iter_records

    return list(iter_records(path))


@pytest.mark.parametrize("finetuning", ["lora", "full"])
def test_vision_trains_lm_keeps_tower_and_reloads(media_dir, tiny_llava, make_cfg, finetuning, tmp_path):
    from mgtrainer import manifest as mf
    from mgtrainer.app.runs import load_data
    from mgtrainer.tasks import get

    recs = json.loads((media_dir / "digits.json").read_text())
    (media_dir / "d_train.json").write_text(json.dumps(recs[:8]))
    (media_dir / "d_eval.json").write_text(json.dumps(recs[8:]))
    cfg = make_cfg("msft", tiny_llava, [media_dir / "d_train.json"], [media_dir / "d_eval.json"],
                   lora={"finetuning_type": finetuning}, eval={"generation_samples": 2, "max_new_tokens": 4})
    task = get("msft")
    metrics = task.run(cfg, load_data(cfg, task))
    final = tmp_path / "out" / "final"
    before, after = _weights(tiny_llava), _weights(final)
    lm = [k for k in before if "language_model" in k and k.endswith("q_proj.weight")]
    tower = [k for k in before if "vision_tower" in k]
    assert lm and tower
    assert all(not before[k].equal(after[k]) for k in lm)
    assert all(before[k].equal(after[k]) for k in tower)
    man = mf.read(final)
    assert man.modality == ["image"] and man.processor == "LlavaProcessor" and man.head == "media_lm"
    assert abs(_reloaded_loss(final, _records(media_dir / "d_eval.json")) - metrics["eval_loss"]) < 1e-4
    assert {"eval_accuracy", "eval_wer", "eval_cer"} <= set(metrics)


def test_audio_trains_lm_keeps_tower_and_reloads(media_dir, tiny_audio, make_cfg, tmp_path, monkeypatch):
    import torch

    from mgtrainer import manifest as mf
    from mgtrainer.app.runs import load_data
    from mgtrainer.driver import media, trainer as dt
    from mgtrainer.tasks import get

    cfg = make_cfg("msft", tiny_audio, [media_dir / "sounds.csv"], [media_dir / "sounds.csv"],
                   eval={"generation_samples": 1, "max_new_tokens": 3})
    task = get("msft")
    built, build = [], dt.build_trainer
    monkeypatch.setattr(dt, "build_trainer", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    metrics = task.run(cfg, load_data(cfg, task))
    model, proc = media.load(str(tmp_path / "out" / "final"))
    batch = media.Collator(proc.tokenizer.pad_token_id)(media.encode(proc, _records(media_dir / "sounds.csv")[:2]))
    with torch.no_grad():  # save -> reload: the logits the trained model gave in memory
        assert torch.allclose(built[0].model.eval()(**batch).logits, model.eval()(**batch).logits, atol=1e-5)
    final = tmp_path / "out" / "final"
    before, after = _weights(tiny_audio), _weights(final)
    lm = [k for k in before if "language_model" in k and k.endswith("mlp.up_proj.weight")]
    tower = [k for k in before if "audio_tower" in k]
    assert lm and tower
    assert all(not before[k].equal(after[k]) for k in lm)
    assert all(before[k].equal(after[k]) for k in tower)
    man = mf.read(final)
    assert man.modality == ["audio"] and man.processor == "Qwen2AudioProcessor"
    assert abs(_reloaded_loss(final, _records(media_dir / "sounds.csv")) - metrics["eval_loss"]) < 1e-4
    _predicts(media_dir, tmp_path / "out", tmp_path)


def _predicts(media_dir, out, tmp_path):
    """The toolkit CSV -> CSV (other columns kept, prediction filled) and wav.scp -> text + WER (hf engine)."""
    import csv

    from mgtrainer.serve.predict import predict

    predict(out, media_dir / "sounds.csv", tmp_path / "pred.csv", engine="hf", max_new_tokens=3, progress=False)
    rows = list(csv.DictReader((tmp_path / "pred.csv").open()))
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"] and all(r["audio"].startswith("a/tone_") for r in rows)
    assert all(r["user_prompt"] == "What sound is this?" and r["system_prompt"] == "null" for r in rows)
    from mgtrainer.driver import media

    model, proc = media.load(str(out / "final"))
    rec = _records(media_dir / "sounds.csv")[1]
    assert rows[1]["prediction"] == media.generate(model, proc, media.chat(rec.messages), rec.media, 3)
    scp = tmp_path / "asr" / "wav.scp"
    scp.parent.mkdir()
    scp.write_text("".join(f"u{i} {media_dir / f'a/tone_{i}.wav'}\n" for i in range(2)))
    (scp.parent / "text").write_text("u0 low\nu1 high\n")
    stats = predict(out, scp, tmp_path / "asr" / "hyp" / "text", engine="hf", max_new_tokens=3, progress=False)
    lines = (tmp_path / "asr" / "hyp" / "text").read_text().splitlines()
    assert [ln.split(" ")[0] for ln in lines] == ["u0", "u1"] and stats["wer"] >= 0 and "cer" in stats


def test_images_for_a_text_model_fail_in_one_line(media_dir, tiny_qwen2, make_cfg):
    from mgtrainer.app.runs import load_data
    from mgtrainer.tasks import get

    for name in ("sft", "msft"):
        cfg = make_cfg(name, tiny_qwen2, [media_dir / "digits.json"])
        task = get(name)
        with pytest.raises(MgtError, match=r"digits.json:1: the row has image input \(img/digit_0000.png\)") as err:
            task.run(cfg, load_data(cfg, task))
        assert "\n" not in str(err.value)


def test_images_for_an_audio_model_fail_in_one_line(media_dir, tiny_audio, make_cfg):
    from mgtrainer.app.runs import load_data
    from mgtrainer.tasks import get

    cfg = make_cfg("msft", tiny_audio, [media_dir / "digits.json"])
    with pytest.raises(MgtError, match=r"takes audio; expected a vision-language model"):
        get("msft").run(cfg, load_data(cfg, get("msft")))
