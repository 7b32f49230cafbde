"""Static checks of the deployment files: no Docker engine runs here, so nothing was built or
started; these pin down what `docker compose up` on a GPU host relies on."""

import re
from pathlib import Path

import pytest
import yaml

from coordinator.config import Settings

REPO = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
ENV_EXAMPLE = (REPO / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def _stage(name):
    match = re.search(rf"^FROM .* AS {name}\n(.*?)(?=^FROM |\Z)", DOCKERFILE, flags=re.MULTILINE | re.DOTALL)
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


def test_the_gpu_image_builds_llama_cpp_with_cuda_and_runs_as_a_non_root_user():
    build, run = _stage("gpu-build"), _stage("gpu")
    assert "FROM nvidia/cuda:" in build and "-DGGML_CUDA=on" in build
    assert re.search(r"^FROM nvidia/cuda:\S+-runtime", run, flags=re.MULTILINE)
    assert re.search(r"^USER app$", run, flags=re.MULTILINE)
    assert "HEALTHCHECK" in run and "/readyz" in run
    assert 'VOLUME ["/models"]' in run and "AUTO_DOWNLOAD=1" in run


def test_the_cpu_image_exists_and_no_image_bakes_models_in():
    cpu = _stage("cpu")
    assert "N_GPU_LAYERS=0" in cpu and re.search(r"^USER app$", cpu, flags=re.MULTILINE)
    assert not re.search(r"^COPY .*models/", DOCKERFILE, flags=re.MULTILINE)
    assert "models" in (REPO / ".dockerignore").read_text().split()


@pytest.mark.parametrize("name", ["coordinator", "coordinator-cpu"])
def test_services_listen_openly_so_they_need_a_key_and_never_opt_out_by_default(name):
    from coordinator.errors import ConfigError
    from coordinator.server.security import check_bind

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
        port = service["environment"]["WYOMING_PORT"]
        assert port == "10200" and service["environment"]["WYOMING_HOST"] == "0.0.0.0"
        assert service["ports"] == [f"${{WYOMING_HOST_PORT:-10200}}:{port}"]
        assert name in COMPOSE["services"]  # it extends services the main file defines
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", override_text))
    assert used - DOCUMENTED == set()
