"""The MCS gateway (``mcs gateway``): MCS's one persistent MQTT session.

- ``main``: the session: connect, subscribe, reconnect with backoff; ``mcs gateway`` runs it.
- ``client``: the MQTT client that acknowledges a message only once it has been dealt with.
- ``topics``: which device topics to record, the command and ack topics.
- ``recorder``: device messages into the journal (:mod:`mcs.journal`) and ``device_message``.
- ``commands``: start/stop/enable/disable commands, checked, carried out, answered.
- ``events``: run events on the MQTT events topic, alert webhooks, the run watcher.

It may import :mod:`mcs.settings`, :mod:`mcs.journal`, :mod:`mcs.hooks`, :mod:`mcs.db`,
:mod:`mcs.events` and, for commands, :mod:`mcs.api.services.control`; never the API routes or
the DAG factory.
"""
