"""Observability and integrations: metrics, camera health, the live event stream, webhooks, MQTT."""
