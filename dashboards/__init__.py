"""Grafana dashboards as code, checked against real ClickHouse data."""
