"""Generate the small intent dataset the classify example ships (intents_train.jsonl, intents_eval.jsonl).

Rows are {"text", "label"}; 6 intents; sentences come from hand-written templates and slot values, so
the data is ours (no external rows). Train and eval use disjoint template/slot draws from separate seeds.
Re-run to regenerate: python script/examples/classify/make_intents.py
"""

import json
import random
from pathlib import Path

SLOTS = {
    "city": ["Paris", "Berlin", "Tokyo", "New York", "Lisbon", "Cairo", "Sydney", "Toronto", "Madrid", "Oslo",
             "Seoul", "Lima", "Boston", "Denver", "Rome", "Dublin"],
    "day": ["today", "tomorrow", "on Friday", "this weekend", "on Monday", "tonight", "next week", "on Sunday"],
    "time": ["6 am", "7:30", "noon", "8 in the morning", "5:45 pm", "half past six", "9 pm", "quarter to seven"],
    "artist": ["Adele", "the Beatles", "Miles Davis", "Taylor Swift", "Queen", "Bach", "Daft Punk", "Nina Simone",
               "Radiohead", "Beyonce", "Coldplay", "Metallica"],
    "genre": ["jazz", "rock", "classical music", "hip hop", "lo-fi beats", "country", "techno", "blues"],
    "cuisine": ["Italian", "Thai", "Mexican", "sushi", "Indian", "vegan", "French", "Korean barbecue"],
    "people": ["two", "four", "six", "three", "a party of eight", "five", "me and my wife", "the whole team"],
    "contact": ["mom", "Alex", "my boss", "Sarah", "the landlord", "Dad", "Priya", "my brother", "Kenji"],
    "message": ["I'm running late", "see you at 8", "call me back", "the meeting moved", "happy birthday",
                "dinner is ready", "I landed safely", "don't forget the keys"],
    "amount": ["100", "25", "3,000", "49.99", "a thousand", "250", "12", "80"],
    "cur": ["dollars", "euros", "yen", "pounds", "pesos", "francs", "rupees", "won"],
}

TEMPLATES = {
    "get_weather": [
        "what's the weather like in {city} {day}", "will it rain in {city} {day}", "how hot will it be {day}",
        "do I need an umbrella {day}", "forecast for {city} {day} please", "is it going to snow in {city}",
        "tell me the temperature in {city}", "how windy is it in {city} {day}", "weather report for {day}",
        "should I wear a jacket in {city} {day}",
    ],
    "set_alarm": [
        "wake me up at {time}", "set an alarm for {time} {day}", "alarm at {time} please",
        "I need to get up at {time} {day}", "can you set my alarm to {time}", "create an alarm for {time}",
        "remind me to wake up at {time}", "put an alarm on for {time} {day}", "alarm for {time}",
        "make sure I'm awake by {time}",
    ],
    "play_music": [
        "play some {genre}", "put on {artist}", "I want to listen to {artist}", "play {genre} by {artist}",
        "start my {genre} playlist", "shuffle songs by {artist}", "can you play something by {artist}",
        "turn on {genre} in the kitchen", "play the latest album from {artist}", "some {genre} would be nice",
    ],
    "book_restaurant": [
        "book a table for {people} at a {cuisine} place {day}", "reserve dinner for {people} {day}",
        "find me a {cuisine} restaurant in {city} and book it", "I'd like a table for {people} at {time}",
        "get a reservation at a {cuisine} restaurant {day}", "book {cuisine} for {people} at {time} {day}",
        "can you reserve a spot for {people} {day}", "table for {people} somewhere {cuisine} please",
        "make a dinner booking in {city} for {people}", "we want to eat {cuisine} {day}, book it",
    ],
    "send_message": [
        "text {contact} that {message}", "send a message to {contact}: {message}", "tell {contact} {message}",
        "message {contact} saying {message}", "let {contact} know {message}", "can you text {contact}",
        "write to {contact} that {message}", "send {contact} a quick note: {message}",
        "shoot {contact} a text, {message}", "sms {contact}: {message}",
    ],
    "convert_currency": [
        "how much is {amount} {cur} in {cur}", "convert {amount} {cur} to {cur}", "what are {amount} {cur} worth",
        "exchange rate from {cur} to {cur}", "{amount} {cur} to {cur} please", "how many {cur} for {amount} {cur}",
        "what's {amount} {cur} in {cur} today", "change {amount} {cur} into {cur}",
        "currency conversion {cur} to {cur}", "is {amount} {cur} a lot of {cur}",
    ],
}


def fill(template: str, rng: random.Random) -> str:
    out = template
    while "{" in out:
        start = out.index("{")
        key = out[start + 1 : out.index("}", start)]
        out = out[:start] + rng.choice(SLOTS[key]) + out[out.index("}", start) + 1 :]
    return out


def make(seed: int, per_class: int, templates: slice) -> list[dict]:
    rng = random.Random(seed)
    rows, seen = [], set()
    for label, temps in TEMPLATES.items():
        temps = temps[templates]
        n = 0
        while n < per_class:
            text = fill(rng.choice(temps), rng)
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": label})
                n += 1
    rng.shuffle(rows)
    return rows


def write(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent / "data"
    here.mkdir(exist_ok=True)
    write(here / "intents_train.jsonl", make(seed=1, per_class=60, templates=slice(0, 8)))
    write(here / "intents_eval.jsonl", make(seed=2, per_class=20, templates=slice(None)))
    print(f"wrote {here}/intents_train.jsonl (360 rows) and intents_eval.jsonl (120 rows)")
