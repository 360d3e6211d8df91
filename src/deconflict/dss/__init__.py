"""The ASTM F3548-21 DSS facade under ``/dss/v1``: JWT access, entities and subscriptions."""
