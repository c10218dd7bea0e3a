"""The order database fixtures of the CDC tests (migrated database, registered connector,
the counter service, funded accounts), shared with the compliance tests."""

from tests.integration.cdc.conftest import (  # noqa: F401 - pytest finds fixtures by name
    cdc_stack,
    cfg,
    counter,
    funded,
    reader,
)
