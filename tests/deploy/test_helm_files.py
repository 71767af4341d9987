"""deploy/helm: the values for Dagster's official chart and the plain Kubernetes manifests beside it.

The chart's keys below were read from its schema, the pydantic models that generate values.schema.json
(dagster-io/dagster, helm/dagster/schema/schema/charts: dagster/values.py, dagster/subschema/{concurrency,
daemon,postgresql,run_launcher,webserver,global_}.py, dagster_user_deployments/subschema/user_deployments.py,
the pydantic-2 versions of the 1.12/1.13 charts, which added the `concurrency:` block), only at the levels
our values use; a key there that is not in these lists fails the test. `helm template` runs when helm is
on PATH and the chart can be had (ACTP_HELM_CHART=<dir or tgz> for an offline copy)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy import recipe
from tests.deploy.recipe import HELM, load, load_all, parse_cli

ANY = None  # a leaf (or a Kubernetes object the chart passes through)
IMAGE = {"repository": ANY, "tag": ANY, "pullPolicy": ANY, "digest": ANY}
TAG_LIMIT = {"key": ANY, "value": ANY, "limit": ANY}
USER_DEPLOYMENT = {k: ANY for k in (
    "name", "dagsterApiGrpcArgs", "codeServerArgs", "deploymentNamespace", "port", "replicaCount", "env",
    "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
    "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe", "labels", "volumeMounts",
    "volumes", "schedulerName", "initContainers", "sidecarContainers", "deploymentStrategy")} | {
    "image": IMAGE, "includeConfigInLaunchedRuns": {"enabled": ANY}}
K8S_RUN_LAUNCHER = {k: ANY for k in (
    "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps", "envSecrets",
    "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources", "schedulerName",
    "securityContext")} | {"image": IMAGE, "runK8sConfig": {k: ANY for k in (
        "containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata")}}
QUEUED_RUN_COORDINATOR = {k: ANY for k in ("maxConcurrentRuns", "dequeueIntervalSeconds", "dequeueNumWorkers",
                                           "dequeueUseThreads", "blockOpConcurrencyLimitedRuns")} | {
    "tagConcurrencyLimits": [TAG_LIMIT]}
CHART = {
    "global": {k: ANY for k in ("postgresqlSecretName", "dagsterHome", "serviceAccountName", "celeryConfigSecretName")},
    "generatePostgresqlPasswordSecret": ANY,
    "postgresql": {k: ANY for k in ("image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword",
                                    "postgresqlDatabase", "postgresqlParams", "postgresqlScheme", "pool")} | {
        "service": {"port": ANY}},
    "dagsterWebserver": {k: ANY for k in (
        "replicaCount", "image", "nameOverride", "pathPrefix", "service", "env", "envConfigMaps", "envSecrets",
        "deploymentLabels", "labels", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
        "securityContext", "resources", "readinessProbe", "livenessProbe", "startupProbe", "annotations",
        "enableReadOnly", "dbStatementTimeout", "dbPoolRecycle", "logLevel", "schedulerName", "volumeMounts",
        "volumes")} | {"workspace": {"enabled": ANY, "externalConfigmap": ANY,
                                     "servers": [{"host": ANY, "port": ANY, "name": ANY, "ssl": ANY}]}},
    "dagster-user-deployments": {"enabled": ANY, "enableSubchart": ANY, "imagePullSecrets": ANY,
                                 "deployments": [USER_DEPLOYMENT]},
    "runLauncher": {"type": ANY, "config": {"k8sRunLauncher": K8S_RUN_LAUNCHER, "celeryK8sRunLauncher": ANY,
                                            "customRunLauncher": ANY}},
    "dagsterDaemon": {k: ANY for k in (
        "enabled", "image", "heartbeatTolerance", "env", "envConfigMaps", "envSecrets", "deploymentLabels", "labels",
        "nodeSelector", "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
        "checkDbReadyInitContainer", "livenessProbe", "readinessProbe", "startupProbe", "annotations",
        "runMonitoring", "runRetries", "sensors", "schedules", "backfills", "schedulerName", "logFormat",
        "volumeMounts", "volumes", "initContainerResources", "extraContainers", "extraPrependedInitContainers")} | {
        "runCoordinator": {"enabled": ANY, "type": ANY, "config": {
            "queuedRunCoordinator": QUEUED_RUN_COORDINATOR, "customRunCoordinator": ANY}}},
    "concurrency": {"enabled": ANY, "pools": {"defaultLimit": ANY, "granularity": ANY, "opGranularityRunBuffer": ANY},
                    "runs": {"maxConcurrentRuns": ANY, "tagConcurrencyLimits": [TAG_LIMIT]}},
    **{k: ANY for k in ("generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
                        "computeLogManager", "scheduler", "pythonLogs", "busybox", "migrate", "serviceAccount",
                        "retention", "additionalInstanceConfig")},
    "telemetry": {"enabled": ANY},
}


def unknown_keys(value, spec, path: str = "") -> list[str]:
    if spec is ANY:
        return []
    if isinstance(spec, list):
        assert isinstance(value, list), f"{path}: a list"
        return [bad for i, item in enumerate(value) for bad in unknown_keys(item, spec[0], f"{path}[{i}]")]
    assert isinstance(value, dict), f"{path}: a mapping"
    return [f"{path}.{k}".lstrip(".") for k in value if k not in spec] + [
        bad for k, v in value.items() if k in spec for bad in unknown_keys(v, spec[k], f"{path}.{k}")]


def values() -> dict:
    return load(HELM / "values.yaml")


def manifests() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in load_all(HELM / "actp-workers.yaml")}


# ---------------------------------------------------------------- values.yaml for dagster/dagster
def test_values_use_only_keys_of_the_chart():
    assert unknown_keys(values(), CHART) == []
    v = values()
    assert v["runLauncher"]["type"] in {"K8sRunLauncher", "CeleryK8sRunLauncher", "CustomRunLauncher"}
    assert v["dagsterDaemon"]["runCoordinator"]["type"] in {"QueuedRunCoordinator", "CustomRunCoordinator"}
    assert v["concurrency"]["pools"]["granularity"] in {"run", "op"}


def test_values_run_the_main_location_with_the_k8s_run_launcher_and_the_instance_on_postgres():
    v = values()
    assert v["runLauncher"]["type"] == "K8sRunLauncher"
    assert v["postgresql"]["enabled"] is False and v["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert v["generatePostgresqlPasswordSecret"] is False and v["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in v["postgresql"], "the password comes from the Secret"
    queued = v["dagsterDaemon"]["runCoordinator"]
    assert queued["enabled"] and queued["type"] == "QueuedRunCoordinator"
    # the chart refuses limits in both places: they live in `concurrency:`
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued["config"]["queuedRunCoordinator"])


def test_values_mirror_the_instance_files_run_queue_and_pools():
    conc, instance = values()["concurrency"], recipe.instance_concurrency()
    assert conc["enabled"] is True
    assert conc["runs"]["maxConcurrentRuns"] == instance["runs"]["max_concurrent_runs"]
    assert conc["runs"]["tagConcurrencyLimits"] == instance["runs"]["tag_concurrency_limits"]
    assert conc["pools"] == {"defaultLimit": instance["pools"]["default_limit"],
                             "granularity": instance["pools"]["granularity"]}


def test_code_servers_serve_the_workspaces_locations_under_their_names():
    v = values()
    servers = {s["name"]: s for s in v["dagsterWebserver"]["workspace"]["servers"]}
    deployments = {d["name"]: d for d in v["dagster-user-deployments"]["deployments"]}
    modules = recipe.repo_workspace()
    assert set(servers) == set(modules), "location names as in workspace.yaml (the run queue's tags use them)"
    for location, server in servers.items():
        deployment = deployments[server["host"]]  # the chart's Service is named after the Deployment
        params = parse_cli(["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", str(deployment["port"]),
                            *deployment["dagsterApiGrpcArgs"]])
        assert params["module_name"] == modules[location] and params["location_name"] == location
        assert deployment["port"] == server["port"]
        assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", deployment["name"]), "a Kubernetes name"


def test_code_servers_and_workers_share_config_secrets_and_the_data_volume():
    objs = manifests()
    assert ("ConfigMap", "actp-config") in objs and ("PersistentVolumeClaim", "actp-data") in objs
    assert objs[("PersistentVolumeClaim", "actp-data")]["spec"]["accessModes"] == ["ReadWriteMany"]
    for d in values()["dagster-user-deployments"]["deployments"]:
        assert [c["name"] for c in d["envConfigMaps"]] == ["actp-config"]
        assert [s["name"] for s in d["envSecrets"]] == ["actp-secrets"]
        assert d["volumes"][0]["persistentVolumeClaim"]["claimName"] == "actp-data"
        assert d["volumeMounts"][0]["mountPath"] == objs[("ConfigMap", "actp-config")]["data"]["ACTP_HOME"]


def test_no_secret_in_the_helm_files():
    for path in (HELM / "values.yaml", HELM / "actp-workers.yaml"):
        for doc in load_all(path):
            for where, value in recipe.scalars(doc):
                assert not recipe.looks_like_credential(value), f"{path.name}: {where}"
                assert not (recipe.is_secret(where.rsplit(".", 1)[-1]) and value), f"{path.name}: {where}"
    assert set(manifests()[("ConfigMap", "actp-config")]["data"]) <= set(recipe.env_example()) | {"ACTP_HOME"}
    assert not any(kind == "Secret" for kind, _ in manifests())


# ---------------------------------------------------------------- actp-workers.yaml
def _container(deployment: dict) -> dict:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_worker_and_hooks_deployments():
    objs = manifests()
    for name in ("actp-worker", "actp-hooks"):
        dep = objs[("Deployment", name)]
        assert dep["apiVersion"] == "apps/v1"
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        env_from = _container(dep)["envFrom"]
        assert env_from == [{"configMapRef": {"name": "actp-config"}}, {"secretRef": {"name": "actp-secrets"}}]
    worker = _container(objs[("Deployment", "actp-worker")])
    worker_params = parse_cli(worker["command"])
    assert worker["command"][:2] == ["actp", "worker"] and "ports" not in worker, "workers only pull"
    assert f"127.0.0.1:{worker_params['health_port']}/health" in " ".join(worker["livenessProbe"]["exec"]["command"])
    assert not any(kind == "Service" and "worker" in name for kind, name in objs)
    hooks = _container(objs[("Deployment", "actp-hooks")])
    params = parse_cli(hooks["command"])
    assert params["host"] == "0.0.0.0" and hooks["ports"] == [{"name": "http", "containerPort": params["port"]}]
    assert hooks["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    service, pod_labels = objs[("Service", "actp-hooks")], objs[("Deployment", "actp-hooks")]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod_labels["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_keda_scales_the_workers_by_open_queue_items():
    from actp_pipeline.publish.posts import UPLOAD_AHEAD
    from actp_pipeline.store.queues import PUBLISH_STATUSES, RENDER_STATUSES

    objs = manifests()
    scaled = objs[("ScaledObject", "actp-worker")]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["spec"]["scaleTargetRef"]["name"] == "actp-worker"
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and float(trigger["metadata"]["targetQueryValue"]) > 0
    auth = objs[("TriggerAuthentication", trigger["authenticationRef"]["name"])]["spec"]["secretTargetRef"]
    assert auth == [{"parameter": "connection", "name": "actp-secrets", "key": "ACTP_DATABASE_URL"}]
    query = " ".join(trigger["metadata"]["query"].split())
    tables = re.findall(r"FROM (\w+)", query)
    statuses = [tuple(re.findall(r"'([a-z_]+)'", group)) for group in re.findall(r"status IN \(([^)]*)\)", query)]
    assert tables == ["render_jobs", "publish_queue"]
    assert statuses == [RENDER_STATUSES.claimable, RENDER_STATUSES.held,
                        PUBLISH_STATUSES.claimable, PUBLISH_STATUSES.held]
    assert f"interval '{int(UPLOAD_AHEAD.total_seconds() // 3600)} hours'" in query


# ---------------------------------------------------------------- the real helm, when installed
@pytest.mark.skipif(shutil.which("helm") is None, reason="helm is not on PATH")
def test_helm_template_renders_the_values():
    chart = os.environ.get("ACTP_HELM_CHART")
    source = [chart] if chart else ["dagster", "--repo", "https://dagster-io.github.io/helm"]
    res = subprocess.run(["helm", "template", "actp", *source, "-f", str(HELM / "values.yaml")],
                         capture_output=True, text=True, timeout=120)
    if res.returncode and not chart and re.search(r"(?i)(fetch|dial|lookup|connection|no such host)", res.stderr):
        pytest.skip(f"the dagster chart cannot be downloaded here: {res.stderr.strip()[:200]}")
    assert res.returncode == 0, res.stderr
    rendered = [d for d in yaml.safe_load_all(res.stdout) if d]
    (configmap,) = [d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-instance")]
    instance = yaml.safe_load(configmap["data"]["dagster.yaml"])
    assert instance["concurrency"]["runs"] == recipe.instance_concurrency()["runs"]
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
