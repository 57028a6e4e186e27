"""The held-out WikiQA check of references/pooling.md (issue 18): MiniLM trained on 70% of the WikiQA dev
queries (data.val_size 0.3, data.seed 0: the split is by query, one row per query), evaluated on the other
30% (38 queries), with the zero-shot bi-encoder beside it.

    python script/examples/rerank/wikiqa_split.py TAG TASK_JSON TRAIN_JSON
    e.g. ... w20 '{"name":"rerank","group_size":4,"bi_encoder_weight":20}' \
             '{"num_train_epochs":1,"learning_rate":5e-5,"data":{"cutoff_len":96}}'
"""
import json, sys, time
from mgtrainer.app import runs
from mgtrainer.config import load_config
from mgtrainer.driver.model import minilm_path
tag, task, train = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
data = {"train": ["/work/wt/shared/data/wikiqa/wikiqa_dev_rerank.jsonl"], "val_size": 0.3, "cutoff_len": 128, "seed": 0}
data.update(train.pop("data", {}))
cfg = load_config({"task": task, "model": {"name_or_path": str(minilm_path())}, "data": data,
    "train": {"output_dir": f"/tmp/wikiqa_split/{tag}", "overwrite_output_dir": True, "num_train_epochs": 1,
              "per_device_train_batch_size": 8, "per_device_eval_batch_size": 64, "logging_steps": 5,
              "save_strategy": "no", "eval_strategy": "epoch", **train}, "lora": {"finetuning_type": "full"}}, [])
t = time.time()
m = runs.train(cfg)
print("RESULT", tag, json.dumps({"task": task, "train": train, "seconds": round(time.time() - t),
      **{k: round(v, 4) for k, v in m.items() if "ndcg" in k or "mrr" in k}}), flush=True)
