"""The order database, the counter service and Debezium change data capture."""
