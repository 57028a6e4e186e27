"""Metrics computed locally: classification (sklearn), generation (rouge-score + nltk BLEU-4).

`evaluate.load("rouge")` fetches its metric script from the hub, which is unreachable offline; the same
numbers come from the libraries that script wraps (rouge_score for ROUGE, nltk's corpus_bleu for BLEU-4).
"""

from __future__ import annotations

import math


def classification_metrics(preds, labels, names: list[str], multi_label: bool = False) -> tuple[dict, dict]:
    """(scalar metrics, details) for class-id (single) or 0/1 matrix (multi-label) predictions."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    ids = list(range(len(names)))
    scalars = {"accuracy": float(accuracy_score(labels, preds)),
               "macro_f1": float(f1_score(labels, preds, average="macro", labels=None if multi_label else ids,
                                          zero_division=0))}
    if multi_label:
        scalars["micro_f1"] = float(f1_score(labels, preds, average="micro", zero_division=0))
    report = classification_report(labels, preds, labels=ids, target_names=names, output_dict=True, zero_division=0)
    details = {"per_class": {n: report[n] for n in names}, "labels": names}
    if not multi_label:
        details["confusion_matrix"] = confusion_matrix(labels, preds, labels=ids).tolist()
    return scalars, details


def generation_metrics(predictions: list[str], references: list[str]) -> dict:
    """ROUGE-1/2/L F1 (x100) and corpus BLEU-4 (x100), whitespace-tokenised, smoothed BLEU."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references):
        scores = scorer.score(ref, pred)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(1, len(predictions))
    out = {f"rouge-{k[5:].lower()}": 100 * v / n for k, v in totals.items()}
    bleu = corpus_bleu([[r.split()] for r in references], [p.split() for p in predictions],
                       smoothing_function=SmoothingFunction().method3)
    out["bleu-4"] = 100 * bleu
    return out


def sample_scores(output: str, reference: str) -> dict:
    """One sample's ROUGE-L F1 (x100, as the corpus metric) and exact match (stripped strings equal)."""
    from rouge_score import rouge_scorer

    rouge_l = rouge_scorer.RougeScorer(["rougeL"]).score(reference, output)["rougeL"].fmeasure
    return {"rouge-l": 100 * rouge_l, "exact_match": output.strip() == reference.strip()}


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))


TIMING = ("_runtime", "_per_second")  # Trainer's speed counters: logged, never results


def scalar_metrics(metrics: dict) -> dict:
    """The numbers of a metrics dict as floats (booleans and strings dropped)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def quality_metrics(metrics: dict) -> dict[str, float]:
    """The quality numbers: no speed counters, no epoch (what is printed and kept in the manifest)."""
    return {k: v for k, v in scalar_metrics(metrics).items() if not k.endswith(TIMING) and k != "epoch"}


def ranking_metrics(scores: list, labels: list, ks=(1, 5, 10)) -> dict[str, float]:
    """Per query: scores over its candidates and their relevance (0 = not relevant, graded allowed).

    Returns Recall@k, MRR@10 and NDCG@10 (linear gain) averaged over queries with a relevant candidate.
    """
    import torch

    out: dict[str, list[float]] = {f"recall@{k}": [] for k in ks} | {"mrr@10": [], "ndcg@10": []}
    for s, rel in zip(scores, labels):
        rel = torch.as_tensor(rel, dtype=torch.float)
        if not (rel > 0).any():
            continue
        ranked = rel[torch.argsort(torch.as_tensor(s, dtype=torch.float), descending=True, stable=True)]
        hits = (ranked > 0).float()
        for k in ks:
            out[f"recall@{k}"].append(float(hits[:k].sum() / hits.sum()))
        first = int(hits.argmax())
        out["mrr@10"].append(1.0 / (first + 1) if first < 10 else 0.0)
        disc = 1.0 / torch.log2(torch.arange(2, 12, dtype=torch.float))
        dcg = (ranked[:10] * disc[: len(ranked[:10])]).sum()
        ideal = torch.sort(rel, descending=True).values[:10]
        out["ndcg@10"].append(float(dcg / (ideal * disc[: len(ideal)]).sum()))
    return {k: sum(v) / len(v) if v else 0.0 for k, v in out.items()}


def pair_metrics(chosen, rejected) -> dict[str, float]:
    """Rewards of chosen and rejected answers -> pairwise accuracy and mean reward margin."""
    diff = chosen.float() - rejected.float()
    return {"accuracy": float((diff > 0).float().mean()), "margin": float(diff.mean())}


def error_rates(refs: list[str], hyps: list[str]) -> dict:
    """Corpus WER and CER with jiwer (in the train, dev and serve locks): edit operations summed over all
    pairs / reference words (characters) summed, so a long reference weighs more than a short one."""
    import jiwer

    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}


def norm(text: str) -> str:
    """Lower case, no periods or commas, single spaces: how media answers are compared."""
    return " ".join(text.lower().replace(".", " ").replace(",", " ").split())
