"""deploy/helm/stagetrack checked without a cluster: `helm lint`, then `helm template` rendered and validated
offline against the Kubernetes schemas kubernetes-validate carries (strict: an unknown field fails too), for the
oldest Kubernetes the chart supports and the newest the schemas know; a broken manifest must fail that check.
Then what the deployment relies on: probes, resources, scrape annotations, the migration hook, the disruption
budgets, the engine bounded by the partitions, secrets only from existing Secrets, rules and dashboards shipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import REPO, built_tool

CHART = REPO / "deploy" / "helm" / "stagetrack"
VALUES = CHART / "ci" / "lint-values.yaml"
# The chart's kubeVersion floor and the newest schemas kubernetes-validate carries.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
COMPONENTS = {"ingest": 8000, "engine": 8001, "kpi": 8002, "dispatch": 8003}
SECRET_SETTINGS = {
    "STAGETRACK_DATABASE_URL",
    "STAGETRACK_IDENTITY_HASH_KEY",
    "STAGETRACK_MASTER_KEYS",
    "STAGETRACK_HUBSPOT_APP_SECRET",
}
Manifest = dict[str, Any]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Helm with its caches and config in a scratch folder: nothing read from or written to $HOME."""
    home = tmp_path_factory.mktemp("helm-home")
    scratch = [f"{name}={home / name.lower()}" for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME")]
    return ["env", *scratch, str(built_tool("helm"))]


@pytest.fixture(scope="module")
def rendered(helm: list[str]) -> str:
    """The chart with ci/lint-values.yaml, as most checks read it."""
    return render(helm)


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)


def render(helm: list[str], *extra: str, chart: Path = CHART, kube: str = KUBERNETES_VERSIONS[0]) -> str:
    result = _run(*helm, "template", "stagetrack", chart, "-f", VALUES, "--kube-version", kube, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def validate(rendered: str, folder: Path, kube: str) -> subprocess.CompletedProcess[str]:
    manifest = folder / f"rendered-{kube}.yaml"
    manifest.write_text(rendered, encoding="utf-8")
    validator = Path(sys.executable).with_name("kubernetes-validate")
    return _run(validator, "--kubernetes-version", kube, "--strict", "--quiet", manifest)


def objects(rendered: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def find(rendered: str, kind: str, name: str) -> Manifest:
    (found,) = [o for o in objects(rendered) if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_helm_lint_passes(helm: list[str]) -> None:
    result = _run(*helm, "lint", "--strict", CHART, "-f", VALUES, "--kube-version", KUBERNETES_VERSIONS[0])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kube", KUBERNETES_VERSIONS)
def test_the_rendered_manifests_are_valid_kubernetes(helm: list[str], tmp_path: Path, kube: str) -> None:
    rendered = render(helm, kube=kube)
    assert {o["kind"] for o in objects(rendered)} == {
        "Deployment", "Service", "PodDisruptionBudget", "Job", "ConfigMap"
    }  # fmt: skip
    result = validate(rendered, tmp_path, kube)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_field_type_fails_the_validation(helm: list[str], tmp_path: Path) -> None:
    """A values override renders a Deployment whose replicas is a word: the check must catch it."""
    rendered = render(helm, "--set", "ingest.replicas=two")
    assert "replicas: two" in rendered
    result = validate(rendered, tmp_path, KUBERNETES_VERSIONS[0])
    assert result.returncode != 0
    assert "deployment/stagetrack-ingest" in result.stdout and "replicas" in result.stdout, result.stdout


def test_a_chart_with_a_bad_template_fails_the_validation(helm: list[str], tmp_path: Path) -> None:
    """A copy of the chart with one more template: a container list written as a map and an unknown field."""
    chart = tmp_path / "stagetrack"
    shutil.copytree(CHART, chart)  # links followed: the copy carries the rules and dashboards themselves
    (chart / "templates" / "broken.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken}\nspec:\n"
        "  selector: {matchLabels: {app: broken}}\n  replicaz: 1\n"
        "  template:\n    metadata: {labels: {app: broken}}\n"
        "    spec:\n      containers: {name: broken, image: stagetrack}\n",
        encoding="utf-8",
    )
    result = validate(render(helm, chart=chart), tmp_path, KUBERNETES_VERSIONS[0])
    assert result.returncode != 0
    assert "deployment/broken" in result.stdout, result.stdout


def test_a_release_without_the_required_values_is_refused(helm: list[str]) -> None:
    result = _run(*helm, "template", "stagetrack", CHART, "--kube-version", KUBERNETES_VERSIONS[0])
    assert result.returncode != 0
    assert "kafka.bootstrapServers is required" in result.stderr, result.stderr


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_is_a_deployment_with_probes_resources_and_scrape_annotations(
    rendered: str, component: str
) -> None:
    deployment = find(rendered, "Deployment", f"stagetrack-{component}")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port = COMPONENTS[component]
    assert container["args"] == ["serve", component]
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = find(rendered, "Service", f"stagetrack-{component}")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_migration_is_a_pre_install_and_pre_upgrade_job(rendered: str) -> None:
    job = find(rendered, "Job", "stagetrack-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # A hook runs before the release's own objects exist: it may use only what the operator made beforehand.
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]


def test_a_disruption_budget_covers_every_service(rendered: str) -> None:
    for component in COMPONENTS:
        budget = find(rendered, "PodDisruptionBudget", f"stagetrack-{component}")
        pods = find(rendered, "Deployment", f"stagetrack-{component}")["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert budget["spec"]["maxUnavailable"] == 1


def test_engine_replicas_are_bounded_by_the_partitions(helm: list[str]) -> None:
    at_the_bound = render(helm, "--set", "engine.replicas=6", "--set", "kafka.partitions=6")
    assert find(at_the_bound, "Deployment", "stagetrack-engine")["spec"]["replicas"] == 6
    result = _run(
        *helm, "template", "stagetrack", CHART, "-f", VALUES, "--kube-version", KUBERNETES_VERSIONS[0],
        "--set", "engine.replicas=7", "--set", "kafka.partitions=6",
    )  # fmt: skip
    assert result.returncode != 0
    assert "engine.replicas (7) is more than kafka.partitions (6)" in result.stderr, result.stderr


def test_secrets_come_only_from_existing_secrets(rendered: str) -> None:
    assert not [o for o in objects(rendered) if o["kind"] == "Secret"], "the chart never writes a secret"
    named = yaml.safe_load(VALUES.read_text(encoding="utf-8"))["secrets"]
    for o in objects(rendered):
        if o["kind"] not in ("Deployment", "Job"):
            continue
        for container in o["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in container["env"]}
            for name in SECRET_SETTINGS & env.keys():
                assert "value" not in env[name], f"{o['metadata']['name']}: {name} written in the manifest"
                assert env[name]["valueFrom"]["secretKeyRef"]["name"] in {s["name"] for s in named.values()}
            assert "STAGETRACK_DATABASE_URL" in env
            assert container["envFrom"] == [{"secretRef": {"name": "stagetrack-kafka-client"}}]
    for sealing in ("stagetrack-engine", "stagetrack-ingest"):  # the ingest seals, the engine erases and exports
        container = find(rendered, "Deployment", sealing)["spec"]["template"]["spec"]["containers"][0]
        assert {"STAGETRACK_IDENTITY_HASH_KEY", "STAGETRACK_MASTER_KEYS"} <= {e["name"] for e in container["env"]}


def test_the_rules_and_dashboards_ship_as_config_maps(helm: list[str], rendered: str) -> None:
    rules = find(rendered, "ConfigMap", "stagetrack-prometheus-rules")["data"]
    shipped_rules = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "deploy/prometheus/rules").glob("*.yml")}
    assert rules == shipped_rules
    dashboards = find(rendered, "ConfigMap", "stagetrack-grafana-dashboards")
    shipped = {p.name: p.read_text(encoding="utf-8") for p in (REPO / "deploy/grafana/dashboards").glob("*.json")}
    assert dashboards["data"] == shipped
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    off = render(helm, "--set", "observability.prometheusRules.enabled=false")
    assert "stagetrack-prometheus-rules" not in off


def test_the_operators_files_are_mounted_in_every_pod(rendered: str) -> None:
    """Certificates (Kafka's, PostgreSQL's), a stage model, a subscriptions file: extraVolumes reach every pod."""
    for o in objects(rendered):
        if o["kind"] in ("Deployment", "Job"):
            spec = o["spec"]["template"]["spec"]
            assert {"name": "tls", "secret": {"secretName": "stagetrack-tls"}} in spec["volumes"]
            mounts = spec["containers"][0]["volumeMounts"]
            assert {"name": "tls", "mountPath": "/etc/stagetrack/tls", "readOnly": True} in mounts
