"""rm: reward model; one-logit sequence-classification head trained with a Bradley-Terry loss.

Every preference form the data layer reads (chosen/rejected strings, messages, sharegpt, OpenAI
preference rows, LLaMA-Factory dpo files, ranked lists expanded into pairs) arrives as a prompt plus a
chosen and a rejected answer; each side is rendered with the chat template into one text, and the
logit of the head on it is the reward. Encoders (MiniLM) and decoders (last non-pad token) both work.
"""

import os
from typing import Literal

from pydantic import Field

from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import classify_probs, first, messages_of
from mgtrainer.driver.serving import same_scores as compare  # noqa: F401 (the contract's compare)

HEAD = "sequence_classification"
RECORD = "preference"
SERVE = Serve(runner="pooling", convert="classify", endpoints=("/classify", "/pooling"))
STREAMING = False
DEFAULTS = {"train": {"group_by_length": True}}  # fewer padded tokens per pair: bench/suite.py rm
PROBE = [{"prompt": "What is 48 + 24?", "response": "48 + 24 = 72."},
         {"prompt": "What is 48 + 24?", "response": "It is 100."},
         {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]}]

# For tokenizers without a chat template (encoders): "Role: content" lines.
PLAIN = "{%- for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n{% endfor %}"


class Config(TaskConfig):
    name: Literal["rm"] = "rm"
    margin: float = Field(0.0, description="Bradley-Terry margin: loss = -log sigmoid(r_chosen - r_rejected - "
                          "margin); > 0 asks for a clear gap.")


def set_template(tok, name: str | None) -> str:
    """The chat template texts are rendered with (saved with the tokenizer in final/)."""
    from mgtrainer.driver.templates import apply_template

    if name is None and not tok.chat_template and tok.eos_token is None:
        tok.chat_template = PLAIN
        return "plain-text"
    return apply_template(tok, name)


def pair_texts(tok, rec) -> dict:
    """{"chosen": text, "rejected": text}: prompt turns + each answer, rendered with the template."""
    from mgtrainer.driver.tokenize import message_dicts

    prompt = message_dicts(rec.messages)
    render = lambda answer: tok.apply_chat_template(  # noqa: E731
        prompt + message_dicts(answer), tools=rec.tools or None, tokenize=False)
    return {"chosen": render(rec.chosen), "rejected": render(rec.rejected)}


def pair_ids(tok, texts: dict, max_len: int) -> dict:
    """Token ids of both sides cut to max_len so that the answers survive.

    The shared start of the two texts (up to its last newline) is the prompt; when too long, the prompt
    loses its beginning and the answer its end, the answer keeping at least half the budget. Cutting
    either text from one end only would make both sides equal for long prompts (right) or drop the
    opening of the answers (left).
    """
    c, r = texts["chosen"], texts["rejected"]
    cut = c[: len(os.path.commonprefix([c, r]))].rfind("\n") + 1
    prompt = tok(c[:cut], add_special_tokens=False)["input_ids"]
    first, last = special_ends(tok)
    budget = max_len - len(first) - len(last)
    out = {}
    for side, text in texts.items():
        answer = tok(text[cut:], add_special_tokens=False)["input_ids"]
        keep = min(len(answer), max(budget - len(prompt), budget // 2))
        head = prompt[max(0, len(prompt) - (budget - keep)) :] if budget > keep else []
        out[side] = first + head + answer[:keep] + last
    return out


def special_ends(tok) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sequence (e.g. [CLS] ... [SEP])."""
    bare, full = tok("a", add_special_tokens=False)["input_ids"], tok("a")["input_ids"]
    i = next(i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare)
    return full[:i], full[i + len(bare) :]


def loss_fn(margin: float):
    from mgtrainer.driver.losses import bradley_terry_loss
    from mgtrainer.driver.pooling import forward_chunks

    def fn(model, inputs, gather=True):
        chosen, rejected = forward_chunks(inputs, lambda b: model(**b).logits[:, 0]).chunk(2)
        return bradley_terry_loss(chosen, rejected, margin)

    return fn


def metrics_fn(tok, rows: list[dict], max_len: int, batch_size: int, margin: float = 0.0):
    """Pairwise accuracy, mean reward margin of chosen over rejected and the BT loss on the eval pairs."""
    from mgtrainer.driver.losses import bradley_terry_loss
    from mgtrainer.driver.metrics import pair_metrics
    from mgtrainer.driver.pooling import score

    def fn(model):
        chosen = score(model, tok, [r["chosen"] for r in rows], max_length=max_len, batch_size=batch_size)
        rejected = score(model, tok, [r["rejected"] for r in rows], max_length=max_len, batch_size=batch_size)
        return pair_metrics(chosen, rejected) | {"loss": float(bradley_terry_loss(chosen, rejected, margin))}

    return fn


def _prepare(cfg, splits, model_dir=None):
    from mgtrainer.driver.pooling_fit import load, max_length

    tok, model = load(cfg, HEAD, model_dir)
    template = set_template(tok, cfg.model.template)
    max_len = max_length(cfg, tok, model)
    rows = [[pair_ids(tok, pair_texts(tok, r), max_len) for r in recs] for recs in (splits.train, splits.eval)]
    return tok, model, template, rows, max_len


def run(cfg, data) -> dict:
    """Train the reward model; write final/ (+ manifest), metrics.jsonl, plots and eval_report.json."""
    from mgtrainer.driver.collate import PairCollator
    from mgtrainer.driver.pooling_fit import PoolingSpec, fit_pooling
    from mgtrainer.driver.run import start

    start(cfg)
    tok, model, template, (train_rows, eval_rows), max_len = _prepare(cfg, data)
    print(f"rm: {len(train_rows)} train pairs, {len(eval_rows)} eval pairs, max_length {max_len}")
    bs, margin = cfg.train.per_device_eval_batch_size, cfg.task.margin
    spec = PoolingSpec("rm", HEAD, PairCollator(tok, max_len), loss_fn(margin),
                       metrics_fn(tok, eval_rows, max_len, bs, margin), "accuracy", manifest={"template": template})
    return fit_pooling(cfg, model, tok, train_rows, eval_rows, spec)


def evaluate(cfg, data, model_dir) -> dict:
    """Pairwise accuracy and mean margin of model_dir on the eval pairs (train pairs if there is no eval)."""
    from mgtrainer.driver.pooling_fit import evaluate_pooling

    tok, model, _, (train_rows, eval_rows), max_len = _prepare(cfg, data, model_dir)
    fn = metrics_fn(tok, eval_rows or train_rows, max_len, cfg.train.per_device_eval_batch_size, cfg.task.margin)
    return evaluate_pooling("rm", fn, model)


# -- serving: the head's raw logit is the reward (vLLM's classify runner without activation) -----------
def serve_settings(manifest) -> dict:
    return {"pooler_config": {"use_activation": False}}


def reward_text(row, tok) -> str:
    """predict: text (already rendered), or messages, or prompt + response, rendered with the chat template."""
    if row.get("text") not in (None, ""):
        return str(row["text"])
    msgs = messages_of(row)
    if msgs is None:
        prompt = first(row, ("prompt", "instruction"), "prompt (with response) or text")
        answer = first(row, ("response", "output", "answer", "chosen"), "response")
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return tok.apply_chat_template(msgs, tokenize=False)


def request(row, manifest, tok) -> str:
    return reward_text(row, tok)


def call(engine, requests: list, max_new_tokens: int) -> list:
    return engine.score(requests)


def response(output, manifest, tok) -> dict:
    return {"prediction": float(output)}


def probe(manifest) -> list[dict]:
    return PROBE


def served(post, rows: list, requests: list) -> tuple[str, list]:
    return "/classify", [p[0] for p in classify_probs(post, requests)]
