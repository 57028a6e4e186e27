"""Media in the data layer: every input form -> records with resolved media, round trips, and the
errors (URL, count mismatch, unreadable/missing/wrong rate/too long) as FILE:LINE lines. No torch."""

import base64
import json
import subprocess
import sys

import pytest

from mgtrainer.data import iter_records
from mgtrainer.data.checks import check
from mgtrainer.data.formats import to_row
from mgtrainer.errors import MgtError


def test_lf_images_column_becomes_media_resolved_next_to_the_file(media_dir):
    recs = list(iter_records(media_dir / "digits.json"))
    assert len(recs) == 12
    assert [m.kind for m in recs[0].media] == ["image"]
    assert recs[0].media[0].path == str((media_dir / "img/digit_0000.png").resolve())
    assert to_row(recs[0]) == json.loads((media_dir / "digits.json").read_text())[0]


def test_lf_dataset_info_declared_images_column(media_dir, tmp_path):
    rows = [{"conv": [{"from": "human", "value": "<image>Which?"}, {"from": "gpt", "value": "3"}],
             "pics": ["img/digit_0003.png"]}]
    (media_dir / "lf_named.json").write_text(json.dumps(rows))
    info = {"digits": {"file_name": "lf_named.json", "formatting": "sharegpt",
                       "columns": {"messages": "conv", "images": "pics"}}}
    (media_dir / "dataset_info.json").write_text(json.dumps(info))
    rep = check("digits", dataset_dir=str(media_dir))
    assert rep.rows == 1 and not rep.rejected and rep.values["media"]["image"] == 1
    (media_dir / "dataset_info.json").unlink()


def test_openai_parts_local_path_and_data_url_round_trip(media_dir, tmp_path):
    wav = base64.b64encode((media_dir / "a/tone_0.wav").read_bytes()).decode()
    row = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": str(media_dir / "img/digit_0001.png")}},
        {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
        {"type": "text", "text": "Both?"}]}, {"role": "assistant", "content": "ok"}]}
    f = tmp_path / "oa.jsonl"
    f.write_text(json.dumps(row) + "\n")
    rec = next(iter_records(f))
    assert rec.messages[0].content == "<image><audio>Both?"
    assert [m.kind for m in rec.media] == ["image", "audio"] and rec.media[1].path.startswith("data:audio/wav")
    assert to_row(rec) == row
    sg = to_row(rec, "sharegpt")  # to LLaMA-Factory's columns and back
    assert sg["images"] == [str(media_dir / "img/digit_0001.png")] and len(sg["audios"]) == 1
    assert not check(str(f)).rejected


def test_toolkit_csv_and_audio_prediction_csv(media_dir, tmp_path):
    rec = next(iter_records(media_dir / "sounds.csv"))
    assert rec.meta["format"] == "mdl" and rec.messages[0].content == "<audio>What sound is this?"
    assert rec.messages[-1].content == "low" and rec.media[0].path.endswith("a/tone_0.wav")
    assert to_row(rec) == {"audio": "a/tone_0.wav", "system_prompt": "null", "user_prompt": "What sound is this?",
                           "prediction": "low", "id": "0"}
    f = media_dir / "bare.csv"
    f.write_text("audio,prediction\na/tone_1.wav,high\n")  # was "cannot detect format"
    rec = next(iter_records(f))
    assert rec.messages[-1].content == "high" and to_row(rec) == {"audio": "a/tone_1.wav", "prediction": "high"}


def test_wav_scp_and_text(media_dir):
    (media_dir / "a/wav.scp").write_text("u0 tone_0.wav\nu1 tone_1.wav\n")
    (media_dir / "a/text").write_text("u0 low tone\nu1 high tone\n")
    recs = list(iter_records(media_dir / "a/wav.scp"))
    assert [r.messages[-1].content for r in recs] == ["low tone", "high tone"]
    assert recs[1].media[0].path == str((media_dir / "a/tone_1.wav").resolve())
    assert to_row(recs[0]) == {"utt": "u0", "audio": "tone_0.wav", "text": "low tone"}
    assert not check(str(media_dir / "a")).rejected


def test_url_refused_in_one_line(tmp_path):
    f = tmp_path / "u.json"
    f.write_text(json.dumps([{"messages": [{"role": "user", "content": "<image>x"}, {"role": "assistant", "content": "y"}],
                              "images": ["https://example.com/cat.png"]}]))
    with pytest.raises(MgtError, match=r"u.json:1: URL https://example.com/cat.png \(images\[0\]\); expected a local"):
        list(iter_records(f))


def test_placeholder_count_mismatch_is_an_error(media_dir):
    f = media_dir / "two.json"
    f.write_text(json.dumps([{"conversations": [{"from": "human", "value": "<image><image>?"},
                                                {"from": "gpt", "value": "1"}], "images": ["img/digit_0000.png"]}]))
    rep = check(str(f))
    assert rep.rejected == [(f"{f}:1", "2 placeholders (image, image) but 1 media (image) (conversations); "
                             "expected one <image>/<audio> placeholder in the text per file, in the same order")]


def test_check_opens_every_file(media_dir):
    from mgtrainer.data.media_samples import tone

    tone(media_dir / "a/slow.wav", 440, 0.2, rate=8000)
    tone(media_dir / "a/long.wav", 440, 31.0)
    (media_dir / "img/broken.png").write_bytes(b"not a png")
    f = media_dir / "bad.csv"
    f.write_text("audio,prediction\na/slow.wav,x\na/long.wav,x\na/none.wav,x\n")
    g = media_dir / "bad_img.json"
    g.write_text(json.dumps([{"messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "1"}],
                              "images": ["img/broken.png"]}]))
    got = dict(check(str(f)).rejected)
    assert "wrong sample rate 8000 Hz" in got[f"{f}:2"] and "31.0 s long" in got[f"{f}:3"]
    assert got[f"{f}:4"].startswith("missing audio file a/none.wav")
    assert check(str(g)).rejected[0][1].startswith("unreadable image img/broken.png")
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "check", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2 and f"{f}:2: wrong sample rate" in proc.stderr and "Traceback" not in proc.stderr


def test_convert_round_trips_media_references(media_dir, tmp_path):
    from mgtrainer.data.convert import convert

    out = tmp_path / "digits_sharegpt.jsonl"
    convert(str(media_dir / "digits.json"), str(out), "sharegpt")
    row = json.loads(out.read_text().splitlines()[0])
    assert row["images"] == ["img/digit_0000.png"] and "<image>" in row["conversations"][0]["value"]
