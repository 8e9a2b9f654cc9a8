"""deploy/k8s: the kustomizations render, every object is valid for its API, and the objects
agree with each other and with the services.

Rendered by `kubectl kustomize` (the kubectl on PATH, or $KUBECTL; `make k8s-tools`). Core
objects are checked by kubernetes-validate against the schemas of KUBERNETES_VERSION, strict
(an unknown field fails); the operators' objects against the openAPIV3Schema of the vendored
CRDs (deploy/k8s/crds), closed the same way. Neither evaluates CEL rules
(x-kubernetes-validations) or field formats: the API server does, at apply.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared import topology
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.35"
RENDERINGS = ("base", "overlays/demo")
SERVICE_IMAGE = "voice-campaign-service"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
#: libyaml's loader where PyYAML has it: the CloudNativePG CRD is half a megabyte.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The Python services by module: the setting that names the port /health is served on.
PORT_SETTINGS = {
    "services.api": "api_port",
    "services.dispatcher": "dispatcher_health_port",
    "services.worker": "worker_health_port",
    "services.telephony_mock": "mock_http_port",
}

#: Keys of the Secrets the operators make, as their code at the vendored versions writes them
#: (cluster-operator internal/resource/default_user_secret.go, cloudnative-pg
#: pkg/specs/secrets.go), by the kind of the object that makes them and the name's suffix.
OPERATOR_SECRETS = {
    "RabbitmqCluster": ("-default-user", {"username", "password", "host", "port"}),
    "Cluster": ("-app", {"username", "password", "host", "port", "dbname", "uri"}),
}

#: Secrets the base names but does not make: an overlay (or the cluster's owner) does.
EXTERNAL_SECRETS = {
    "vcs-secrets": {
        "VCS_API_KEYS",
        "VCS_WEBHOOK_SECRET_KEY",
        "VCS_TWILIO_ACCOUNT_SID",
        "VCS_TWILIO_AUTH_TOKEN",
    },
    "vcs-rabbitmq-management": {"url"},
}

Object = dict[str, Any]


def render(folder: str) -> list[Object]:
    kubectl = shutil.which(os.environ.get("KUBECTL", "kubectl"))
    assert kubectl, "kubectl is not installed: `make k8s-tools` installs it"
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=RENDERINGS)
def objects(request: pytest.FixtureRequest) -> list[Object]:
    return render(request.param)


@pytest.fixture(scope="module")
def demo() -> list[Object]:
    return render("overlays/demo")


@pytest.fixture(scope="module")
def base() -> list[Object]:
    return render("base")


# The vendored CRDs' schemas.


def closed(schema: Any) -> Any:
    """A CRD schema in which an object that lists its properties takes no others, as the API
    server prunes (and `kubectl apply` rejects) unknown fields, except where
    x-kubernetes-preserve-unknown-fields keeps them. `nullable` (OpenAPI 3.0) admits null."""
    if not isinstance(schema, dict):
        return schema
    result = dict(schema)
    for key in ("properties", "patternProperties"):
        if key in schema:
            result[key] = {name: closed(sub) for name, sub in schema[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            result[key] = closed(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            result[key] = [closed(sub) for sub in schema[key]]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    if schema.get("nullable"):
        return {"anyOf": [{"type": "null"}, result]}
    return result


def crd_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """A validator per (apiVersion, kind) that a vendored CRD serves."""
    validators = {}
    for path in sorted((K8S / "crds").glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=FAST_LOADER):
            assert crd["kind"] == "CustomResourceDefinition", path
            spec = crd["spec"]
            for version in spec["versions"]:
                if version["served"]:
                    schema = closed(version["schema"]["openAPIV3Schema"])
                    jsonschema.Draft4Validator.check_schema(schema)
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    validators[key] = jsonschema.Draft4Validator(schema)
    return validators


@pytest.fixture(scope="module")
def crds() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    return crd_validators()


def validate(obj: Object, crds: dict[tuple[str, str], jsonschema.protocols.Validator]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in crds:
        crds[key].validate(obj)
        return
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise AssertionError(f"{key}: neither a core kind nor a vendored CRD") from exc


# Reading the rendered objects.


def named(objects: list[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def of_kind(objects: list[Object], kind: str) -> list[Object]:
    return [o for o in objects if o["kind"] == kind]


def workloads(objects: list[Object]) -> Iterator[tuple[Object, Object]]:
    """(workload, pod spec) of every object that runs pods."""
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            yield obj, obj["spec"]["template"]["spec"]


def containers(pod: Object) -> list[Object]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def module_of(container: Object) -> str | None:
    """`services.api` for a container running `python -m services.api`."""
    command = container.get("command", [])
    return command[2] if command[:2] == ["python", "-m"] else None


def runs_service_image(container: Object) -> bool:
    return str(container["image"]).rsplit("/", 1)[-1].split(":")[0] == SERVICE_IMAGE


def config_data(objects: list[Object], name: str) -> dict[str, str]:
    return dict(named(objects, "ConfigMap", name).get("data", {}))


def env_of(container: Object, objects: list[Object]) -> dict[str, str | None]:
    """The variables the container starts with: its ConfigMaps', then its own (a Secret's
    value is None here)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "secrets by key only, so each key is checked"
        env.update(config_data(objects, source["configMapRef"]["name"]))
    for variable in container.get("env", []):
        env[variable["name"]] = variable.get("value")
    return env


def port_number(container: Object, port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"{container['name']}: no port named {port}"
    return int(numbers[0])


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def secret_keys(objects: list[Object]) -> dict[str, set[str]]:
    """Every Secret the rendering can rely on: its own, and those its operators make."""
    known = {o["metadata"]["name"]: set(o.get("data", {})) for o in of_kind(objects, "Secret")}
    for kind, (suffix, keys) in OPERATOR_SECRETS.items():
        for owner in of_kind(objects, kind):
            known[owner["metadata"]["name"] + suffix] = keys
    return known


def secret_references(objects: list[Object]) -> Iterator[tuple[str, str, str]]:
    """(who, secret, key) for every key of a Secret that an object reads."""
    for workload, pod in workloads(objects):
        for container in containers(pod):
            who = f"{workload['metadata']['name']}/{container['name']}"
            for variable in container.get("env", []):
                if ref := variable.get("valueFrom", {}).get("secretKeyRef"):
                    yield who, ref["name"], ref["key"]
    for auth in of_kind(objects, "TriggerAuthentication"):
        for ref in auth["spec"].get("secretTargetRef", []):
            yield f"TriggerAuthentication {auth['metadata']['name']}", ref["name"], ref["key"]


# The checks.


def test_every_object_is_valid_for_its_api(
    objects: list[Object], crds: dict[tuple[str, str], jsonschema.protocols.Validator]
) -> None:
    for obj in objects:
        try:
            validate(obj, crds)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path)
            raise AssertionError(
                f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}"
            ) from exc


def test_the_validation_refuses_unknown_fields(
    base: list[Object], crds: dict[tuple[str, str], jsonschema.protocols.Validator]
) -> None:
    """Proof that both checks above bite: one misspelt field in a core object and in each
    operator object."""
    worker = copy.deepcopy(named(base, "Deployment", "worker"))
    worker["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(worker, crds)
    operators = [o for o in base if (o["apiVersion"], o["kind"]) in crds]
    assert {(o["apiVersion"], o["kind"]) for o in operators} == set(crds)
    for obj in operators:
        broken = copy.deepcopy(obj)
        broken["spec"]["replicaz"] = 3
        with pytest.raises(jsonschema.ValidationError):
            validate(broken, crds)


def test_the_operators_objects_are_those_the_crds_serve(
    base: list[Object], crds: dict[tuple[str, str], jsonschema.protocols.Validator]
) -> None:
    assert set(crds) == {
        ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
    }
    assert {(o["apiVersion"], o["kind"]) for o in base} >= set(crds)
    sources = (K8S / "crds" / "SOURCES.md").read_text()
    for path in (K8S / "crds").glob("*.yaml"):
        assert path.name in sources, f"{path.name}: no source in SOURCES.md"


def test_every_container_has_resources_and_is_confined(objects: list[Object]) -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    uid = int(re.findall(r"--uid (\d+)", dockerfile)[0])
    for workload, pod in workloads(objects):
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in containers(pod):
            where = f"{name}/{container['name']}"
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            if runs_service_image(container):
                assert pod["securityContext"]["runAsUser"] == uid, where


def test_probes_ask_health_for_readiness_and_the_port_for_liveness(
    objects: list[Object],
) -> None:
    """/health asks the database and the broker: readiness. Liveness is the port answering,
    so that an outage of either does not restart every pod at once."""
    for workload, pod in workloads(objects):
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            readiness, liveness = container["readinessProbe"], container["livenessProbe"]
            declared = {p["containerPort"] for p in container["ports"]}
            assert port_number(container, liveness["tcpSocket"]["port"]) in declared, where
            module = module_of(container)
            if module is None:
                continue
            setting = PORT_SETTINGS[module]
            port = Settings.model_fields[setting].default
            assert env_of(container, objects)[f"VCS_{setting.upper()}"] == str(port), where
            assert declared == {port}, where
            assert readiness["httpGet"]["path"] == "/health", where
            assert port_number(container, readiness["httpGet"]["port"]) == port, where
            assert port_number(container, liveness["tcpSocket"]["port"]) == port, where
            if "startupProbe" in container:
                startup = container["startupProbe"]["tcpSocket"]["port"]
                assert port_number(container, startup) == port, where


def test_the_services_run_as_in_docker_compose(objects: list[Object]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    settings = {f"VCS_{name.upper()}" for name in Settings.model_fields}
    modules = set()
    for workload, pod in workloads(objects):
        for container in containers(pod):
            if not runs_service_image(container):
                continue
            where = f"{workload['metadata']['name']}/{container['name']}"
            env = env_of(container, objects)
            assert env["VCS_QUEUE_TYPE"] == "quorum", where
            assert {n for n in env if n.startswith("VCS_")} <= settings, where
            assert "VCS_AMQP_URL" in env, where
            module = module_of(container)
            if module != "services.telephony_mock":
                assert "VCS_DATABASE_URL" in env, where
            if module is not None:
                modules.add(module)
                assert container["command"] == compose[module.split(".")[1]]["command"], where
    assert {"services.api", "services.dispatcher", "services.worker"} <= modules
    # The schema and topology as compose's setup makes them, before the api starts.
    migrate = named(objects, "Deployment", "api")["spec"]["template"]["spec"]["initContainers"]
    assert [c["command"] for c in migrate] == [compose["setup"]["command"]]
    assert named(objects, "Deployment", "dispatcher")["spec"]["replicas"] == 2


def test_variables_expand_from_variables_set_before_them(objects: list[Object]) -> None:
    """Kubernetes expands $(NAME) only from the container's ConfigMaps and the variables
    before it; any other stays as written: VCS_AMQP_URL would name a host `$(RABBITMQ_HOST)`."""
    for workload, pod in workloads(objects):
        for container in containers(pod):
            earlier = set(env_of({"envFrom": container.get("envFrom", [])}, objects))
            for variable in container.get("env", []):
                for used in re.findall(
                    r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", variable.get("value", "")
                ):
                    assert used in earlier, f"{workload['metadata']['name']}: $({used})"
                earlier.add(variable["name"])


def test_urls_come_from_the_operators_secrets(objects: list[Object]) -> None:
    rabbit = of_kind(objects, "RabbitmqCluster")
    postgres = of_kind(objects, "Cluster")
    assert len(rabbit) == len(postgres) == 1
    assert rabbit[0]["spec"]["replicas"] == 3
    cluster = postgres[0]["spec"]
    assert cluster["instances"] == 3
    # A synchronous standby, whichever field says so.
    synchronous = cluster.get("postgresql", {}).get("synchronous", {}).get("number", 0)
    assert max(synchronous, cluster.get("minSyncReplicas", 0)) >= 1
    database = postgres[0]["metadata"]["name"] + "-app"
    broker = rabbit[0]["metadata"]["name"] + "-default-user"
    for _, pod in workloads(objects):
        for container in containers(pod):
            env = {v["name"]: v for v in container.get("env", [])}
            if "VCS_DATABASE_URL" in env:
                ref = env["VCS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
                assert (ref["name"], ref["key"]) == (database, "uri")
            if "VCS_AMQP_URL" in env:
                for variable in re.findall(r"\$\((\w+)\)", env["VCS_AMQP_URL"]["value"]):
                    assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == broker


def test_every_secret_key_read_exists_or_is_documented(objects: list[Object]) -> None:
    known = secret_keys(objects)
    readme = (K8S / "README.md").read_text()
    for who, secret, key in secret_references(objects):
        if secret in known:
            assert key in known[secret], f"{who}: {secret} has no key {key}"
        else:
            assert key in EXTERNAL_SECRETS.get(secret, set()), f"{who}: {secret}/{key} unknown"
            assert f"`{key}`" in readme and f"`{secret}`" in readme, f"{secret}/{key}"
    for _, pod in workloads(objects):
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert named(objects, "ConfigMap", volume["configMap"]["name"])
        for container in containers(pod):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in config_data(objects, ref["name"])


def test_the_demo_makes_every_secret_the_base_needs(demo: list[Object]) -> None:
    secrets = {o["metadata"]["name"]: o for o in of_kind(demo, "Secret")}
    for name, keys in EXTERNAL_SECRETS.items():
        assert keys <= set(secrets[name]["data"]), name
    for path in (K8S / "overlays" / "demo").glob("example-*.env"):
        assert "EXAMPLE" in path.read_text(), f"{path.name} must say it holds examples"


def test_the_calling_policy_is_mounted_where_the_setting_points(objects: list[Object]) -> None:
    policy = (ROOT / "deploy" / "calling-policy.json").read_text()
    assert (K8S / "base" / "calling-policy.json").read_text() == policy, "copy it again"
    readers = set()
    for workload, pod in workloads(objects):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            path = env_of(container, objects).get("VCS_CALLING_POLICY")
            if path is None:
                continue
            readers.add(module_of(container))
            folder, file = path.rsplit("/", 1)
            mounts = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
            assert len(mounts) == 1, workload["metadata"]["name"]
            source = volumes[mounts[0]["name"]]["configMap"]["name"]
            assert json.loads(config_data(objects, source)[file]) == json.loads(policy)
    assert readers >= {"services.api", "services.dispatcher"}


def test_every_deployment_has_a_disruption_budget(objects: list[Object]) -> None:
    budgets = of_kind(objects, "PodDisruptionBudget")
    for workload, _ in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selects(workload["spec"]["selector"]["matchLabels"], labels)
        covering = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, workload["metadata"]["name"]


def test_services_reach_pods_on_ports_they_declare(objects: list[Object]) -> None:
    pods = [(pod, w["spec"]["template"]["metadata"]["labels"]) for w, pod in workloads(objects)]
    for service in of_kind(objects, "Service"):
        targets = [pod for pod, labels in pods if selects(service["spec"]["selector"], labels)]
        assert targets, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            for pod in targets:
                declared = [p for c in pod["containers"] for p in c.get("ports", [])]
                target = port["targetPort"]
                assert any(target in (p.get("name"), p["containerPort"]) for p in declared), port
    # The console's nginx passes /api/ to http://api:8081.
    nginx = (ROOT / "deploy" / "ui-nginx.conf").read_text()
    proxied = urlsplit(re.findall(r"proxy_pass (\S+);", nginx)[0])
    api = named(objects, "Service", str(proxied.hostname))
    assert [p["port"] for p in api["spec"]["ports"]] == [proxied.port]
    console = named(objects, "Service", "console")
    assert [p["port"] for p in console["spec"]["ports"]] == [
        int(re.findall(r"listen (\d+);", nginx)[0])
    ]


def test_workers_scale_on_the_campaign_queues(objects: list[Object]) -> None:
    scaled = of_kind(objects, "ScaledObject")
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    target = spec["scaleTargetRef"]
    assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", "worker")
    worker = named(objects, "Deployment", "worker")
    assert "replicas" not in worker["spec"], "KEDA sets it; apply would reset it"
    # Workers also consume the shared results queue: never none.
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    metadata = trigger["metadata"]
    assert trigger["type"] == "rabbitmq"
    assert {k: metadata[k] for k in ("protocol", "useRegex", "operation", "mode")} == {
        "protocol": "http",
        "useRegex": "true",
        "operation": "sum",
        "mode": "QueueLength",
    }
    pattern = re.compile(metadata["queueName"])
    for _ in range(20):
        assert pattern.search(topology.campaign_queue(uuid4()))
    others = [
        topology.CALL_RESULTS_QUEUE,
        topology.DEAD_LETTER_QUEUE,
        topology.DISPATCHER_EVENTS_QUEUE,
        topology.DIAL_REQUESTS_QUEUE,
        topology.worker_results_queue("worker-1"),
        topology.campaign_queue(uuid4()) + ".x",
    ]
    assert not [q for q in others if pattern.search(q)]
    auth = named(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
    assert parameters == {"host", "username", "password"}


def test_the_base_has_no_carrier_and_the_demo_dials_the_mock(
    base: list[Object], demo: list[Object]
) -> None:
    modules = {module_of(c) for _, pod in workloads(base) for c in pod["containers"]}
    assert "services.telephony_mock" not in modules
    mock = named(demo, "Service", "telephony-mock")
    worker = named(demo, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    api = named(demo, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    worker_env, api_env = env_of(worker, demo), env_of(api, demo)
    assert worker_env["VCS_TELEPHONY_PROVIDER"] == "twilio"
    for variable in ("VCS_TWILIO_BASE_URL", "VCS_TWILIO_TWIML_URL"):
        url = urlsplit(str(worker_env[variable]))
        assert (url.hostname, url.port) == ("telephony-mock", mock["spec"]["ports"][0]["port"])
    # Callbacks go where the worker says and are checked against the api's own idea of it.
    public = urlsplit(str(api_env["VCS_PUBLIC_BASE_URL"]))
    assert worker_env["VCS_PUBLIC_BASE_URL"] == api_env["VCS_PUBLIC_BASE_URL"]
    assert (public.hostname, public.port) == ("api", Settings.model_fields["api_port"].default)


def test_the_demo_lives_in_its_namespace_and_keda_finds_the_broker(demo: list[Object]) -> None:
    (namespace,) = of_kind(demo, "Namespace")
    name = namespace["metadata"]["name"]
    assert all(o["metadata"].get("namespace") == name for o in demo if o is not namespace)
    secret = named(demo, "Secret", "vcs-rabbitmq-management")
    url = urlsplit(base64.b64decode(secret["data"]["url"]).decode())
    rabbit = of_kind(demo, "RabbitmqCluster")[0]["metadata"]["name"]
    # KEDA runs in a namespace of its own: the broker's name must carry this one.
    assert (url.scheme, url.hostname, url.port) == ("http", f"{rabbit}.{name}.svc", 15672)
    assert url.username is None, "the credentials come from the operator's Secret"
