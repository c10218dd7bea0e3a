"""Writers from Kafka topics to ClickHouse and Elasticsearch."""
