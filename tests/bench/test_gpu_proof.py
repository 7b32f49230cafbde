"""benchmarks/gpu_proof.sh cannot rot: its CPU dry run (tiny shapes, same steps) runs here."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu_proof.sh"
DRY_RUN_TIMEOUT_S = 600  # ~40 s on an idle 2-core machine; minutes when it is shared


GPU_MARK = re.compile(r"^(pytestmark = .*pytest\.mark\.gpu|\s*@pytest\.mark\.gpu)", re.MULTILINE)


def _gpu_test_files() -> set[str]:
    return {
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("test_*.py")
        if GPU_MARK.search(path.read_text(encoding="utf-8"))
    }


def test_the_proof_runs_every_file_that_holds_gpu_tests():
    listed = re.search(r"GPU_TESTS=\(([^)]*)\)", SCRIPT.read_text(encoding="utf-8"))
    assert listed is not None
    assert set(listed.group(1).split()) == _gpu_test_files()


def test_the_cpu_dry_run_passes_every_step_and_saves_both_reports(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", str(SCRIPT), "--cpu-dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=DRY_RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (out / "gpu_proof.log").read_text()
    assert "done: 0 failed step(s)" in log
    # Without a GPU every GPU test is collected and skipped, none fails or errors.
    suite = ET.parse(out / "gpu-tests.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests")) >= 6 and int(suite.get("skipped")) == int(suite.get("tests"))
    assert int(suite.get("failures")) == int(suite.get("errors")) == 0
    for quant in ("Q8_0", "Q4_K_M"):
        report = json.loads((out / f"bench-{quant}.json").read_text())
        assert report["models"]["orpheus"]["quant"] == quant
        assert report["models"]["orpheus"]["synthetic"] is True
        assert report["levels"] and report["levels"][0]["streams"] == 1
        assert report["single_stream"]["audio_tokens_per_s"] > 0
        assert report["levels"][0]["engine_steps"] and report["levels"][0]["snac_calls"]
        assert "max_concurrent_streams" in report["recommendation"]
        # The test extra's tiny.en listens: checking off, timings on, checking on, side by side.
        assert set(report["listening"]) == {"off", "timings", "check"}
        assert all(row["levels"] and row["first_audio_s_single"] for row in report["listening"].values())
        assert (out / f"bench-{quant}.txt").read_text().strip().endswith(f"bench-{quant}.json")
    # Q8_0's bench measured a custom voice on the synthetic cloning model, too.
    (cloned,) = json.loads((out / "bench-Q8_0.json").read_text())["cloned_voices"]["references"]
    assert cloned["first_audio_s_cold"] > 0 and cloned["first_audio_s_warm_p50"] > 0
    # No real pretrained weights here: the voice-similarity step says it skipped, and why.
    assert (out / "voice_similarity.txt").read_text().startswith("skipped: no real weights here")
    assert not (out / "models").exists()  # GBs of random weights on a GPU host: removed


# What a torch (CUDA) image brings, and what the proof installs apart (the CUDA wheel, this checkout).
PROVIDED_BY_THE_IMAGE = {
    "torch",
    "triton",
    "sympy",
    "mpmath",
    "networkx",
    "jinja2",
    "markupsafe",
    "filelock",
    "fsspec",
    "typing-extensions",
    "setuptools",
    "pip",
    "llama-cpp-python",
    "orpheus-coordinator",
}

# Imported only because they are installed here, never needed: FastAPI reports to OpenTelemetry and
# uvicorn offers watchfiles' reloader when those are present. The test extra's realtime clients
# (livekit-agents) bring both; a GPU host without them imports neither.
OPTIONAL_WHEN_INSTALLED = ("opentelemetry-", "watchfiles")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_proof_carries_every_package_the_server_the_bench_and_the_gpu_tests_import():
    import importlib.metadata

    modules = [
        "coordinator.cli",
        "coordinator.launch.serve",  # the HTTP app and the Wyoming door
        "coordinator.bench.capacity",
        "coordinator.bench.synthetic",
        "tests.conftest",
        "tests.server.test_cuda_oom",
        "tests.audio.test_snac_cuda",
        "tests.engine.test_gpu_offload",
    ]
    code = f"import sys; [__import__(m) for m in {modules!r}]; print(' '.join(sorted(set(m.split('.')[0] for m in sys.modules))))"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    distributions = importlib.metadata.packages_distributions()
    imported = {_normal(d) for module in done.stdout.split() for d in distributions.get(module, [])}
    lines = (REPO / "benchmarks" / "proof_requirements.txt").read_text().splitlines()
    carried = {_normal(line.split("==")[0]) for line in lines if line and not line.startswith("#")}
    missing = {
        d
        for d in imported - carried - PROVIDED_BY_THE_IMAGE
        if not d.startswith(("nvidia-", *OPTIONAL_WHEN_INSTALLED))
    }
    assert not missing, f"add to benchmarks/proof_requirements.txt: {sorted(missing)}"
