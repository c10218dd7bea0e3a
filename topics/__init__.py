"""The topic catalogue and the pydantic contracts of every message on Kafka."""
