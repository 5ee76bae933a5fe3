"""The deployment files: docker-compose.yaml, Dockerfile, .env.example and deploy/.

No Docker engine runs where the tests run, so these read the files (docs/deploy.md, "What CI checks,
and what it does not"). ``docker compose config`` runs as well where a Docker client with Compose is
installed.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import stack
import yaml

from mcs import settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
ENV_EXAMPLE = REPO / ".env.example"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"

# The services that run the MCS image: Airflow's processes and the gateway.
MCS_IMAGE_SERVICES = ["airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"]
MCS_IMAGE_SERVICES += ["gateway", "flower"]
LONG_RUNNING = sorted(set(SERVICES) - {"airflow-init"})
# Settings of `make up` that describe one machine, not MCS: the compose file leaves them out.
MACHINE_LOCAL = {
    stack.MARKER,  # marks the processes of one run dir for `make down`
    "PATH",
    "PYTHONUNBUFFERED",
    "AIRFLOW_HOME",  # the image's /opt/airflow
    "AIRFLOW__API__HOST",  # inside a container the API server listens on all its interfaces
    "AIRFLOW__API__PORT",  # Airflow's default 8080 inside the container; published as MCS_API_PORT
    "AIRFLOW__API__BASE_URL",  # where users reach it is the deployment's choice
}
# ${NAME}, ${NAME:-default} and $$ (a literal $ for the container's shell); a bare $NAME is refused.
INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>\w+))")
BRACED = re.compile(r"(?P<name>[A-Za-z_]\w*)(?::-(?P<default>.*))?")
PRIVATE_NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
DEPLOY_FILES = sorted(
    [
        COMPOSE_FILE,
        REPO / "Dockerfile",
        REPO / ".dockerignore",
        ENV_EXAMPLE,
        REPO / "scripts" / "install.sh",
        REPO / "docs" / "deploy.md",
        *(p for p in (REPO / "deploy").rglob("*") if p.is_file()),
    ]
)


def strings(node: object) -> list[str]:
    """Every string in the parsed compose file, keys included: what Compose interpolates."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    return [node] if isinstance(node, str) else []


def compose_variables() -> dict[str, set[str | None]]:
    """Every variable the compose file interpolates, with the defaults it is given."""
    found: dict[str, set[str | None]] = {}
    for match in INTERPOLATION.finditer("\n".join(strings(COMPOSE))):
        if match["escaped"]:
            continue
        assert match["bare"] is None, (
            f"`${match['bare']}`: write ${{{match['bare']}}}, or $$ for the container"
        )
        parsed = BRACED.fullmatch(match["braced"])
        assert parsed, f"`${{{match['braced']}}}` is not ${{NAME}} or ${{NAME:-default}}"
        found.setdefault(parsed["name"], set()).add(parsed["default"])
    return found


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and key not in values, f"`{line}` is not a new KEY=value line"
            values[key] = value
    return values


def published(service: str) -> list[str]:
    return SERVICES[service].get("ports", [])


# ---------------------------------------------------------------- services


def test_compose_has_the_processes_of_the_design():
    assert set(SERVICES) == {
        *("postgres", "redis", "mosquitto", "airflow-init", "api-server", "scheduler"),
        *("dag-processor", "triggerer", "worker", "gateway", "flower"),
    }


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_service_has_healthcheck_and_restarts(service):
    assert SERVICES[service]["restart"] == "unless-stopped"
    assert SERVICES[service]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}


def test_airflow_init_runs_once_and_migrates_both_databases():
    command = "\n".join(SERVICES["airflow-init"]["command"])

    assert SERVICES["airflow-init"]["restart"] == "no"
    assert 0 <= command.index("airflow db migrate") < command.index("mcs db upgrade")


@pytest.mark.parametrize("service", sorted(set(MCS_IMAGE_SERVICES) - {"airflow-init"}))
def test_mcs_process_starts_after_airflow_init_succeeded(service):
    assert SERVICES[service]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("service", MCS_IMAGE_SERVICES)
def test_mcs_service_runs_the_image_built_from_the_dockerfile(service):
    expected = ("${MCS_IMAGE:-mcs-airflow:0.1.0}", {"context": ".", "dockerfile": "Dockerfile"})

    assert (SERVICES[service]["image"], SERVICES[service]["build"]) == expected


def test_gateway_runs_mcs_gateway():
    assert SERVICES["gateway"]["command"] == ["bash", "-c", "exec mcs gateway"]


def test_flower_starts_only_with_its_profile():
    profiled = {name: s["profiles"] for name, s in SERVICES.items() if "profiles" in s}

    assert profiled == {"flower": ["flower"]}


def test_worker_and_triggerer_can_be_scaled():
    for service in ("worker", "triggerer"):
        assert "container_name" not in SERVICES[service]
        assert published(service) == []


def test_published_ports_are_the_api_server_mqtt_and_flower_only():
    ports = {
        name: sorted(p.rsplit(":", 1)[1] for p in published(name)) for name in SERVICES if published(name)
    }

    assert ports == {"api-server": ["8080"], "mosquitto": ["1883", "9001"], "flower": ["5555"]}


def test_published_ports_bind_to_mcs_bind_address_loopback_by_default():
    for name in SERVICES:
        for port in published(name):
            assert port.startswith("${MCS_BIND_ADDRESS:-127.0.0.1}:"), port


def test_data_lives_in_named_volumes_and_only_deploy_config_is_mounted():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source, target, *mode = mount.split(":")
            if source.startswith("."):
                assert source.startswith("./deploy/") and mode == ["ro"], f"{name}: {mount}"
            else:
                assert source in declared, f"{name}: {mount}"


@pytest.mark.parametrize("service", MCS_IMAGE_SERVICES)
def test_mcs_container_gets_every_setting_of_make_up(service, tmp_path):
    wanted = set(stack.build_env(stack.test_profile(run_dir=tmp_path), base={})) - MACHINE_LOCAL

    assert sorted(wanted - set(SERVICES[service]["environment"])) == []


# ---------------------------------------------------------------- settings


def test_compose_variables_have_one_default_each():
    several = {name: defaults for name, defaults in compose_variables().items() if len(defaults) != 1}

    assert several == {}


def test_every_compose_variable_is_in_env_example_with_its_default():
    documented = env_example()
    defaults = {name: defaults.pop() or "" for name, defaults in compose_variables().items()}

    assert {name: documented.get(name) for name in defaults} == defaults


def test_every_env_example_setting_is_used_by_compose():
    assert sorted(set(env_example()) - set(compose_variables())) == []


def test_env_example_shows_servers_you_already_run_with_placeholder_hosts():
    section = ENV_EXAMPLE.read_text().split("Using servers you already run", 1)[1]
    hosts = dict(re.findall(r"^#\s+(POSTGRES_HOST|REDIS_HOST|MQTT_HOST)=(\S+)$", section, re.MULTILINE))

    assert hosts == {
        "POSTGRES_HOST": "db.example.internal",
        "REDIS_HOST": "redis.example.internal",
        "MQTT_HOST": "mqtt.example.internal",
    }


@pytest.mark.parametrize("path", [COMPOSE_FILE, ENV_EXAMPLE, HELM_VALUES], ids=lambda p: p.name)
def test_mcs_option_is_one_mcs_reads(path):
    options = set(re.findall(r"AIRFLOW__MCS__(\w+)", path.read_text()))

    assert options, f"no [mcs] option in {path.name}"
    assert sorted(o for o in options if o.lower() not in settings.DEFAULTS) == []


# ---------------------------------------------------------------- PostgreSQL and Mosquitto


def test_init_sql_creates_the_databases_compose_names():
    init_sql = (REPO / "deploy" / "postgres" / "init.sql").read_text()
    variables = compose_variables()

    assert re.findall(r"^\\set (airflow_db|mcs_db) (\S+)$", init_sql, re.MULTILINE) == [
        ("airflow_db", *variables["AIRFLOW_DB_NAME"]),
        ("mcs_db", *variables["MCS_DB_NAME"]),
    ]
    assert (
        "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/init.sql:ro"
        in SERVICES["postgres"]["volumes"]
    )


def acl_rules() -> dict[str | None, set[str]]:
    """The ACL's rules: under None the patterns (every user), under a name that user's topic lines."""
    rules: dict[str | None, set[str]] = {None: set()}
    user = None
    for line in (REPO / "deploy" / "mosquitto" / "acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules[user] = set()
        else:
            rules[None if words[0] == "pattern" else user].add(" ".join(words[1:]))
    return rules


def test_acl_lets_devices_publish_device_messages_and_commands_and_read_replies():
    assert acl_rules()[None] == {
        "write devices/#",
        "write mcs/workflows/+/command",
        "read devices/%u/#",
        "read mcs/workflows/+/ack",
    }


def test_acl_lets_the_compose_mqtt_user_do_everything():
    (mqtt_user,) = compose_variables()["MQTT_USER"]

    assert acl_rules()[mqtt_user] == {"readwrite #", "read $SYS/#"}


def test_mosquitto_refuses_anonymous_clients_on_both_listeners():
    conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()

    assert re.findall(r"^(allow_anonymous|per_listener_settings|listener) (.+)$", conf, re.MULTILINE) == [
        ("per_listener_settings", "false"),
        ("allow_anonymous", "false"),
        ("listener", "1883"),
        ("listener", "9001"),
    ]


# ---------------------------------------------------------------- the image


def test_dockerfile_runs_the_install_script_of_the_makefile():
    makefile = (REPO / "Makefile").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    install_rule = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]

    assert "sh scripts/install.sh $(PY)" in install_rule
    assert re.findall(r"^RUN .*scripts/install\.sh.*$", dockerfile, re.MULTILINE) == [
        "RUN PIP_NO_CACHE_DIR=1 sh scripts/install.sh python"
    ]
    assert "pip install" not in makefile
    assert "pip install" not in dockerfile


def test_dockerfile_starts_from_the_pinned_airflow():
    pin = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE)[1]
    dockerfile = (REPO / "Dockerfile").read_text()
    helm = yaml.safe_load(HELM_VALUES.read_text())

    assert f"ARG AIRFLOW_IMAGE=apache/airflow:{pin}-python3.11\n" in dockerfile
    assert (helm["defaultAirflowTag"], helm["airflowVersion"]) == (pin, pin)


def test_dockerfile_builds_the_app_with_node_20_and_copies_it_with_dags_and_plugins():
    dockerfile = (REPO / "Dockerfile").read_text()

    assert "ARG NODE_IMAGE=node:20\n" in dockerfile
    assert "RUN npm ci && npm run build\n" in dockerfile
    for copied in (
        "dags/ dags/",
        "plugins/ plugins/",
        "--from=frontend /build/frontend/dist/ frontend/dist/",
    ):
        assert f" {copied}\n" in dockerfile


def test_docker_build_context_leaves_out_secrets_and_local_environments():
    ignored = set((REPO / ".dockerignore").read_text().split())

    assert {".env", ".venv", ".run", "frontend/node_modules"} <= ignored


# ---------------------------------------------------------------- all deployment files


def ipv4_addresses(text: str) -> list[ipaddress.IPv4Address]:
    found = []
    for candidate in re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", text):
        try:
            found.append(ipaddress.IPv4Address(candidate))
        except ValueError:
            continue
    return found


def test_ipv4_addresses_finds_private_and_loopback_addresses_only_whole():
    text = "db 192.168.1.20, lo 127.0.0.1; version 3.3.2; not 1.2.3.4.5 nor 999.1.1.1"

    assert ipv4_addresses(text) == [ipaddress.IPv4Address("192.168.1.20"), ipaddress.IPv4Address("127.0.0.1")]


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_deploy_file_names_no_private_network_address(path):
    addresses = ipv4_addresses(path.read_text())

    assert [a for a in addresses if any(a in network for network in PRIVATE_NETWORKS)] == []


def test_helm_values_run_celery_on_external_servers_with_the_gateway():
    values = yaml.safe_load(HELM_VALUES.read_text())
    (gateway,) = values["dagProcessor"]["extraContainers"]

    assert values["executor"] == "CeleryExecutor"
    assert (values["postgresql"]["enabled"], values["redis"]["enabled"]) == (False, False)
    assert values["migrateDatabaseJob"]["args"][-1] == "airflow db migrate && exec mcs db upgrade"
    assert (gateway["command"], values["dagProcessor"]["replicas"]) == (["mcs", "gateway"], 1)


def _docker_compose() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "no docker client on PATH"
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        first_line = (probe.stderr or probe.stdout).strip().splitlines()[:1]
        return f"`docker compose` is not available ({' '.join(first_line)})"
    return None


@pytest.mark.parametrize("env_file", ["empty", ".env.example"])
def test_docker_compose_config_accepts_the_file(env_file, tmp_path):
    missing = _docker_compose()
    if missing:
        pytest.skip(f"{missing}; the YAML checks above ran all the same")
    path = ENV_EXAMPLE
    if env_file == "empty":
        path = tmp_path / "empty.env"
        path.touch()
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(path), "--profile", "flower"]
        + ["config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )

    assert (result.returncode, result.stderr) == (0, "")
