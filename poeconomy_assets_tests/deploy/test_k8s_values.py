"""deploy/k8s cannot be deployed here (no Kubernetes); these tests check it as far as this machine can:
- the run launcher config the Helm chart renders from values.yaml is valid for dagster-k8s's K8sRunLauncher
  (the chart's template maps camelCase keys to the launcher's; each key must be one the chart accepts);
- executor.yaml is valid for dagster-k8s's k8s_job_executor and its per-step config names a real step;
- the instance choices are deploy/postgres's (queue size, run monitoring and retries, psycopg2 scheme);
- every pod mounts the shared volume where POECONOMY_HOME points, and the code location loads with it.
"""

import re
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config  # tests only: the config system's own validator
from dagster_k8s import K8sRunLauncher, k8s_job_executor

from poeconomy_assets.execution.executor import K8S_CONFIG_ENV, executor_from_env

REPO = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((REPO / "deploy" / "k8s" / "values.yaml").read_text())
EXECUTOR = yaml.safe_load((REPO / "deploy" / "k8s" / "executor.yaml").read_text())
POSTGRES_INSTANCE = yaml.safe_load((REPO / "deploy" / "postgres" / "dagster.yaml").read_text())

# The keys the chart's values.schema.json allows under runLauncher.config.k8sRunLauncher (definition
# K8sRunLauncherConfig, additionalProperties false) in dagster's helm/dagster chart, 1.13 series.
CHART_K8S_RUN_LAUNCHER_KEYS = {
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "failPodOnRunFailure",
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "kubeconfigFile",
    "labels",
    "loadInclusterConfig",
    "resources",
    "runK8sConfig",
    "schedulerName",
    "securityContext",
    "volumeMounts",
    "volumes",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rendered_run_launcher_config(values: dict) -> dict:
    """What the chart's `dagsterYaml.runLauncher.k8s` template writes into dagster.yaml for these values."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    config = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or "poeconomy",  # the release namespace by default
        "image_pull_policy": launcher["imagePullPolicy"],
        "service_account_name": "poeconomy-dagster",
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": "poeconomy-dagster-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
        "env_config_maps": [c["name"] for c in launcher.get("envConfigMaps", [])],
        "env_secrets": [s["name"] for s in launcher.get("envSecrets", [])],
    }
    for key in (
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
        "failPodOnRunFailure",
    ):
        if key in launcher:
            config[_snake(key)] = launcher[key]
    return config


def test_values_use_only_keys_the_chart_accepts() -> None:
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    unknown = set(VALUES["runLauncher"]["config"]["k8sRunLauncher"]) - CHART_K8S_RUN_LAUNCHER_KEYS
    assert not unknown, f"keys the chart's schema rejects: {unknown}"


def test_run_launcher_config_is_valid_for_dagster_k8s() -> None:
    result = validate_config(K8sRunLauncher.config_type(), rendered_run_launcher_config(VALUES))
    assert result.success, [e.message for e in result.errors]


def test_a_broken_run_launcher_config_is_caught() -> None:
    """The check can fail: a wrong type in the values is reported."""
    broken = yaml.safe_load(yaml.safe_dump(VALUES))
    broken["runLauncher"]["config"]["k8sRunLauncher"]["envVars"] = (
        "POECONOMY_HOME=/data"  # a string, not a list
    )
    result = validate_config(K8sRunLauncher.config_type(), rendered_run_launcher_config(broken))
    assert not result.success


def test_step_executor_config_is_valid_and_names_the_training_step() -> None:
    config = EXECUTOR["execution"]["config"]
    result = validate_config(k8s_job_executor.config_schema.config_type, config)
    assert result.success, [e.message for e in result.errors]
    from poeconomy_assets.definitions import build_defs
    from poeconomy_assets.defs.resources import build_resources

    steps = {node.name for node in build_defs(build_resources()).resolve_job_def("model_job").all_node_defs}
    assert set(config["per_step_k8s_config"]) <= steps  # per-step resources apply to a step that exists


def test_instance_choices_match_deploy_postgres() -> None:
    daemon = VALUES["dagsterDaemon"]
    assert (
        daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"]
        == POSTGRES_INSTANCE["concurrency"]["runs"]["max_concurrent_runs"]
    )
    assert daemon["runMonitoring"]["enabled"] == POSTGRES_INSTANCE["run_monitoring"]["enabled"]
    assert daemon["runRetries"]["maxRetries"] == POSTGRES_INSTANCE["run_retries"]["max_retries"]
    assert VALUES["postgresql"]["enabled"] is False  # an external server, as deploy/postgres
    assert (
        VALUES["postgresql"]["postgresqlScheme"]
        == POSTGRES_INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]
    )
    assert not VALUES["rabbitmq"]["enabled"] and not VALUES["redis"]["enabled"]  # no Celery on Kubernetes


def test_every_pod_mounts_the_shared_volume_where_poeconomy_home_points() -> None:
    launcher = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    home = dict(v.split("=", 1) for v in launcher["envVars"])["POECONOMY_HOME"]
    deployment = VALUES["dagster-user-deployments"]["deployments"][0]
    executor = EXECUTOR["execution"]["config"]
    assert {m["mountPath"] for m in launcher["volumeMounts"]} == {home}
    assert {m["mountPath"] for m in deployment["volumeMounts"]} == {home}
    assert {m["mount_path"] for m in executor["volume_mounts"]} == {home}
    assert dict(v.split("=", 1) for v in executor["env_vars"])["POECONOMY_HOME"] == home
    claims = {v["persistentVolumeClaim"]["claimName"] for v in launcher["volumes"] + deployment["volumes"]}
    assert claims == {executor["volumes"][0]["persistent_volume_claim"]["claim_name"]}


def test_the_code_location_takes_the_k8s_executor_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POECONOMY_CELERY_CONFIG", raising=False)
    monkeypatch.setenv(K8S_CONFIG_ENV, str(REPO / "deploy" / "k8s" / "executor.yaml"))
    executor = executor_from_env()
    assert isinstance(executor, dg.ExecutorDefinition) and executor.name == "k8s"
