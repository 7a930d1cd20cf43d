"""W&B's Settings fields: every one accepted (from code, the environment and files), the ones with a
local meaning honoured, the rest recorded with the run and named once at init."""

from __future__ import annotations

import json
import os

import pytest

import tracker
from tracker import Settings, UsageError

# The parameters of W&B's Settings.__init__ as its reference lists them (the seed document's
# "method Settings.__init__"), copied here so that this test does not read our own table.
WANDB_FIELDS = """
allow_offline_artifacts allow_val_change anonymous api_key azure_account_url_to_access_key base_url code_dir
config_paths console console_multipart credentials_file disable_code disable_git disable_job_creation docker email
entity organization force fork_from git_commit git_remote git_remote_url git_root heartbeat_seconds host http_proxy
https_proxy identity_token_file ignore_globs init_timeout insecure_disable_ssl job_name job_source label_disable
launch launch_config_path login_timeout mode notebook_name program program_abspath program_relpath project quiet
reinit relogin resume resume_from resumed root_dir run_group run_id run_job_type run_name run_notes run_tags
sagemaker_disable save_code settings_system max_end_of_run_history_metrics max_end_of_run_summary_metrics
show_colors show_emoji show_errors show_info show_warnings silent start_method strict summary_timeout
summary_warnings sweep_id sweep_param_path symlink sync_tensorboard table_raise_on_max_row_limit_exceeded username
x_cli_only_mode x_disable_meta x_disable_stats x_disable_viewer x_disable_machine_info x_executable
x_extra_http_headers x_file_stream_max_bytes x_file_stream_max_line_bytes x_file_stream_transmit_interval
x_file_stream_retry_max x_file_stream_retry_wait_min_seconds x_file_stream_retry_wait_max_seconds
x_file_stream_timeout_seconds x_file_transfer_retry_max x_file_transfer_retry_wait_min_seconds
x_file_transfer_retry_wait_max_seconds x_file_transfer_timeout_seconds x_files_dir x_flow_control_custom
x_flow_control_disabled x_graphql_retry_max x_graphql_retry_wait_min_seconds x_graphql_retry_wait_max_seconds
x_graphql_timeout_seconds x_internal_check_process x_jupyter_name x_jupyter_path x_jupyter_root x_label
x_live_policy_rate_limit x_live_policy_wait_time x_log_level x_network_buffer x_primary x_proxies
x_runqueue_item_id x_save_requirements x_server_side_derived_summary x_server_side_expand_glob_metrics
x_service_transport x_service_wait x_skip_transaction_log x_start_time x_stats_pid x_stats_sampling_interval
x_stats_neuron_monitor_config_path x_stats_dcgm_exporter x_stats_open_metrics_endpoints
x_stats_open_metrics_filters x_stats_open_metrics_http_headers x_stats_disk_paths x_stats_cpu_count
x_stats_cpu_logical_count x_stats_gpu_count x_stats_gpu_type x_stats_gpu_device_ids x_stats_buffer_size
x_stats_coreweave_metadata_base_url x_stats_coreweave_metadata_endpoint x_stats_track_process_tree x_sync
x_update_finish_state
""".split()

# A value of each type W&B's reference gives the field (what a script would pass).
SAMPLE = {"console": "auto", "mode": "dryrun", "reinit": True, "resume": "allow", "root_dir": "runs",
          "run_tags": ("a", "b"), "x_stats_disk_paths": ("/",), "x_stats_open_metrics_endpoints": {"n": "http://x"},
          "x_stats_open_metrics_filters": {"n.gpu_.*": {"gpu": "0"}}, "ignore_globs": ("*.tmp",),
          "x_stats_sampling_interval": 5.0, "heartbeat_seconds": 30, "x_label": "rank-0", "program": "train.py"}


def test_every_field_of_wandbs_reference_is_accepted():
    assert len(WANDB_FIELDS) == len(set(WANDB_FIELDS)) >= 130
    for field in WANDB_FIELDS:
        value = SAMPLE.get(field, True if field.startswith(("x_disable", "disable", "show_", "x_sync")) else "v")
        if field in ("quiet", "silent", "strict", "save_code", "allow_val_change", "x_save_requirements",
                     "x_stats_track_process_tree", "x_primary", "disable_git", "disable_code", "x_disable_meta",
                     "x_disable_stats", "x_disable_machine_info"):
            value = True
        if field in ("project", "entity", "run_id", "run_name", "run_group", "run_job_type", "run_notes"):
            value = "name1"
        s = Settings(**{field: value})
        assert s.explicit, field  # it set one of ours, or it is recorded
        getattr(s, field)  # W&B's name reads back


def test_the_seeds_settings_run_unchanged(store, capsys):
    settings = tracker.Settings(x_stats_disk_paths=("/", "/tmp"), console="auto", mode="dryrun",
                                start_method="thread", x_label="rank-0", program="train.py",
                                api_key="not-to-be-stored", base_url="https://api.wandb.ai",
                                x_stats_sampling_interval=0.5)
    assert settings.stats_disk_paths == ("/", "/tmp") and settings.x_stats_disk_paths == ("/", "/tmp")
    assert settings.console == "wrap" and settings.mode == "offline"
    assert settings.stats_sampling_interval == 0.5
    assert settings.recorded == {"start_method": "thread", "api_key": "<set>", "base_url": "https://api.wandb.ai"}
    run = tracker.init(project="p", dir=store, settings=settings)
    run.log({"a": 1.0})
    run.finish(quiet=True)
    err = capsys.readouterr().err
    assert err.count("W&B settings with no meaning in a local store") == 1, err
    assert "api_key, base_url, start_method" in err
    read = tracker.Api(dir=store).run(run.path)
    assert read.metadata["wandb_settings"] == {"start_method": "thread", "api_key": "<set>",
                                              "base_url": "https://api.wandb.ai"}
    assert read.metadata["label"] == "rank-0" and read.metadata["program"] == "train.py"
    for base, _, files in os.walk(store):  # the key is nowhere in the store
        for f in files:
            with open(os.path.join(base, f), "rb") as fh:
                assert b"not-to-be-stored" not in fh.read(), f


def test_values_wandb_names_for_ours():
    assert Settings(mode="run").mode == "online"
    assert Settings(console="wrap_emu").console == "wrap"
    assert Settings(reinit=False).reinit == "return_previous"
    assert Settings(disable_code=True, save_code=True).save_code is True  # ours wins
    assert Settings(disable_code=True).save_code is False
    assert Settings(disable_code=False).save_code is False  # does not turn it on
    assert Settings(save_code=None, strict=None).save_code is False  # None: not set
    assert Settings(stats_sampling_interval=1.0, x_stats_sampling_interval=5.0).stats_sampling_interval == 1.0
    assert Settings(x_stats_open_metrics_filters={"n.gpu_.*": {"gpu": "0"}}).stats_open_metrics_filters == ("n.gpu_.*",)
    assert Settings(silent=True).quiet is True
    assert Settings(root_dir="somewhere").dir == "somewhere"


def test_an_unknown_name_names_the_closest_field():
    with pytest.raises(UsageError, match="did you mean 'x_stats_disk_paths'"):
        Settings(x_stats_disk_path=("/",))
    with pytest.raises(UsageError, match="did you mean 'flush_interval'"):
        Settings(flush_intervall=1.0)
    with pytest.raises(AttributeError, match="did you mean 'console'"):
        Settings().consle  # noqa: B018
    assert Settings(mode="shared", x_primary=False).primary is False  # shared mode: tests/test_shared.py


def test_wandb_variables_set_honoured_and_recorded_fields(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_X_STATS_SAMPLING_INTERVAL", "7")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_START_METHOD", "thread")
    monkeypatch.setenv("WANDB_X_DISABLE_STATS", "true")
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    monkeypatch.setenv("TRACKER_CONSOLE", "redirect")  # ours first
    s = Settings.load()
    assert s.stats_sampling_interval == 7.0 and s.console == "redirect" and s.disable_stats is True
    assert s.dir == str(tmp_path / "wb") and s.mode == "offline"
    assert s.recorded == {"start_method": "thread"}


def test_wandb_names_in_a_settings_file(tmp_path):
    (tmp_path / "tracker.toml").write_text('[settings]\nx_stats_disk_paths = ["/", "/data"]\nroot_dir = "runs"\n'
                                           'base_url = "https://example.invalid"\n')
    s = Settings.load(cwd=tmp_path)
    assert s.stats_disk_paths == ("/", "/data")
    assert s.dir == os.path.realpath(tmp_path / "runs")  # relative to the file, as ours
    assert s.recorded == {"base_url": "https://example.invalid"}
    (tmp_path / "tracker.toml").write_text('x_stats_disk_pats = ["/"]\n')
    with pytest.raises(UsageError, match="tracker.toml.*did you mean 'x_stats_disk_paths'"):
        Settings.load(cwd=tmp_path)


def test_ignore_globs_keeps_matching_files_out_of_save(make_run, tmp_path, store):
    (tmp_path / "out").mkdir()
    for name in ("model.ckpt", "scratch.tmp", "notes.txt"):
        (tmp_path / "out" / name).write_text(name)
    run = make_run(settings={"ignore_globs": ("*.tmp", "out/notes.txt")})
    saved = run.save("out/*", policy="now")
    assert saved == ["out/model.ckpt"]
    run.finish()
    out = os.path.join(run.dir, "files", "out")
    assert sorted(os.listdir(out)) == ["model.ckpt"]


def test_to_dict_keeps_the_recorded_fields():
    s = Settings(start_method="fork", x_stats_gpu_device_ids=[0, 1])
    d = s.to_dict()
    assert d["wandb_settings"] == {"start_method": "fork", "x_stats_gpu_device_ids": [0, 1]}
    json.dumps(d)
    assert Settings.load(s).recorded == s.recorded  # code's recorded fields survive the merge
