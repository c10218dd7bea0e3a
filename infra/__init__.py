"""The local stack without Docker: Kafka, Connect+Debezium, PostgreSQL, Elasticsearch, chDB."""
