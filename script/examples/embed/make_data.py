"""Generate the small data the embed, rerank and rm examples ship (ours: made from templates, no external rows).

Fictional cities with attributes; a question asks for one attribute. Positives state that attribute;
hard negatives state the city's other attributes (same entity, wrong fact); rm pairs prefer the right
fact over a hedge or a wrong attribute. Train and eval use disjoint cities.
Writes embed/data/qa_{train,eval}.jsonl, rerank/data/qa_{train,eval}.jsonl, rm/data/pairs_{train,eval}.jsonl.
Re-run to regenerate: python script/examples/embed/make_data.py
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SYL = ["ka", "lo", "mi", "ra", "to", "ve", "san", "dor", "bel", "quin", "tha", "mur", "zen", "pol", "ari", "nox"]
ATTRS = {
    "river": ("Which river flows through {c}?", "The {v} river flows through the middle of {c}.",
              ["Amber", "Silver", "Narrow", "Old Stone", "Blue Fox", "Willow", "Red Clay", "Long Reed"]),
    "dish": ("What food is {c} known for?", "{c} is famous for its {v}, served in every market.",
             ["smoked fish", "honey bread", "lentil stew", "plum dumplings", "pepper soup", "goat cheese"]),
    "founded": ("When was {c} founded?", "{c} was founded in the year {v} by traders from the coast.",
                ["1120", "1457", "1803", "1666", "1291", "1712", "1590", "1344"]),
    "mayor": ("Who is the mayor of {c}?", "The current mayor of {c} is {v}, elected last spring.",
              ["Ada Brenner", "Tomas Ilves", "Mira Costa", "Jon Halvard", "Rosa Lind", "Ken Oduya"]),
    "sport": ("Which sport is most popular in {c}?", "In {c} the most popular sport is {v}.",
              ["rowing", "chess boxing", "handball", "cricket", "curling", "kite racing", "fencing"]),
}
HEDGES = ["I'm not sure, you could look it up online.", "That is a great question! Cities have many features.",
          "I cannot answer questions about places."]


def cities(rng, n):
    names = set()
    while len(names) < n:
        names.add("".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(names)


def rows(seed, n):
    rng = random.Random(seed)
    out = []
    for c in cities(rng, n):
        facts = {a: t.format(c=c, v=rng.choice(vals)) for a, (_, t, vals) in ATTRS.items()}
        for a, (q, _, vals) in ATTRS.items():
            wrong = ATTRS[a][1].format(c=c, v=rng.choice([v for v in vals if v not in facts[a]]))
            out.append({"query": q.format(c=c), "pos": [facts[a]], "neg": [f for b, f in facts.items() if b != a],
                        "wrong": wrong})
    rng.shuffle(out)
    return out


def write(path: Path, items) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))


def main() -> None:
    for split, seed, n in (("train", 1, 40), ("eval", 2, 8)):
        data = rows(seed, n)
        write(HERE / "embed" / "data" / f"qa_{split}.jsonl", ({k: r[k] for k in ("query", "pos", "neg")} for r in data))
        write(HERE / "rerank" / "data" / f"qa_{split}.jsonl",
              ({"query": r["query"], "passages": [{"text": t, "label": int(t in r["pos"])} for t in
                                                  sorted(r["pos"] + r["neg"])]} for r in data))
        rng = random.Random(seed)
        write(HERE / "rm" / "data" / f"pairs_{split}.jsonl",
              ({"prompt": r["query"], "chosen": r["pos"][0], "rejected": rng.choice([r["wrong"], rng.choice(HEDGES)])}
               for r in data))


if __name__ == "__main__":
    main()
