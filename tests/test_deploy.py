"""What a council's platform team deploys (issue 14 items 2 and 5) is valid as shipped:

- the Kustomize overlay builds (`kubectl kustomize`) and every object validates against the Kubernetes
  API schemas (`kubernetes-validate`, strict: no unknown fields), with probes, resource requests, a
  PodDisruptionBudget per Deployment, a grace period longer than the worker's own, and secrets by
  reference only;
- the compose file passes `docker-compose config` (Debian's docker-compose) offline, and runs what
  the README says: Temporal on PostgreSQL, its UI, the case file, workers and the API;
- the Dockerfile installs every package pyproject ships;
- the alert rules pass `promtool check rules` and their unit tests (`promtool test rules`), each alert
  has its runbook entry, and the Grafana dashboard is well-formed JSON whose queries name only metrics
  the code exports.

None of these skip: the tools are installed by scripts/bootstrap (kubectl is the machine's).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from casefile import metrics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
OVERLAY = DEPLOY / "kubernetes" / "overlays" / "production"
MONITORING = DEPLOY / "monitoring"
KUBERNETES_VERSION = "1.30.0"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (scripts/bootstrap installs it)", pytrace=False)
    return found


def _run(*args: str) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    built = _run(_tool("kubectl"), "kustomize", str(OVERLAY))
    return [doc for doc in yaml.safe_load_all(built) if doc]


def _by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_every_kubernetes_object_validates_against_the_api_schema(manifests: list[dict[str, Any]]) -> None:
    kinds = sorted({m["kind"] for m in manifests})
    assert kinds == ["ConfigMap", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        assert manifest["metadata"].get("namespace") == "asb", manifest["metadata"]["name"]


def test_a_manifest_with_a_mistake_is_refused() -> None:
    """The validator is not a rubber stamp: a misspelt field or a wrong type fails."""
    bad = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"},
           "spec": {"minAvailable": 1, "selectr": {"matchLabels": {"a": "b"}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    wrong_type = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                  "spec": {"ports": [{"port": "eighty"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


def test_the_api_and_the_worker_run_with_probes_requests_budgets_and_a_graceful_stop(
        manifests: list[dict[str, Any]]) -> None:
    deployments = _by_kind(manifests, "Deployment")
    assert set(deployments) == {"asb-api", "asb-worker"}
    budgets = _by_kind(manifests, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        # The budget covers this Deployment's pods and keeps one running through a node drain.
        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert budget["minAvailable"] == 1 and deployment["spec"]["replicas"] >= 2, name
        env = {e["name"]: e for e in container.get("env", [])}
        # Secrets by reference only: the database URL (it has the password) and the API key come from Secrets.
        assert env["ASB_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "asb-database"
        assert "valueFrom" in env["TEMPORAL_API_KEY"]
        for entry in container.get("env", []):
            if re.search(r"PASSWORD|SECRET|API_KEY|DATABASE_URL", entry["name"]):
                assert "value" not in entry, (name, entry["name"])
    worker = deployments["asb-worker"]["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # Kubernetes waits longer than the worker gives its running activities, so it never SIGKILLs a
    # worker that is stopping as it should.
    assert worker["terminationGracePeriodSeconds"] > float(env["ASB_WORKER_SHUTDOWN_SECONDS"])
    assert env["ASB_WORKER_HTTP_ADDRESS"].endswith(":9464")
    assert container["ports"][0]["containerPort"] == 9464
    assert deployments["asb-worker"]["spec"]["replicas"] == 3  # the overlay's patch applied
    config = _by_kind(manifests, "ConfigMap")["asb-config"]["data"]
    assert config["TEMPORAL_NAMESPACE"] == "asb-council.a1b2c"  # the overlay's Temporal Cloud namespace
    for manifest in manifests:
        assert manifest["kind"] != "Secret"  # the platform creates them; none is written in the repository


def test_the_compose_file_validates_offline_and_runs_every_part() -> None:
    compose = _tool("docker-compose")
    rendered = yaml.safe_load(_run(compose, "-f", str(DEPLOY / "compose.yaml"), "config"))
    services = rendered["services"]
    assert set(services) == {"temporal-db", "temporal", "temporal-setup", "temporal-ui", "casefile", "worker", "api"}
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    for name in ("worker", "api"):
        env = services[name]["environment"]
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["ASB_DATABASE_URL"].endswith("@casefile:5432/asb")
        assert "/ready" in " ".join(services[name]["healthcheck"]["test"])
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["api"]["command"][0] == "api"
    # The search attributes the case workflows upsert are registered before a worker starts.
    setup = " ".join(services["temporal-setup"]["command"])
    for attribute in ("CaseStage", "CaseRisk", "CaseOfficer", "NextDeadline", "Overdue"):
        assert attribute in setup


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text('version: "3.8"\nservices:\n  api:\n    image: x\n    ports: 8000\n', encoding="utf-8")
    done = subprocess.run([_tool("docker-compose"), "-f", str(broken), "config"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0


def test_the_dockerfile_copies_every_package_the_project_ships() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+)/ ", dockerfile, flags=re.MULTILINE))
    assert packages <= copied, packages - copied
    assert "COPY worker.py" in dockerfile
    assert re.search(r"^USER \d+", dockerfile, flags=re.MULTILINE)  # never root
    assert 'ENTRYPOINT ["asb"]' in dockerfile


def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = _tool("promtool")
    assert "SUCCESS: 6 rules found" in _run(promtool, "check", "rules", str(MONITORING / "alerts.yaml"))
    assert "SUCCESS" in _run(promtool, "test", "rules", str(MONITORING / "alerts_test.yaml"))


def test_each_alert_has_its_runbook_entry() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
    runbook = (MONITORING / "RUNBOOK.md").read_text(encoding="utf-8")
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", runbook, flags=re.MULTILINE)}
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"AsbDeadlineBreached", "AsbLettersParkedForPrint", "AsbWorkerDown",
            "AsbTaskQueueScheduleToStartHigh"} <= {rule["alert"] for rule in alerts}
    for rule in alerts:
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert path == "deploy/monitoring/RUNBOOK.md"
        assert anchor == rule["alert"].lower() and anchor in headings, rule["alert"]


def _exported_names() -> set[str]:
    names = set()
    for collector in (metrics.CASES_OPENED, metrics.BREACHES, metrics.LETTERS, metrics.COMMANDS_REFUSED,
                      metrics.API_LATENCY):
        for family in collector.collect():
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}[family.type]
            names |= {family.name + suffix for suffix in suffixes}
    return names | {"asb_open_tasks", "asb_letters_awaiting_print"}


def test_the_dashboard_is_valid_json_and_queries_only_metrics_that_exist() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exported = _exported_names()
    queried: set[str] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            queried |= set(re.findall(r"\b(asb_\w+)", target["expr"]))
    # Every asb_* name a panel asks for is one the code exports (a renamed metric breaks this test).
    assert queried and queried <= exported, queried - exported
    # The figures all have a panel.
    for name in ("asb_cases_opened_total", "asb_breaches_total", "asb_open_tasks", "asb_letters_total",
                 "asb_commands_refused_total", "asb_api_request_seconds_bucket"):
        assert name in queried, name
