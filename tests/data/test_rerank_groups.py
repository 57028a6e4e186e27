"""Rerank queries whose passages are all positive or all negative (issue 25): `data check --task rerank` names
them and listwise training says how many it skips and which; neither is silent."""

from __future__ import annotations

import json

from mgtrainer.data import iter_records

ROWS = [{"query": "q1", "passages": [{"text": "x", "label": 1}, {"text": "y", "label": 0}]},
        {"query": "q2", "passages": [{"text": "x", "label": 0}, {"text": "y", "label": 0}]},
        {"query": "q3", "passages": [{"text": "x", "label": 1}, {"text": "y", "label": 2}]}]


def _file(tmp_path):
    path = tmp_path / "rr.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_data_check_names_the_one_sided_queries(tmp_path, cli):
    path = _file(tmp_path)
    proc = cli("data", "check", str(path), "--task", "rerank")
    assert proc.returncode == 0, proc.stderr
    tail = "listwise rerank training (task.loss: listwise, the default) cannot form a group from them and skips them"
    assert f"1 queries have no positive passage (first: {path}:2): {tail}" in proc.stdout
    assert f"1 queries have no negative passage (first: {path}:3): {tail}" in proc.stdout


def test_listwise_training_says_what_it_skips(tmp_path, capsys):
    from mgtrainer.tasks.rerank import listwise_rows

    path = _file(tmp_path)
    rows = listwise_rows(list(iter_records(path, kind="rerank")))
    assert [r["query"] for r in rows] == ["q1"]
    assert capsys.readouterr().err.strip() == (f"note: 2 of 3 queries have no positive or no negative passage and "
                                               f"form no listwise group; skipped: {path}:2 (no positive), "
                                               f"{path}:3 (no negative)")
