"""Launch paths short of a GPU: the attempt wrapper and its records (with a stand-in trainer process),
stable plans, sbatch scripts checked by shellcheck, dry runs that launch nothing, and Ray jobs submitted to a
real local Ray head."""

import dataclasses
import inspect
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from launch import attempt, ray_jobs, records, slurm
from launch.doctor import live as doctor_live
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, load_recipe
from launch.record_paths import MACHINE_PATH, portable_text

GOLDEN = Path(__file__).parent / "golden" / "debug.plan.txt"
VENV_BIN = Path(sys.executable).parent

# Stands in for `python -m verl.trainer.main_ppo`: logs like verl's file logger, then behaves as FAKE_MODE says.
FAKE_TRAINER = textwrap.dedent(
    """\
    import json, os, shutil, subprocess, sys, time
    args = sys.argv[3:]
    mode = os.environ["FAKE_MODE"]
    first_step = int(os.environ.get("FAKE_FIRST_STEP", "1"))
    ray_dir = next((a.split("=", 1)[1] for a in args if a.startswith("+ray_kwargs.ray_init._temp_dir=")), None)
    print("ray init kwargs: {}", flush=True)
    if ray_dir:  # a daemon in its own session, like Ray's raylet: only the temp-dir sweep can find it
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", ray_dir], start_new_session=True)
    setting = {k: v.strip("'") for k, v in (a.split("=", 1) for a in args if "=" in a)}
    ckpt_dir, keep, saved = setting["trainer.default_local_dir"], int(setting["trainer.max_actor_ckpt_to_keep"]), []
    with open(os.environ["VERL_FILE_LOGGER_PATH"], "w") as log:
        for step in range(first_step, first_step + 2):
            data = {"critic/score/mean": step / 10}
            if mode == "nan":  # verl's file logger writes a NaN as null
                data["actor/grad_norm"] = None
            log.write(json.dumps({"step": step, "data": data}) + "\\n")
            print(f"step:{step} - critic/score/mean:{step / 10}", flush=True)
            # A checkpoint per step, rotated as verl does: only among this process's own saves.
            os.makedirs(f"{ckpt_dir}/global_step_{step}/actor", exist_ok=True)
            open(f"{ckpt_dir}/latest_checkpointed_iteration.txt", "w").write(str(step))
            saved.append(f"{ckpt_dir}/global_step_{step}")
            if len(saved) > keep:
                shutil.rmtree(saved.pop(0))
    if mode == "oom":
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        sys.exit(1)
    if mode in ("hang", "nan"):
        time.sleep(600)
    """
)


@pytest.fixture
def fake_python(tmp_path):
    """An interpreter stand-in that runs FAKE_TRAINER whatever module it is asked for."""
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    wrapper = tmp_path / "fake-python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _debug_plan(results_root):
    checkpoints = str(Path(results_root).parent / "checkpoints")
    return compile_recipe(load_recipe("debug"), results_root=str(results_root), checkpoints_root=checkpoints)[
        0
    ]


def _survivors(ray_dir_prefix: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(ray_dir_prefix in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_relaunched_run_keeps_every_attempts_metrics_and_one_wandb_id(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    plan = _debug_plan(tmp_path / "results")
    monkeypatch.setenv("FAKE_MODE", "ok")
    first = attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    monkeypatch.setenv("FAKE_FIRST_STEP", "3")  # resumed from its checkpoint at step 2
    second = attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    assert (first.attempt, first.status, second.attempt, second.status) == (1, "finished", 2, "finished")

    run_dir = tmp_path / "results" / "debug" / "runs" / "debug__default__s1"
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # verl truncated nothing: each attempt logged to its own file
    record = json.loads((run_dir / "run.json").read_text())
    assert [a["status"] for a in record["attempts"]] == ["finished", "finished"]
    assert record["status"] == "finished" and record["recipe"] == "debug" and record["seed"] == 1
    assert record["wandb"]["mode"] == "offline" and record["wandb"]["run_id"] == records.wandb_run_id(plan)
    assert record["wandb"]["offline_dir"] == "wandb"  # relative to the run dir
    assert record["overrides"]["trainer.experiment_name"] == "debug__default__s1"
    assert record["reward_kwargs"] == plan.reward_kwargs  # the reward's options as their own field
    assert record["versions"]["verl"] == "0.9.1" and record["git_commit"]
    assert "trainer.resume_mode=auto" in record["command"]
    config = (run_dir / "config.yaml").read_text()
    assert "experiment_name: debug__default__s1" in config and "kl_loss_type: low_var_kl" in config
    # the trainer ran with absolute paths; its records name them relative to the checkout (or $TMPDIR)
    assert not MACHINE_PATH.search((run_dir / "run.json").read_text()) and not MACHINE_PATH.search(config)
    assert "reward.custom_reward_function.path='rewards/verl_reward.py'" in record["command"]


def test_the_logging_settings_reach_verls_ray_actors_through_the_runtime_env(
    tmp_path, fake_python, monkeypatch
):
    """On a joined cluster (Ray jobs, SLURM) verl's actors inherit nothing from the driver: compose the command
    the attempt really ran with verl's own Hydra config and merge it the way main_ppo builds ray.init's env."""
    from omegaconf import OmegaConf
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    from launch import verl_config

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("FAKE_MODE", "ok")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")  # a cluster: the attempt starts no Ray of its own
    plan = _debug_plan(tmp_path / "results")
    result = attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    command = json.loads((result.run_dir / "run.json").read_text())["command"]
    command = command if isinstance(command, list) else shlex.split(command)
    config = verl_config._compose_strings(command[3:])
    runtime_env = OmegaConf.merge(get_ppo_ray_runtime_env(config), config.ray_kwargs.ray_init.runtime_env)
    env_vars = runtime_env.env_vars
    # the recorded command names paths as launch.record_paths writes them
    assert (
        portable_text(str(result.run_dir / "metrics.attempt-1.jsonl"), REPO_ROOT)
        == env_vars.VERL_FILE_LOGGER_PATH
    )
    assert records.wandb_run_id(plan) == env_vars.WANDB_RUN_ID and env_vars.WANDB_RESUME == "allow"
    assert (
        env_vars.WANDB_MODE == "offline"
        and portable_text(str(result.run_dir), REPO_ROOT) == env_vars.WANDB_DIR
    )
    assert env_vars.WANDB_RUN_GROUP == "debug" and env_vars.WANDB_TAGS == "default,s1"


def test_a_relaunch_prunes_the_checkpoints_verls_rotation_forgot(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("FAKE_MODE", "ok")
    plan = _debug_plan(tmp_path / "results")
    plan = dataclasses.replace(plan, overrides={**plan.overrides, "trainer.max_actor_ckpt_to_keep": 1})
    attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    monkeypatch.setenv("FAKE_FIRST_STEP", "3")
    attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    # verl's second process rotated only its own saves (3, 4) and never knew of step 2.
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("debug/*/global_step_*")) == [
        "global_step_4"
    ]


def test_oom_is_recorded_as_oom_and_a_hang_is_killed_naming_its_stage(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    plan = _debug_plan(tmp_path / "results")
    monkeypatch.setenv("FAKE_MODE", "oom")
    oom = attempt.run_attempt(plan, REPO_ROOT, python=fake_python)
    assert (oom.status, oom.exit_code) == ("oom", 1)

    monkeypatch.setenv("FAKE_MODE", "hang")
    started = time.monotonic()
    hung = attempt.run_attempt(plan, REPO_ROOT, python=fake_python, timeout_s=5)
    assert time.monotonic() - started < 60
    assert (
        hung.status == "failed" and "timed out after 5 s while training (last logged step 2)" in hung.reason
    )
    record = json.loads((hung.run_dir / "run.json").read_text())
    assert [a["status"] for a in record["attempts"]] == ["oom", "failed"]


def test_the_live_doctor_alarms_and_stops_a_run_on_a_finding_the_recipe_names(
    tmp_path, fake_python, monkeypatch, capsys
):
    recipe = tmp_path / "stops.yaml"
    recipe.write_text(
        f"base: {REPO_ROOT / 'recipes' / 'debug.yaml'}\nquestion: q\ndoctor: {{stop_on: [non-finite]}}\n"
    )
    plan = compile_recipe(load_recipe(str(recipe)), results_root=str(tmp_path / "results"))[0]
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("FAKE_MODE", "nan")  # logs a null grad norm, then would train on for 10 minutes
    monkeypatch.setattr(doctor_live, "CHECK_INTERVAL_S", 0.2)
    alarms = []
    result = attempt.run_attempt(plan, REPO_ROOT, python=fake_python, timeout_s=120, alarm=alarms.append)
    assert result.status == "stopped" and result.reason.startswith("doctor stop_on: non-finite  steps 1-2")
    assert "!!! ZeroLab doctor: non-finite  steps 1-2: NaN/inf/null in actor/grad_norm" in "".join(alarms)
    assert capsys.readouterr().out == ""  # the library writes nothing itself: the CLI passes its writer
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["attempts"][0]["status"] == "stopped"
    assert "non-finite" in [finding["name"] for finding in record["doctor"]["findings"]]
    assert record["doctor"]["settings"]["stop_on"] == ["non-finite"]


def test_processes_left_in_the_attempts_ray_dir_are_stopped(tmp_path, fake_python, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("FAKE_MODE", "ok")
    before = {p.pid for p in _survivors("/tmp/zl-")}
    attempt.run_attempt(_debug_plan(tmp_path / "results"), REPO_ROOT, python=fake_python)
    leftovers = [p for p in _survivors("/tmp/zl-") if p.pid not in before]
    assert leftovers == []


def test_plan_output_is_stable_and_matches_the_golden_file():
    # --profile recipe: the recipe's own profile on any machine (a GPU node would otherwise pick its own).
    command = [sys.executable, "-m", "launch", "plan", "debug", "--no-data-check", "--profile", "recipe"]
    first = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True, cwd="/").stdout
    assert first == second
    assert first == GOLDEN.read_text(), (
        "plan changed: if intended, regenerate tests/launch/golden/debug.plan.txt"
    )


def test_sbatch_scripts_pass_shellcheck_and_start_ray_across_the_profiles_nodes(tmp_path):
    plans = compile_recipe(load_recipe("countdown-ablations"), seed=1, results_root=str(tmp_path))
    scripts = [
        slurm.write_sbatch(plan, REPO_ROOT, "/opt/venv/bin/python", partition="gpu", time_limit="24:00:00")
        for plan in plans
    ]
    result = subprocess.run(
        [str(VENV_BIN / "shellcheck"), "--severity=style", *map(str, scripts)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    text = next(s for s in scripts if "size_7b" in str(s)).read_text()
    assert (
        "#SBATCH --gpus-per-node=2" in text
        and "#SBATCH --nodes=1" in text
        and "#SBATCH --partition=gpu" in text
    )
    assert (
        "ray.scripts.scripts start --head" in text
        and "launch attempt" in text
        and "--run-id countdown-ablations__size_7b__s1" in text
    )


def test_sbatch_scripts_use_the_environments_ray_and_release_the_nodes_at_exit(tmp_path):
    plan = compile_recipe(load_recipe("countdown-3b"), variant="default", results_root=str(tmp_path))[0]
    text = slurm.render_sbatch(plan, REPO_ROOT, "/opt/venv/bin/python")
    lines = text.splitlines()
    # Every Ray command runs through the environment's interpreter, never a bare `ray` from PATH.
    assert not re.search(r"(^|[\s(])ray (start|stop)", text)
    assert text.count("/opt/venv/bin/python -m ray.scripts.scripts") == 3
    # The cleanup step must run beside the blocking Ray steps, or it waits for the time limit.
    assert "srun --overlap" in next(line for line in lines if "stop --force" in line)
    for directive in ("--cpus-per-task=8", "--mem=0", "--time=48:00:00"):
        assert f"#SBATCH {directive}" in lines
    assert "/opt/venv/bin/python -c 'import vllm' ||" in text  # a CPU-only env fails at once, saying so


def test_a_cluster_attempt_builds_missing_data_before_the_trainer(tmp_path, monkeypatch):
    from launch import cli as commands

    started = []

    def trainer_stand_in(plan, root, export_model=None, **_):
        started.append(plan.run_id)
        return attempt.AttemptResult(plan.run_id, 1, 0, "finished", None, root / plan.run_dir)

    monkeypatch.setattr(commands, "train", trainer_stand_in)
    data_dir = tmp_path / "data"
    code = commands.attempt_main(
        ["game24-3b", "--run-id", "game24-3b__default__s1", "--data-dir", str(data_dir),
         "--results-dir", str(tmp_path / "results")]
    )  # fmt: skip
    assert (data_dir / "game24" / "base" / "train.parquet").is_file()
    assert (data_dir / "game24" / "base" / "test.parquet").is_file()
    assert started == ["game24-3b__default__s1"] and code == 0


def test_dry_runs_launch_nothing(tmp_path):
    calls = tmp_path / "sbatch-calls"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "sbatch").write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho 1234\n')
    (fake_bin / "sbatch").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    results = tmp_path / "results"
    base = [
        sys.executable,
        "-m",
        "launch",
        "sweep",
        "countdown-3b",
        "--results-dir",
        str(results),
        "--dry-run",
    ]
    local = subprocess.run(
        [*base, "--launcher", "local"], capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )
    assert local.returncode == 0 and "countdown-3b__tinyzero_ppo__s1" in local.stdout
    assert not results.exists()
    written = subprocess.run(
        [*base, "--launcher", "slurm"], capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )
    assert written.returncode == 0 and "written (dry run)" in written.stdout
    assert not calls.exists()
    assert sorted(p.name for p in results.glob("countdown-3b/runs/*/job.sbatch")) == [
        "job.sbatch",
        "job.sbatch",
        "job.sbatch",
    ]
    assert not list(results.glob("**/run.json"))
    # Without --dry-run the same command really calls sbatch (so the dry-run check above can fail).
    submitted = subprocess.run(
        base[:-1] + ["--launcher", "slurm"], capture_output=True, text=True, env=env, cwd=REPO_ROOT
    )
    assert submitted.returncode == 0 and "SLURM job 1234" in submitted.stdout
    assert len(calls.read_text().splitlines()) == 3  # one sbatch per run of countdown-3b


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope="module")
def ray_head():
    """A real local Ray head with its dashboard (the job API), in a temp dir of its own so it can be stopped
    without touching any other Ray on the machine; the module's Ray tests share it."""
    temp_dir = Path("/tmp") / f"zl-ray-test-{os.getpid()}"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    # Ports the OS hands out (above Ray's worker range): no clash with any other Ray on this machine.
    dashboard, client, agent = _free_ports(3)
    start = [str(VENV_BIN / "ray"), "start", "--head", "--port=0", f"--dashboard-port={dashboard}", "--num-cpus=1",
             f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
             "--include-dashboard=true", f"--temp-dir={temp_dir}", "--disable-usage-stats"]  # fmt: skip
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=120)
    try:
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        attempt.stop_processes_using(str(temp_dir))
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for(address, job_id, timeout_s=180):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = ray_jobs.job_status(address, job_id)
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            return status
        time.sleep(2)
    raise AssertionError(f"Ray job {job_id} still {status} after {timeout_s} s")


def test_ray_launcher_submits_to_a_real_head_and_reads_the_status_back(ray_head, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    dirs = {"data_dir": str(tmp_path / "data"), "checkpoints_root": str(tmp_path / "ckpt")}
    plans = compile_recipe(load_recipe("countdown-3b"), variant="default", results_root=str(tmp_path), **dirs)
    # CPU-safe payload in place of verl: the shipped working dir makes the reward importable, and a driver
    # may pass the run's environment to ray.init as verl's does (Ray refuses keys the job env also sets).
    payload = [
        sys.executable,
        "-c",
        "import ray, rewards.verl_reward as r; "
        "ray.init(runtime_env={'env_vars': {'WANDB_RUN_GROUP': 'countdown-3b'}}); "
        "print('zerolab-job', r.compute_score.__name__)",
    ]
    jobs = ray_jobs.submit_jobs(plans, ray_head, REPO_ROOT, entrypoint=payload)
    job_id = jobs["countdown-3b__default__s1"]
    assert _wait_for(ray_head, job_id) == "SUCCEEDED", ray_jobs.job_logs(ray_head, job_id)
    assert "zerolab-job compute_score" in ray_jobs.job_logs(ray_head, job_id)
    record = json.loads(
        (tmp_path / "countdown-3b" / "runs" / "countdown-3b__default__s1" / "ray_job.json").read_text()
    )
    assert record["job_id"] == job_id and record["address"] == ray_head
    entry = plans[0].attempt_command(sys.executable)
    assert entry[entry.index("--data-dir") + 1] == dirs["data_dir"]
    assert entry[entry.index("--checkpoints-dir") + 1] == dirs["checkpoints_root"]

    failing = ray_jobs.submit_jobs(
        plans, ray_head, REPO_ROOT, entrypoint=["python3", "-c", "raise SystemExit(3)"]
    )
    assert _wait_for(ray_head, failing["countdown-3b__default__s1"]) == "FAILED"


def test_ray_jobs_refuse_dirs_that_would_resolve_inside_the_jobs_temporary_copy(tmp_path):
    plans = compile_recipe(load_recipe("countdown-3b"), variant="default", results_root=str(tmp_path))
    with pytest.raises(
        ValueError, match=r"--data-dir data .*DATA_DIR=.*--checkpoints-dir checkpoints .*CKPT_DIR="
    ):
        ray_jobs.submit_jobs(plans, "http://127.0.0.1:1", REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "launch", "sweep", "countdown-3b", "--launcher", "ray", "--dry-run",
         "--address", "http://127.0.0.1:1", "--results-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )  # fmt: skip
    assert result.returncode == 1 and "--data-dir data" in result.stderr


def test_slurm_and_ray_jobs_run_the_same_attempt_command():
    plan = compile_recipe(load_recipe("countdown-3b"), variant="default", results_root="/shared/results")[0]
    entry = plan.attempt_command("python3")
    assert entry[:4] == ["python3", "-m", "launch", "attempt"] and entry[4] == "recipes/countdown-3b.yaml"
    assert entry[entry.index("--run-id") + 1] == plan.run_id
    assert entry[entry.index("--results-dir") + 1] == "/shared/results"
    script = slurm.render_sbatch(plan, REPO_ROOT, "/opt/venv/bin/python")
    assert script.splitlines()[-1] == shlex.join(plan.attempt_command("/opt/venv/bin/python"))


@pytest.fixture
def cluster_python(tmp_path, fake_python):
    """The interpreter a cluster job names: `-m launch ...` runs the real front door, whose trainer is the
    stand-in (so the job's own attempt writes the records); anything else is the stand-in trainer."""
    bootstrap = (
        "import functools, sys; from launch import cli, ref_reset; "
        f"ref_reset.run_attempt = functools.partial(ref_reset.run_attempt, python={fake_python!r}); "
        "sys.exit(cli.attempt_main(sys.argv[2:]))"
    )
    wrapper = tmp_path / "cluster-python"
    wrapper.write_text(
        "#!/bin/sh\nexport FAKE_MODE=ok WANDB_MODE=offline\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "launch" ]; then shift 2; exec {sys.executable} -c {shlex.quote(bootstrap)} "$@"; fi\n'
        f'exec {fake_python} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


def _outside_dirs(tmp_path) -> list[str]:
    """Data (a small Countdown set, built ahead so the job only checks it), checkpoint and results dirs
    outside the repo, as a shared filesystem would hold them."""
    data = tmp_path / "shared" / "data"
    build = [sys.executable, "-m", "data_prep", "countdown", "--out", str(data / "countdown" / "base"),
             "--template", "base", "--train-size", "16", "--test-size", "8"]  # fmt: skip
    subprocess.run(build, check=True, capture_output=True, cwd=REPO_ROOT)
    shared = tmp_path / "shared"
    return [
        "--data-dir",
        str(data),
        "--checkpoints-dir",
        str(shared / "ckpt"),
        "--results-dir",
        str(shared / "results"),
    ]


def _assert_records_only_under(results: Path, repo_results_before: set[Path]) -> None:
    run_dir = results / "debug" / "runs" / "debug__default__s1"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "finished", record
    assert [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [
        1,
        2,
    ]
    assert (run_dir / "stdout.attempt-1.log").is_file() and (run_dir / "config.yaml").is_file()
    assert set((REPO_ROOT / "results").rglob("*")) == repo_results_before  # nothing under the repo's results/


def test_a_slurm_job_keeps_every_record_under_an_outside_results_dir(tmp_path, cluster_python, monkeypatch):
    dirs = _outside_dirs(tmp_path)
    results = Path(dirs[-1])
    before = set((REPO_ROOT / "results").rglob("*"))
    sweep = [sys.executable, "-m", "launch", "sweep", "debug", "--launcher", "slurm", "--dry-run", *dirs]
    written = subprocess.run(sweep, capture_output=True, text=True, cwd=REPO_ROOT)
    assert written.returncode == 0, written.stderr
    script = (results / "debug" / "runs" / "debug__default__s1" / "job.sbatch").read_text().splitlines()
    assert f"#SBATCH --output={results}/debug/runs/debug__default__s1/slurm-%j.log" in script
    # What the job runs on its head node, after `cd` into the repo, with the stand-in trainer.
    assert script[-1].startswith(shlex.quote(sys.executable) + " -m launch attempt recipes/debug.yaml")
    job = shlex.split(script[-1])
    job[0] = cluster_python
    log = tmp_path / "job.log"
    with log.open("w") as out:  # a file, not a pipe: the wait ends with the job, whatever it left behind
        done = subprocess.run(job, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, log.read_text()
    _assert_records_only_under(results, before)


def test_a_ray_job_keeps_every_record_under_an_outside_results_dir(
    ray_head, tmp_path, cluster_python, monkeypatch
):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    dirs = _outside_dirs(tmp_path)
    results = Path(dirs[-1])
    before = set((REPO_ROOT / "results").rglob("*"))
    plans = compile_recipe(
        load_recipe("debug"), data_dir=dirs[1], checkpoints_root=dirs[3], results_root=dirs[5]
    )
    job_id = ray_jobs.submit_jobs(plans, ray_head, REPO_ROOT, python=cluster_python)["debug__default__s1"]
    assert _wait_for(ray_head, job_id, timeout_s=300) == "SUCCEEDED", ray_jobs.job_logs(ray_head, job_id)
    _assert_records_only_under(results, before)


def test_cluster_jobs_run_the_environments_python_and_the_sweeps_profile():
    plan = compile_recipe(load_recipe("countdown-3b"), variant="default", profile="2x80gb")[0]
    # The job compiles the run with the profile the sweep chose, whatever GPUs its head node has.
    entry = plan.attempt_command("/shared/zl/.venv/bin/python")
    assert entry[0] == "/shared/zl/.venv/bin/python"
    assert entry[entry.index("--profile") + 1] == "2x80gb"
    # The environment's own interpreter by absolute path, never a bare `python3` from the node's PATH.
    assert inspect.signature(ray_jobs.submit_jobs).parameters["python"].default == sys.executable
    text = slurm.render_sbatch(
        compile_recipe(load_recipe("countdown-3b"), variant="default")[0], REPO_ROOT, "/opt/venv/bin/python"
    )
    assert "/opt/venv/bin/python -m launch attempt" in text and "--profile 1x80gb" in text
