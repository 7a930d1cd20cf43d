"""W&B's ``Settings`` fields, as a script ported with ``import tracker as wandb`` passes them.

Every field of W&B's Settings reference is accepted, from code, the environment (``WANDB_<FIELD>``)
and settings files. :data:`HONOURED` fields mean something in a local store: each sets one of our
settings (named here, with the conversion when the value needs one). Every other field of
:data:`RECORDED` has no local meaning (a server URL, a login, a retry budget, Launch, SageMaker):
its value is kept with the run (``metadata.json``, ``wandb_settings``; secrets as ``"<set>"``) and
``init`` names those fields once, in one line. ``fork_from`` and ``resume_from`` are recorded too,
and ``init`` takes them as its arguments of those names. A name in neither list is an error naming the
closest known field.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _keys_or_patterns(value: Any) -> Any:
    """``x_stats_open_metrics_filters``: W&B's mapping form ``{metric regex: {label: regex}}`` keeps
    its metric patterns (label filters are not applied here); the sequence form is ours already."""
    return tuple(value) if isinstance(value, dict) else value


#: W&B field -> (our setting, conversion of the value or None to take it as it is). A field whose
#: value is None (W&B's "not set") leaves our setting at its own value.
HONOURED: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
    "allow_val_change": ("allow_val_change", None),
    "console": ("console", None),
    "disable_code": ("save_code", None),  # True turns save_code off; False leaves it
    "disable_git": ("disable_git", None),
    "entity": ("entity", None),
    "heartbeat_seconds": ("heartbeat_interval", None),
    "ignore_globs": ("ignore_globs", None),
    "mode": ("mode", None),
    "program": ("program", None),
    "project": ("project", None),
    "quiet": ("quiet", None),
    "reinit": ("reinit", None),
    "resume": ("resume", None),
    "root_dir": ("dir", None),
    "run_group": ("run_group", None),
    "run_id": ("run_id", None),
    "run_job_type": ("run_job_type", None),
    "run_name": ("run_name", None),
    "run_notes": ("run_notes", None),
    "run_tags": ("run_tags", None),
    "save_code": ("save_code", None),
    "silent": ("quiet", None),
    "strict": ("strict", None),
    "x_disable_machine_info": ("disable_meta", None),
    "x_disable_meta": ("disable_meta", None),
    "x_disable_stats": ("disable_stats", None),
    "x_label": ("label", None),
    "x_primary": ("primary", None),
    "x_save_requirements": ("save_requirements", None),
    "x_stats_disk_paths": ("stats_disk_paths", None),
    "x_stats_open_metrics_endpoints": ("stats_open_metrics_endpoints", None),
    "x_stats_open_metrics_filters": ("stats_open_metrics_filters", _keys_or_patterns),
    "x_stats_sampling_interval": ("stats_sampling_interval", None),
    "x_stats_track_process_tree": ("stats_track_process_tree", None),
}

#: The fields of W&B's Settings reference that have no local meaning: accepted and recorded.
RECORDED: frozenset[str] = frozenset("""
    allow_offline_artifacts anonymous api_key azure_account_url_to_access_key base_url code_dir
    config_paths console_multipart credentials_file disable_job_creation docker email organization
    force fork_from git_commit git_remote git_remote_url git_root host http_proxy https_proxy
    identity_token_file init_timeout insecure_disable_ssl job_name job_source label_disable launch
    launch_config_path login_timeout notebook_name program_abspath program_relpath relogin
    resume_from resumed sagemaker_disable settings_system max_end_of_run_history_metrics
    max_end_of_run_summary_metrics show_colors show_emoji show_errors show_info show_warnings
    start_method summary_timeout summary_warnings sweep_id sweep_param_path symlink sync_tensorboard
    table_raise_on_max_row_limit_exceeded username x_cli_only_mode x_disable_viewer x_executable
    x_extra_http_headers x_file_stream_max_bytes x_file_stream_max_line_bytes
    x_file_stream_transmit_interval x_file_stream_retry_max x_file_stream_retry_wait_min_seconds
    x_file_stream_retry_wait_max_seconds x_file_stream_timeout_seconds x_file_transfer_retry_max
    x_file_transfer_retry_wait_min_seconds x_file_transfer_retry_wait_max_seconds
    x_file_transfer_timeout_seconds x_files_dir x_flow_control_custom x_flow_control_disabled
    x_graphql_retry_max x_graphql_retry_wait_min_seconds x_graphql_retry_wait_max_seconds
    x_graphql_timeout_seconds x_internal_check_process x_jupyter_name x_jupyter_path x_jupyter_root
    x_live_policy_rate_limit x_live_policy_wait_time x_log_level x_network_buffer x_proxies
    x_runqueue_item_id x_server_side_derived_summary x_server_side_expand_glob_metrics
    x_service_transport x_service_wait x_skip_transaction_log x_start_time x_stats_pid
    x_stats_neuron_monitor_config_path x_stats_dcgm_exporter x_stats_open_metrics_http_headers
    x_stats_cpu_count x_stats_cpu_logical_count x_stats_gpu_count x_stats_gpu_type
    x_stats_gpu_device_ids x_stats_buffer_size x_stats_coreweave_metadata_base_url
    x_stats_coreweave_metadata_endpoint x_sync x_update_finish_state
""".split())

#: Recorded fields whose values may be credentials: kept as ``"<set>"``, never their value.
SECRET: frozenset[str] = frozenset({
    "api_key", "azure_account_url_to_access_key", "http_proxy", "https_proxy", "x_extra_http_headers",
    "x_proxies", "x_stats_open_metrics_http_headers", "credentials_file", "identity_token_file",
})

#: Every W&B field name.
ALL: frozenset[str] = frozenset(HONOURED) | RECORDED

#: W&B's environment variables whose names are not ``WANDB_<FIELD>``.
ENV_NAMES: dict[str, str] = {"root_dir": "WANDB_DIR", "run_name": "WANDB_NAME", "run_notes": "WANDB_NOTES",
                             "run_tags": "WANDB_TAGS", "run_job_type": "WANDB_JOB_TYPE"}


def env_name(field: str) -> str:
    """The environment variable W&B reads a field from."""
    return ENV_NAMES.get(field, "WANDB_" + field.upper())


def honoured(field: str, value: Any) -> tuple[str, Any] | None:
    """``(our setting, value)`` for a honoured W&B field, or None when the value leaves ours as it is."""
    target, convert = HONOURED[field]
    if value is None:
        return None
    if field == "disable_code":
        return (target, False) if _truthy(value) else None
    return target, convert(value) if convert is not None else value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def recorded_value(field: str, value: Any) -> Any:
    """A recorded field's value as it is stored with the run: JSON values as they are, sequences
    as lists, mappings with text keys, anything else as its text; a secret as ``"<set>"``."""
    if value is None:
        return None
    if field in SECRET:
        return "<set>"
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): recorded_value("", v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [recorded_value("", v) for v in value]
    return str(value)
