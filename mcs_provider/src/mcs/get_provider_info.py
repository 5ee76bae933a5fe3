"""Provider metadata read by Airflow's providers manager (``airflow providers list``)."""

from __future__ import annotations

from mcs import __version__
from mcs.settings import DEFAULTS


def get_provider_info() -> dict:
    return {
        "package-name": "mcs-provider",
        "name": "MCS",
        "description": "MQTT hooks, operators, sensors and triggers, and the MCS workflow system.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "MQTT", "external-doc-url": "https://mqtt.org/", "tags": ["protocol"]}
        ],
        "hooks": [{"integration-name": "MQTT", "python-modules": ["mcs.hooks.mqtt"]}],
        "operators": [{"integration-name": "MQTT", "python-modules": ["mcs.operators.mqtt"]}],
        "sensors": [{"integration-name": "MQTT", "python-modules": ["mcs.sensors.mqtt"]}],
        "triggers": [{"integration-name": "MQTT", "python-modules": ["mcs.triggers.mqtt"]}],
        "connection-types": [{"hook-class-name": "mcs.hooks.mqtt.MqttHook", "connection-type": "mqtt"}],
        "config": {
            "mcs": {
                "description": "Settings of MCS.",
                "options": {
                    name: {
                        "description": text,
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": None,
                        "default": default,
                    }
                    for name, (default, text) in DEFAULTS.items()
                },
            }
        },
    }
