"""The training flow of media chat tasks (images / audio + text -> text): load model + processor, refuse
media the model cannot take, freeze the tower, encode through the processor, train, eval loss + generation
metrics (exact-match accuracy, WER, CER), final/ with the processor + a manifest naming modality and
processor. `head` (the task's HEAD, for the manifest) is the one task-specific thing here."""

from __future__ import annotations

from mgtrainer.driver.metrics import error_rates, norm
from mgtrainer.driver.run import conclude, start


def generation_metrics(model, proc, records, max_new_tokens: int, samples: int | None = None) -> tuple[dict, list]:
    """Greedy answers to the eval prompts: accuracy (normalised exact match), WER, CER, and the samples."""
    from mgtrainer.driver.media import chat, generate

    model.eval()
    refs, hyps, out = [], [], []
    for rec in records[:samples] if samples else records:
        hyp = generate(model, proc, chat(rec.messages), rec.media, max_new_tokens)
        ref = rec.messages[-1].content
        refs.append(norm(ref))
        hyps.append(norm(hyp))
        out.append({"source": rec.source, "reference": ref, "output": hyp})
    if not refs:
        return {}, out
    acc = sum(r == h for r, h in zip(refs, hyps)) / len(refs)
    rates = error_rates([r or "-" for r in refs], hyps)
    return {"eval_accuracy": acc, "eval_wer": rates["wer"], "eval_cer": rates["cer"]}, out


def fit_media(cfg, head: str, data) -> dict:
    from pathlib import Path

    from mgtrainer.driver import media, save, trainer as dt
    from mgtrainer.driver.metrics import scalar_metrics
    from mgtrainer.driver.model import count_params, pick_dtype
    from mgtrainer.driver.model import resolve_model

    path = resolve_model(cfg.model.name_or_path)
    have = media.model_modalities(path)
    media.require(list(data.train) + list(data.eval), have, cfg.model.name_or_path)
    start(cfg)
    model, proc = media.load(path, pick_dtype(cfg.model))
    model = media.finetune(model, cfg.lora)
    trained, total = count_params(model)
    train_rows, eval_rows = media.encode(proc, data.train), media.encode(proc, data.eval)
    print(f"train: {len(train_rows)} rows, eval: {len(eval_rows)} rows; modality {', '.join(sorted(have))}; "
          f"{trained:,} of {total:,} parameters trained")
    trainer = dt.build_trainer(cfg, model, proc.tokenizer, train_rows, eval_rows,
                               media.Collator(proc.tokenizer.pad_token_id), perplexity=True)
    dt.train(trainer, cfg)
    metrics = scalar_metrics(dt.final_eval(trainer)) if eval_rows else {}
    gen, samples = generation_metrics(trainer.model, proc, data.eval, cfg.eval.max_new_tokens,
                                      cfg.eval.generation_samples)
    metrics.update(gen)
    if samples:
        save.write_json(Path(cfg.train.output_dir) / "eval_samples" / f"step-{trainer.state.global_step}.json", samples)
    return conclude(trainer, proc.tokenizer, cfg, head, metrics, show=_print_eval, template="model",
                    export=proc.save_pretrained, modality=sorted(have), processor=type(proc).__name__)


def _print_eval(metrics: dict) -> None:
    print({k: round(v, 4) for k, v in metrics.items() if k.startswith("eval_")})
