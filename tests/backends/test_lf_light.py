"""LLaMA-Factory backend without running LLaMA-Factory: translation, data bridge, resume check, CLI errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgtrainer.backends import lf_config, lf_data
from mgtrainer.backends.llamafactory import from_lf_yaml, read_yaml
from mgtrainer.config import load_config
from mgtrainer.data import iter_records
from mgtrainer.data.records import Message, Record
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]


def run_config(tmp_path, **sections):
    base = {"task": "sft", "backend": "llamafactory", "model": {"name_or_path": "some/model"},
            "data": {"train": ["x.jsonl"]}, "train": {"output_dir": str(tmp_path / "out")}}
    for key, value in sections.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    return load_config(base)


# -- resume_from_checkpoint is checked before launch --------------------------------------------------

@pytest.mark.parametrize("value", [None, "None", "null", "", False])
def test_resume_unset_starts_fresh(tmp_path, value):
    args = lf_config.check_resume({"output_dir": str(tmp_path), "resume_from_checkpoint": value}, "cfg:1")
    assert "resume_from_checkpoint" not in args and args["overwrite_output_dir"] is True


@pytest.mark.parametrize("value", ["None", None])
def test_resume_unset_in_an_lf_yaml_keeps_lf_rule(tmp_path, value):
    args = lf_config.check_resume({"output_dir": str(tmp_path), "resume_from_checkpoint": value}, "lf:1", fresh=False)
    assert "resume_from_checkpoint" not in args and "overwrite_output_dir" not in args


def test_resume_true_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(MgtError, match=r"resume_from_checkpoint is True but .* has no checkpoint-N"):
        lf_config.check_resume({"output_dir": str(tmp_path), "resume_from_checkpoint": True}, "cfg:1")


def test_resume_auto_picks_last_complete_checkpoint(tmp_path):
    for step, complete in ((2, True), (10, True), (12, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    args = lf_config.check_resume({"output_dir": str(tmp_path), "resume_from_checkpoint": "auto"}, "cfg:1")
    assert args["resume_from_checkpoint"] == str(tmp_path / "checkpoint-10")
    assert "overwrite_output_dir" not in args
    fresh = lf_config.check_resume({"output_dir": str(tmp_path / "new"), "resume_from_checkpoint": "auto"}, "c:1")
    assert "resume_from_checkpoint" not in fresh


@pytest.mark.parametrize("make", [False, True])
def test_resume_path_must_be_a_checkpoint(tmp_path, make):
    path = tmp_path / "checkpoint-5"
    if make:
        path.mkdir()
    with pytest.raises(MgtError, match="checkpoint-5 (does not exist|has no trainer_state.json)"):
        lf_config.check_resume({"output_dir": str(tmp_path), "resume_from_checkpoint": str(path)}, "cfg:1")


def test_cli_resume_error_is_one_line_before_any_launch(tmp_path):
    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"model_name_or_path: m\nstage: sft\ndataset: identity\ndataset_dir: {REPO.parent}/shared/data/"
                   f"llama-factory\noutput_dir: {tmp_path / 'out'}\nresume_from_checkpoint: true\n")
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "train", "--llamafactory", str(cfg)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no checkpoint-N" in proc.stderr and "Traceback" not in proc.stderr
    assert "llamafactory-cli" not in proc.stderr  # stopped before launching


# -- RunConfig -> LLaMA-Factory arguments -------------------------------------------------------------

def test_translation_of_a_run_config(tmp_path):
    cfg = run_config(tmp_path, lora={"rank": 4, "target": "q_proj,v_proj"},
                     train={"max_steps": 3, "learning_rate": 1e-3, "early_stopping_patience": 2,
                            "eval_strategy": "steps", "eval_steps": 2}, data={"val_size": 2, "cutoff_len": 64})
    args, notes = lf_config.to_lf_args(cfg, tmp_path / "d", "mgt_train", "mgt_eval")
    assert args["stage"] == "sft" and args["finetuning_type"] == "lora"
    assert (args["lora_rank"], args["lora_alpha"], args["lora_target"]) == (4, 8, "q_proj,v_proj")
    assert (args["max_steps"], args["learning_rate"], args["cutoff_len"]) == (3, 1e-3, 64)
    assert (args["dataset"], args["eval_dataset"], args["eval_strategy"], args["eval_steps"]) == \
        ("mgt_train", "mgt_eval", "steps", 2)
    assert args["early_stopping_steps"] == 2 and args["report_to"] == "none"
    assert args["disable_gradient_checkpointing"] is True and "template" not in args


def test_group_by_length_reaches_lf_by_its_transformers_5_name_where_rows_have_input_ids(tmp_path):
    args, notes = lf_config.to_lf_args(run_config(tmp_path, train={"group_by_length": True}), tmp_path, "t", None)
    assert args["train_sampling_strategy"] == "group_by_length" and "group_by_length" not in args
    args, notes = lf_config.to_lf_args(run_config(tmp_path, task="rm", train={"group_by_length": True}),
                                       tmp_path, "t", None)
    assert "train_sampling_strategy" not in args and "group_by_length" not in args
    assert any("train.group_by_length is not used by LLaMA-Factory's rm stage" in n for n in notes)
    assert "train_sampling_strategy" not in lf_config.to_lf_args(run_config(tmp_path, task="rm"), tmp_path, "t",
                                                                 None)[0]  # the native rm default stays native


def test_translation_all_linear_freeze_and_full(tmp_path):
    args, _ = lf_config.to_lf_args(run_config(tmp_path), tmp_path, "t", None)
    assert args["lora_target"] == "all" and "eval_dataset" not in args and "eval_strategy" not in args
    freeze = run_config(tmp_path, lora={"finetuning_type": "freeze", "freeze_layers": 2,
                                        "freeze_trainable": ["*.mlp.*"]})
    args, _ = lf_config.to_lf_args(freeze, tmp_path, "t", None)
    assert (args["freeze_trainable_layers"], args["freeze_trainable_modules"]) == (2, "mlp")
    args, _ = lf_config.to_lf_args(run_config(tmp_path, lora={"finetuning_type": "full"}), tmp_path, "t", None)
    assert args["finetuning_type"] == "full" and "lora_rank" not in args


def test_translation_refuses_what_lf_cannot_do(tmp_path):
    with pytest.raises(MgtError, match="regex"):
        lf_config.to_lf_args(run_config(tmp_path, lora={"target": ".*proj"}), tmp_path, "t", None)
    with pytest.raises(MgtError, match="freeze_exclude"):
        lf_config.to_lf_args(run_config(tmp_path, lora={"finetuning_type": "freeze", "freeze_exclude": ["*x*"]}),
                             tmp_path, "t", None)
    with pytest.raises(MgtError, match="lora.freeze_include is set"):
        lf_config.to_lf_args(run_config(tmp_path, lora={"freeze_include": ["*vision_tower*"]}), tmp_path, "t", None)
    with pytest.raises(MgtError, match="no LLaMA-Factory stage"):
        lf_config.to_lf_args(run_config(tmp_path, task={"name": "classify"}), tmp_path, "t", None)


def test_preference_settings_reach_lf_by_its_names(tmp_path):
    """A dpo beta, loss and sft term, orpo/simpo and kto weights train under LF as they do natively (before this,
    LF's defaults were used silently: the loop looked up task.pref_beta, which no task config has)."""
    def lf(task):
        return lf_config.to_lf_args(run_config(tmp_path, task=task), tmp_path, "t", None)[0]

    args = lf({"name": "dpo", "beta": 0.3, "loss": "ipo", "ftx": 0.5})
    assert (args["stage"], args["pref_beta"], args["pref_loss"], args["pref_ftx"]) == ("dpo", 0.3, "ipo", 0.5)
    args = lf({"name": "orpo", "beta": 2.0, "loss": "simpo", "simpo_gamma": 0.8, "ftx": 1.0})
    assert (args["stage"], args["pref_loss"], args["pref_beta"], args["simpo_gamma"], args["pref_ftx"]) == \
        ("dpo", "simpo", 2.0, 0.8, 1.0)
    args = lf({"name": "orpo"})  # ORPO's own SFT term (weight 1) is built in on both sides; ftx adds to it
    assert (args["pref_loss"], args["pref_beta"], args["pref_ftx"]) == ("orpo", 0.1, 0.0)
    assert lf({"name": "orpo", "ftx": 0.5})["pref_ftx"] == 0.5
    args = lf({"name": "kto", "beta": 0.2, "desirable_weight": 1.5, "undesirable_weight": 0.5})
    assert (args["stage"], args["pref_beta"], args["kto_chosen_weight"], args["kto_rejected_weight"]) == \
        ("kto", 0.2, 1.5, 0.5)
    for task, match in (({"name": "dpo", "loss": "robust"}, "task.loss is robust"),
                        ({"name": "kto", "loss": "apo_zero_unpaired"}, "expected kto with backend"),
                        ({"name": "dpo", "max_prompt_length": 32}, "task.max_prompt_length is set"),
                        ({"name": "rm", "margin": 1.0}, "whose rm stage has no margin")):
        with pytest.raises(MgtError, match=match):
            lf(task)


def test_streaming_is_refused_before_any_data_is_read(tmp_path):
    """mgtrainer selects and writes the rows for LLaMA-Factory, a full read: data.streaming cannot hold
    (x.jsonl does not exist: the refusal comes first)."""
    from mgtrainer.backends import llamafactory

    cfg = run_config(tmp_path, data={"streaming": True}, train={"max_steps": 5})
    with pytest.raises(MgtError, match="data.streaming is not supported with backend: llamafactory"):
        llamafactory.from_run_config(cfg, [])


def test_a_packaged_model_name_reaches_lf_as_the_folder_native_training_uses(tmp_path, monkeypatch):
    """model.name_or_path: smollm2-135m-instruct resolves as for a native run: the folder `mgtrainer model get`
    imported it into, else the same one-line error naming that command, before anything is read or written."""
    from mgtrainer.backends import llamafactory

    monkeypatch.setenv("MGT_HOME", str(tmp_path / "home"))
    cfg = run_config(tmp_path, model={"name_or_path": "smollm2-135m-instruct"})
    with pytest.raises(MgtError, match="not fetched yet; expected `mgtrainer model get smollm2-135m-instruct`"):
        llamafactory.from_run_config(cfg, [])
    assert not (tmp_path / "out").exists()
    folder = tmp_path / "home" / "models" / "smollm2-135m-instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    args, _ = lf_config.to_lf_args(cfg, tmp_path / "d", "mgt_train", None)
    assert args["model_name_or_path"] == str(folder)


# -- records -> what LLaMA-Factory reads --------------------------------------------------------------

def tool_record() -> Record:
    call = {"type": "function", "function": {"name": "price", "arguments": '{"symbol": "A"}'}}
    msgs = [Message("system", "be brief"), Message("user", "prices?"),
            Message("assistant", "", tool_calls=[call, call]), Message("tool", "1"), Message("tool", "2"),
            Message("assistant", "1 and 2")]
    return Record("chat", messages=msgs, tools=[{"type": "function", "function": {"name": "price"}}], source="f:1")


def test_aligned_merges_parallel_tool_results_like_lf_openai_converter():
    al = lf_data.aligned(tool_record())
    assert [t["role"] for t in al["_prompt"]] == ["user", "function", "observation"]
    assert al["_prompt"][2]["content"] == "1" + lf_data.TOOL_JOIN + "2"
    assert json.loads(al["_prompt"][1]["content"]) == [{"name": "price", "arguments": {"symbol": "A"}}] * 2
    assert al["_response"] == [{"role": "assistant", "content": "1 and 2"}]
    assert (al["_system"], json.loads(al["_tools"])) == ("be brief", [{"name": "price"}])


def test_lf_rows_for_each_kind_and_dataset_info(tmp_path):
    kto = Record("kto", messages=[Message("user", "q"), Message("assistant", "a")], label=False)
    pref = Record("preference", messages=[Message("user", "q")], chosen=[Message("assistant", "good")],
                  rejected=[Message("assistant", "bad")])
    assert lf_data.aligned(kto)["_response"] == [{"role": "assistant", "content": ""},
                                                 {"role": "assistant", "content": "a"}]
    row = lf_data.lf_row(pref)
    assert row["chosen"] == {"from": "gpt", "value": "good"} and row["conversations"][0]["from"] == "human"
    assert lf_data.lf_row(Record("text", text="doc")) == {"text": "doc"}
    train, evals = lf_data.write_dataset_dir(tmp_path, "kto", [kto], [kto])
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info[train]["columns"]["kto_tag"] == "label" and evals in info
    assert json.loads((tmp_path / "mgt_train.jsonl").read_text())["label"] is False


def test_two_answers_in_chosen_is_an_error():
    pref = Record("preference", messages=[Message("user", "q")], source="p.jsonl:3",
                  chosen=[Message("assistant", "a"), Message("user", "b"), Message("assistant", "c")],
                  rejected=[Message("assistant", "bad")])
    with pytest.raises(MgtError, match="p.jsonl:3: 3 turns in chosen"):
        lf_data.lf_row(pref)


# -- LF YAML passthrough ------------------------------------------------------------------------------

def test_passthrough_registers_files_in_any_format(tmp_path, shared_data):
    lfdir = shared_data / "llama-factory"
    msgs = shared_data / "microsoft-foundry" / "stock_toolcall_validation.jsonl"
    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"model_name_or_path: m\nstage: sft\ndataset: identity,{msgs}\ndataset_dir: {lfdir}\n"
                   f"output_dir: {tmp_path / 'out'}\nmerge: false\n")
    args, spec, _ = from_lf_yaml(cfg, ["max_steps=7", "learning_rate=1e-4"])
    assert (args["max_steps"], args["learning_rate"], spec["merge"]) == (7, 1e-4, False) and "merge" not in args
    assert args["dataset"] == "identity,mgt_file_0"
    folder = Path(args["dataset_dir"])
    info = json.loads((folder / "dataset_info.json").read_text())
    assert Path(info["identity"]["file_name"]) == (lfdir / "identity.json").resolve()
    assert info["mgt_file_0"]["formatting"] == "sharegpt" and info["mgt_file_0"]["columns"]["tools"] == "tools"
    rows = [json.loads(line) for line in (folder / "mgt_file_0.jsonl").read_text().splitlines()]
    records = list(iter_records(msgs, kind="chat"))
    assert len(rows) == len(records) == 10
    assert [lf_data.lf_row(r) for r in records] == rows
    assert any(t["from"] == "function_call" for t in rows[0]["conversations"])


def test_passthrough_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(MgtError, match=r"bad.yaml:\d+: invalid YAML"):
        read_yaml(bad)
    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"model_name_or_path: m\ndataset: nope\ndataset_dir: {tmp_path}\noutput_dir: o\n")
    with pytest.raises(MgtError, match="dataset 'nope' is neither"):
        from_lf_yaml(cfg, [])
    with pytest.raises(MgtError, match="not key=value"):
        from_lf_yaml(cfg, ["max_steps"])
    cfg.write_text("model_name_or_path: m\n")
    with pytest.raises(MgtError, match="missing output_dir"):
        from_lf_yaml(cfg, [])


def test_deepspeed_reaches_lf_under_its_torchrun_launch(tmp_path, shared_data):
    """LF refuses `deepspeed:` outside torchrun ("Please use `FORCE_TORCHRUN=1`"): the backend sets it, our
    preset names resolve to the shipped JSON files, an inline dict is written to a file at launch."""
    from mgtrainer.backends.llamafactory import launch_env
    from mgtrainer.driver.shard import PRESETS

    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"model_name_or_path: m\nstage: sft\ndataset: identity\n"
                   f"dataset_dir: {shared_data / 'llama-factory'}\noutput_dir: {tmp_path / 'out'}\ndeepspeed: zero3\n")
    args, _, _ = from_lf_yaml(cfg, [])
    assert args["deepspeed"] == str(PRESETS / "zero3.json")
    assert launch_env(args, None) == {"FORCE_TORCHRUN": "1"}
    assert launch_env(args, 2) == {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"}
    assert launch_env({}, None) == {}
    ds = tmp_path / "ds.json"
    ds.write_text("{}")
    args, _, _ = from_lf_yaml(cfg, [f"deepspeed={ds}"])
    assert args["deepspeed"] == str(ds)

    args, _ = lf_config.to_lf_args(run_config(tmp_path, train={"deepspeed": "zero2"}), tmp_path, "t", None)
    assert args["deepspeed"] == str(PRESETS / "zero2.json")
    inline = {"zero_optimization": {"stage": 2}}
    args, _ = lf_config.to_lf_args(run_config(tmp_path, train={"deepspeed": inline}), tmp_path, "t", None)
    assert args["deepspeed"] == inline
    with pytest.raises(MgtError, match=r"train.fsdp is not translated for LLaMA-Factory"):
        lf_config.to_lf_args(run_config(tmp_path, train={"fsdp": "full_shard"}), tmp_path, "t", None)


def test_packed_cache_and_several_nodes_are_refused_for_lf(tmp_path):
    from mgtrainer.backends import llamafactory

    with pytest.raises(MgtError, match=r"data.packed \(tokenized_path\) holds mgtrainer's own cache"):
        llamafactory.from_run_config(run_config(tmp_path, tokenized_path=str(tmp_path)), [])
    cfg = tmp_path / "lf.yaml"
    cfg.write_text("model_name_or_path: m\noutput_dir: o\n")
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "train", "--llamafactory", str(cfg), "--nnodes", "2",
                           "--rdzv-endpoint", "127.0.0.1:1"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(
        "<command line>:1: --nnodes/--rdzv-endpoint launch the native trainer"), proc.stderr


def test_driver_style_call_with_a_run_config_checks_resume_first(tmp_path, shared_data):
    from mgtrainer.backends.llamafactory import train

    cfg = run_config(tmp_path, data={"train": [str(shared_data / "llama-factory" / "identity.json")]},
                     train={"resume_from_checkpoint": str(tmp_path / "checkpoint-9")})
    with pytest.raises(MgtError, match="checkpoint-9 does not exist"):
        train(cfg, ["ignored=1"])  # as mgtrainer.driver.run.train calls it: overrides already applied
    rows = (tmp_path / "out" / "lf_data" / "mgt_train.jsonl").read_text().splitlines()
    assert len(rows) == 91 and json.loads(rows[0])["conversations"][0]["from"] == "human"


def test_a_busy_output_dir_refuses_an_lf_run_before_anything_is_written(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mgtrainer.driver import rundir; "
                               f"rundir.hold({str(out)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        cfg = tmp_path / "lf.yaml"
        cfg.write_text(f"model_name_or_path: m\nstage: sft\ndataset: identity\ndataset_dir: {REPO.parent}/shared/data/"
                       f"llama-factory\noutput_dir: {out}\n")
        proc = subprocess.run([sys.executable, "-m", "mgtrainer", "train", "--llamafactory", str(cfg)],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"output_dir is in use by another run (pid {holder.pid}:" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [".mgtrainer.lock"]  # nothing of the refused run
