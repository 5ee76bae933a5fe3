"""The MCS gateway (``mcs gateway``): MCS's one persistent MQTT session.

``main`` records device messages into the journal (:mod:`mcs.journal`) and the ``device_message``
table. It may import :mod:`mcs.settings`, :mod:`mcs.journal`, :mod:`mcs.hooks` and :mod:`mcs.db`,
never the API or the DAG factory.
"""
