"""The fields TRL's trainer configs add to TrainingArguments, so that a config may carry them (`num_iterations: 2`,
`epsilon_high: 0.28`, `label_smoothing: 0.1`) as it would to TRL: a name that is not one of mgtrainer's own
fields, aliases or TrainingArguments' lands in `train.trl_args` and reaches the TRL config of the task's trainer
(its module's TRL_CONFIG: DPOConfig for dpo and orpo, KTOConfig for kto, GRPOConfig for grpo) as it is; TRL checks
the value when the trainer is built. A field of another task's TRL config is refused naming that task.

The names are TRL 1.x's, read from its dataclasses (the config layer does not import TRL: it loads in the light
bootstrap); tests/config/test_trl_args.py checks them against the installed TRL, so a lock that moves TRL shows
what changed. REFUSED: TRL fields that steer what mgtrainer does itself, with why.
"""

from __future__ import annotations

TABLES = {
    "DPOConfig": """
model_init_kwargs trust_remote_code router_aux_loss_coef disable_dropout dataset_num_proc max_length
truncation_mode padding_free pad_to_multiple_of precompute_ref_log_probs precompute_ref_batch_size loss_type
loss_weights ld_alpha f_divergence_type f_alpha_divergence_coef label_smoothing beta use_weighting discopop_tau
activation_offloading sync_ref_model ref_model_mixup_alpha ref_model_sync_steps pad_token
""",
    "KTOConfig": """
model_init_kwargs trust_remote_code router_aux_loss_coef disable_dropout dataset_num_proc max_length
pad_to_multiple_of precompute_ref_log_probs precompute_ref_batch_size loss_type beta desirable_weight
undesirable_weight activation_offloading sync_ref_model ref_model_mixup_alpha ref_model_sync_steps
""",
    "GRPOConfig": """
model_init_kwargs trust_remote_code router_aux_loss_coef disable_dropout cast_lm_head_to_fp32 num_generations
num_generations_eval max_completion_length ds3_gather_for_generation shuffle_dataset pad_to_multiple_of
generation_batch_size steps_per_generation temperature top_p top_k min_p generation_kwargs chat_template_kwargs
repetition_penalty cache_implementation use_vllm vllm_mode vllm_model_impl vllm_enable_sleep_mode
vllm_structured_outputs_regex vllm_server_base_url vllm_server_host vllm_server_port vllm_server_timeout
vllm_group_port vllm_gpu_memory_utilization vllm_max_model_length vllm_tensor_parallel_size beta num_iterations
epsilon delta epsilon_high sapo_temperature_neg sapo_temperature_pos vespo_k_pos vespo_lambda_pos vespo_k_neg
vespo_lambda_neg importance_sampling_level reward_weights multi_objective_aggregation scale_rewards loss_type
mask_truncated_completions sync_ref_model ref_model_mixup_alpha ref_model_sync_steps top_entropy_quantile
entropy_coef use_adaptive_entropy entropy_coef_min entropy_coef_max entropy_coef_delta entropy_target
max_tool_calling_iterations vllm_importance_sampling_correction vllm_importance_sampling_mode
vllm_importance_sampling_clip_max vllm_importance_sampling_clip_min off_policy_mask_threshold
use_bias_correction_kl log_completions log_multimodal num_completions_to_print log_unique_prompts
log_completions_hub_repo use_transformers_continuous_batching transformers_continuous_batching_config
use_transformers_paged vllm_importance_sampling_cap
""",
}
FIELDS = {cls: set(text.split()) for cls, text in TABLES.items()}
REFUSED = {
    "model_init_kwargs": "mgtrainer loads the model itself (model.*: dtype, attn_implementation, quantization_bit)",
    "truncation_mode": "mgtrainer encodes the rows itself: the prompt is kept and the answer cut (data.cutoff_len, "
                       "task.max_prompt_length)",
    "pad_to_multiple_of": "mgtrainer's collator pads each batch to its longest row",
    "pad_token": "the tokenizer's pad token is set when mgtrainer loads it (eos where it has none)",
    "log_completions_hub_repo": "pushing to a hub is not supported",
    "vllm_mode": "grpo generates in its own process (task.use_vllm: vLLM colocated); a separate `trl vllm-serve` "
                 "is not supported",
    "vllm_server_base_url": "grpo generates in its own process (task.use_vllm: vLLM colocated); a separate `trl "
                            "vllm-serve` is not supported",
}


def owners(key: str) -> list[str]:
    """The TRL configs that have the field."""
    return [cls for cls, names in FIELDS.items() if key in names]
