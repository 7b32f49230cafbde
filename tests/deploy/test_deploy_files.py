"""Static checks of the deployment files: what `docker compose up` on a GPU host relies on. The
CPU image is built and run for real by .ci/docker_smoke.sh, the GPU image (for sm_90, on local
stand-ins for nvidia/cuda) by .ci/gpu_image_check.sh, run without --gpus: CI steps of their own.
Nothing here runs on a GPU."""

import re
from pathlib import Path

import pytest
import yaml

from coordinator.config.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
ENV_EXAMPLE = (REPO / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def _stage(name):
    match = re.search(
        rf"^FROM [^\n]* AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, flags=re.MULTILINE | re.DOTALL
    )
    assert match, f"no stage {name}"
    return match.group(0)


def test_the_default_service_reserves_the_gpu_and_offloads_every_layer():
    service = COMPOSE["services"]["coordinator"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert service["environment"]["N_GPU_LAYERS"] == "${N_GPU_LAYERS:--1}"
    assert service["build"]["target"] == "gpu" and "profiles" not in service  # `docker compose up` starts it


@pytest.mark.parametrize("name", ["coordinator", "coordinator-cpu"])
def test_services_keep_models_on_a_volume_restart_and_check_readiness(name):
    service = COMPOSE["services"][name]
    assert "models:/models" in service["volumes"] and "models" in COMPOSE["volumes"]
    assert service["restart"] == "unless-stopped"
    assert "/readyz" in " ".join(service["healthcheck"]["test"]) and service["healthcheck"]["start_period"]
    assert service["ports"] == ["${HOST_PORTS:-8080}:${PORT:-8080}"]
    assert service["environment"]["AUTO_DOWNLOAD"] == "${AUTO_DOWNLOAD:-1}"
    assert service["environment"]["MODELS_DIR"] == "/models"
    assert service["env_file"] == [{"path": ".env", "required": False}]


@pytest.mark.parametrize("name", ["coordinator", "coordinator-cpu"])
def test_services_keep_custom_voices_on_their_own_volume(name):
    service = COMPOSE["services"][name]
    assert "voices:/voices" in service["volumes"] and "voices" in COMPOSE["volumes"]
    assert service["environment"]["VOICES_DIR"] == "/voices"


@pytest.mark.parametrize("run", ["gpu", "cpu"])
def test_the_images_give_the_voices_folder_to_the_server_user(run):
    stage = _stage(run)
    # A named volume copies the image's folder with its owner: the server (uid 10001) must own it.
    assert "mkdir -p /models /voices && chown app:app /models /voices" in stage
    assert 'VOLUME ["/voices"]' in stage and "VOICES_DIR=/voices" in stage


def test_the_cpu_profile_needs_no_gpu():
    service = COMPOSE["services"]["coordinator-cpu"]
    assert service["profiles"] == ["cpu"] and "deploy" not in service
    assert service["environment"]["N_GPU_LAYERS"] == "0" and service["build"]["target"] == "cpu"


def test_every_setting_the_app_reads_is_documented_in_env_example():
    settings_vars = {name.upper() for name in Settings.model_fields}
    assert settings_vars - DOCUMENTED == set()
    assert "HF_TOKEN" in DOCUMENTED


def test_every_variable_the_compose_file_uses_is_documented():
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO / "docker-compose.yml").read_text()))
    assert used - DOCUMENTED == set()


def test_env_example_holds_only_valid_settings():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE))
    fields = {k.lower(): v for k, v in values.items() if k.lower() in Settings.model_fields}
    Settings(_env_file=None, **fields)  # parses: the example is a working configuration


def _arg(name):
    match = re.search(rf'^ARG {name}="?([^"\n]*)"?$', DOCKERFILE, flags=re.MULTILINE)
    assert match, f"no ARG {name}"
    return match.group(1)


def test_base_images_are_build_arguments_so_ci_builds_from_local_ones():
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert set(froms) == {"${CUDA_DEVEL_BASE}", "${CUDA_RUNTIME_BASE}", "${CPU_BASE}", "gpu-llama"}
    assert _arg("CPU_BASE") == "debian:bookworm-slim"
    assert _arg("CUDA_DEVEL_BASE").startswith("nvidia/cuda:13.0") and _arg("CUDA_DEVEL_BASE").endswith(
        "-devel-ubuntu24.04"
    )
    assert _arg("CUDA_RUNTIME_BASE") == _arg("CUDA_DEVEL_BASE").replace("-devel-", "-runtime-")
    # A `# syntax=` line makes BuildKit pull a frontend image: impossible without a registry.
    assert not DOCKERFILE.startswith("# syntax")


def test_llama_cpp_is_built_portable_never_for_the_build_hosts_cpu():
    assert "-DGGML_NATIVE=OFF" in _arg("LLAMA_CPU_CMAKE_ARGS")
    assert "-DGGML_NATIVE=OFF" in _arg("LLAMA_CUDA_CMAKE_ARGS") and "-DGGML_CUDA=ON" in _arg(
        "LLAMA_CUDA_CMAKE_ARGS"
    )
    assert '"llama-cpp-python==${LLAMA_CPP_PYTHON_VERSION}"' in _stage("gpu-llama")
    assert "--no-binary llama-cpp-python" in _stage("gpu-llama") and "--no-binary llama-cpp-python" in _stage(
        "cpu-build"
    )


def test_the_cuda_architectures_are_pinned_from_turing_to_blackwell():
    architectures = _arg("CUDA_ARCHITECTURES").split(";")
    assert [a.split("-")[0] for a in architectures if a.endswith("-real")] == [
        "75",
        "80",
        "86",
        "89",
        "90",
        "100",
        "120",
    ]
    assert "120-virtual" in architectures  # PTX, so a newer GPU can still JIT
    assert "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}" in _stage("gpu-llama")
    # libggml-cuda without a libcuda.so.1 dependency: the image starts without --gpus.
    assert "-DGGML_CUDA_NO_VMM=ON" in _arg("LLAMA_CUDA_CMAKE_ARGS")


def test_the_gpu_image_check_builds_the_dockerfiles_own_targets_from_its_stand_ins():
    script = (REPO / ".ci" / "gpu_image_check.sh").read_text()
    for name in ("CUDA_DEVEL_BASE", "CUDA_RUNTIME_BASE", "CUDA_ARCHITECTURES"):
        _arg(name)  # the Dockerfile has it
        assert f'--build-arg "{name}=' in script
    for stand_in in ("cuda-devel.Dockerfile", "cuda-runtime.Dockerfile"):
        assert (REPO / ".ci" / stand_in).is_file() and f".ci/{stand_in}" in script
    assert "build gpu-llama " in script and 'build gpu "$IMAGE"' in script
    assert "bash .ci/gpu_image_check.sh" in (REPO / ".ci" / "run").read_text()


def test_torch_matches_each_image():
    # GPU: PyPI's torch 2.13.0 is the CUDA 13 build, the line of the CUDA 13.0 base (driver >= 580).
    # `===`: never the CPU wheel that "==2.13.0" would also match (and pip prefer) in docker/wheels/.
    assert 'ARG TORCH_SPEC="torch===2.13.0"' in _stage("gpu-build")
    # CPU: the CPU build the tests run, never PyPI's multi-GB CUDA one.
    assert 'ARG TORCH_SPEC="torch==2.13.0+cpu"' in _stage("cpu-build")
    assert 'ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"' in _stage("cpu-build")


def test_the_ca_bundle_reaches_pip_only_as_a_build_secret():
    for stage in ("gpu-llama", "gpu-build", "cpu-build"):
        # Each RUN instruction, continuation lines joined.
        runs = re.findall(r"^RUN (?:.*\\\n)*.*$", _stage(stage), flags=re.MULTILINE)
        pip_runs = [run for run in runs if "pip-install " in run]
        assert pip_runs and all("--mount=type=secret,id=ca_bundle" in run for run in pip_runs), stage
    assert not re.search(r"^(COPY|ADD) .*(\.crt|\.pem|certs)", DOCKERFILE, flags=re.MULTILINE)
    assert "PIP_CERT=/run/secrets/ca_bundle" in (REPO / "docker" / "pip-install.sh").read_text()


@pytest.mark.parametrize(("build", "run"), [("gpu-build", "gpu"), ("cpu-build", "cpu")])
def test_the_images_run_as_a_numeric_non_root_user_and_check_readiness(build, run):
    stage = _stage(run)
    assert re.search(r"^USER 10001:10001$", stage, flags=re.MULTILINE)
    assert "useradd --create-home --uid 10001 app" in stage
    assert "HEALTHCHECK" in stage and "/readyz" in stage
    assert 'VOLUME ["/models"]' in stage and "AUTO_DOWNLOAD=1" in stage
    assert f"COPY --from={build} /opt/venv /opt/venv" in stage


def test_the_cpu_image_exists_and_no_image_bakes_models_in():
    cpu = _stage("cpu")
    assert "N_GPU_LAYERS=0" in cpu and "SNAC_DEVICE=cpu" in cpu
    assert not re.search(r"^COPY .*models/", DOCKERFILE, flags=re.MULTILINE)
    assert "models" in (REPO / ".dockerignore").read_text().split()


def test_the_cpu_service_keeps_its_own_concurrency_whatever_env_sets():
    # .env (from .env.example) sets MAX_CONCURRENT_STREAMS=8 for the GPU: the CPU service must not
    # pick that up through `${MAX_CONCURRENT_STREAMS:-2}`.
    environment = COMPOSE["services"]["coordinator-cpu"]["environment"]
    assert environment["MAX_CONCURRENT_STREAMS"] == "${CPU_MAX_CONCURRENT_STREAMS:-2}"
    assert "CPU_MAX_CONCURRENT_STREAMS=2" in ENV_EXAMPLE


def test_every_stop_waits_longer_than_the_drain():
    grace_s = Settings.model_fields["shutdown_grace_s"].default
    for name in ("coordinator", "coordinator-cpu"):
        assert int(COMPOSE["services"][name]["stop_grace_period"].rstrip("s")) > grace_s
    assert "docker stop -t 40" in DOCKERFILE
    smoke = (REPO / ".ci" / "docker_smoke.py").read_text()
    assert "STOP_TIMEOUT_S = 40" in smoke and '"stop", "-t", str(STOP_TIMEOUT_S)' in smoke


@pytest.mark.parametrize("name", ["coordinator", "coordinator-cpu"])
def test_services_listen_openly_so_they_need_a_key_and_never_opt_out_by_default(name):
    from coordinator.errors import ConfigError
    from coordinator.service.auth import check_bind

    environment = COMPOSE["services"][name]["environment"]
    assert environment["HOST"] == "0.0.0.0"
    assert environment["API_KEY"] == "${API_KEY:-}" and environment["ALLOW_NO_AUTH"] == "${ALLOW_NO_AUTH:-0}"
    with pytest.raises(ConfigError, match="API_KEY.*ALLOW_NO_AUTH=1"):
        check_bind(environment["HOST"], has_api_key=False, allow_no_auth=False)
    assert "API_KEY" in DOCKERFILE and "ALLOW_NO_AUTH=1" in DOCKERFILE


def test_the_wyoming_override_publishes_its_port_for_both_services():
    override_text = (REPO / "docker-compose.wyoming.yml").read_text()
    override = yaml.safe_load(override_text)
    for name in ("coordinator", "coordinator-cpu"):
        service = override["services"][name]
        port, stt_port = service["environment"]["WYOMING_PORT"], service["environment"]["WYOMING_STT_PORT"]
        assert (port, stt_port) == ("10200", "10300") and service["environment"]["WYOMING_HOST"] == "0.0.0.0"
        assert service["ports"] == [
            f"${{WYOMING_HOST_PORT:-10200}}:{port}",
            f"${{WYOMING_STT_HOST_PORT:-10300}}:{stt_port}",
        ]
        assert name in COMPOSE["services"]  # it extends services the main file defines
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", override_text))
    assert used - DOCUMENTED == set()
