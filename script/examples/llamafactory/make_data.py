"""Write the small example datasets of script/examples/llamafactory/data (deterministic, no downloads).

    python script/examples/llamafactory/make_data.py

arith_sft.json: alpaca rows (instruction/input/output) of small sums and products.
units_chat.json: sharegpt conversations (human/gpt, a system prompt, two turns) converting units.
dataset_info.json registers both the way LLaMA-Factory expects.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"


def arith(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        if rng.random() < 0.5:
            rows.append({"instruction": "Add the two numbers.", "input": f"{a} and {b}", "output": f"{a} + {b} = {a + b}."})
        else:
            rows.append({"instruction": f"What is {a} times {b}?", "input": "", "output": f"{a} x {b} = {a * b}."})
    return rows


def units(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        km, kg = rng.randint(1, 50), rng.randint(1, 20)
        rows.append({
            "conversations": [
                {"from": "human", "value": f"How many metres are {km} km?"},
                {"from": "gpt", "value": f"{km} km is {km * 1000} metres."},
                {"from": "human", "value": f"And {kg} kg in grams?"},
                {"from": "gpt", "value": f"{kg} kg is {kg * 1000} grams."},
            ],
            "system": "You convert units briefly.",
        })
    return rows


def main() -> None:
    rng = random.Random(0)
    HERE.mkdir(exist_ok=True)
    (HERE / "arith_sft.json").write_text(json.dumps(arith(rng, 64), indent=1) + "\n")
    (HERE / "units_chat.json").write_text(json.dumps(units(rng, 32), indent=1) + "\n")
    info = {
        "arith_sft": {"file_name": "arith_sft.json"},
        "units_chat": {"file_name": "units_chat.json", "formatting": "sharegpt",
                       "columns": {"messages": "conversations", "system": "system"}},
    }
    (HERE / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
