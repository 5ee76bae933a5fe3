"""Building an Airflow DAG from a definition."""

from __future__ import annotations

from datetime import timedelta

from mcs.dag_factory.builder import build_dag
from mcs.dag_factory.steps import HttpRequestStep, MqttPublishStep, MqttWaitStep
from mcs.definition import parse_definition
from tests.unit.definitions import demo


def test_nodes_become_tasks_and_edges_dependencies():
    dag = build_dag(parse_definition(demo()), version=3)

    assert sorted(dag.task_ids) == ["reply", "report", "send"]
    assert dag.get_task("send").downstream_task_ids == {"reply"}
    assert dag.get_task("reply").downstream_task_ids == {"report"}
    assert dag.get_task("report").downstream_task_ids == set()


def test_dag_carries_name_tags_and_description():
    dag = build_dag(parse_definition(demo()), version=3)

    assert dag.dag_id == "pump_check"
    assert dag.dag_display_name == "水泵读数"
    assert dag.description == "Read a pump and report the value."
    assert set(dag.tags) == {"mcs", "demo", "v3"}
    assert dag.schedule is None


def test_each_kind_gets_its_operator_and_node_settings():
    dag = build_dag(parse_definition(demo()))

    send, reply, report = (dag.get_task(key) for key in ("send", "reply", "report"))

    assert isinstance(send, MqttPublishStep)
    assert send.topic == "devices/{{ params.device_id }}/command"
    assert send.task_display_name == "发送命令"
    assert isinstance(reply, MqttWaitStep)
    assert isinstance(report, HttpRequestStep)
    assert report.retries == 2
    assert report.execution_timeout == timedelta(seconds=30)
    assert report.json_body == {"value": "{{ nodes.reply.payload.value }}"}


def test_params_become_dag_params_with_defaults():
    dag = build_dag(parse_definition(demo()))

    assert dag.params["device_id"] == "pump-1"


def test_templates_render_to_native_types_in_a_sandbox():
    dag = build_dag(parse_definition(demo()))
    report = dag.get_task("report")

    rendered = report.render_template(
        report.json_body, {"nodes": {"reply": {"payload": {"value": 42.5}}}}, report.get_template_env()
    )

    assert report.render_template_as_native_obj is True
    assert rendered == {"value": 42.5}
