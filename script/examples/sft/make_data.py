"""Write the sft example's data in script/examples/sft/data (deterministic, no downloads).

    python script/examples/sft/make_data.py

arith_alpaca.json: alpaca rows (instruction/input/output, some with a system prompt) of sums and products.
weather_tools.jsonl: OpenAI `messages` rows with `tools`: the user asks for the weather, the assistant
calls get_weather, the tool answers, the assistant replies from the result (tool-call turns are trained).
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"
CITIES = ["Paris", "Oslo", "Lima", "Cairo", "Tokyo", "Perth", "Quito", "Dakar", "Hanoi", "Bern"]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current temperature of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"]}}}]


def arith(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        if rng.random() < 0.5:
            row = {"instruction": "Add the two numbers.", "input": f"{a} and {b}", "output": f"{a} + {b} = {a + b}."}
        else:
            row = {"instruction": f"What is {a} times {b}?", "input": "", "output": f"{a} x {b} = {a * b}."}
        if rng.random() < 0.3:
            row["system"] = "You are a terse calculator."
        rows.append(row)
    return rows


def weather(rng: random.Random, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        city, unit = rng.choice(CITIES), rng.choice(["celsius", "fahrenheit"])
        temp = rng.randint(-5, 35) if unit == "celsius" else rng.randint(20, 95)
        call = {"id": f"call_{i}", "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city, "unit": unit})}}
        rows.append({"messages": [
            {"role": "user", "content": f"How warm is it in {city} right now, in {unit}?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": json.dumps({"temperature": temp, "unit": unit})},
            {"role": "assistant", "content": f"It is {temp} degrees {unit} in {city}."},
        ], "tools": TOOLS})
    return rows


def main() -> None:
    rng = random.Random(0)
    HERE.mkdir(exist_ok=True)
    (HERE / "arith_alpaca.json").write_text(json.dumps(arith(rng, 200), indent=1) + "\n")
    with open(HERE / "weather_tools.jsonl", "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in weather(rng, 80))


if __name__ == "__main__":
    main()
