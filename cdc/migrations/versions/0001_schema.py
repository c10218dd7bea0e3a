"""The order database: accounts, USDT balances, products, orders, transfers, the publication.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Why the rules live in the database too: the counter service checks everything before it
writes, but the database is the last line — a balance can never go negative (CHECK), an order's
premium and total always equal their parts (CHECK), a client order id is used once per account
(UNIQUE), an order's terms never change after it is written and its status only moves along
``order_status_transitions`` (trigger). Money is NUMERIC(38,18): exact, 20 integer digits.

``balances`` is deliberately a separate, uncaptured table: the debit is implied by the order
row it is written with, and capturing it would double the change stream for nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = r"'^[A-Za-z0-9_.:-]{1,64}$'"

UPGRADE = f"""
CREATE TABLE accounts (
    id          text PRIMARY KEY CHECK (id ~ {_ID}),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE balances (
    account_id  text NOT NULL REFERENCES accounts (id),
    asset       text NOT NULL DEFAULT 'USDT' CHECK (asset = 'USDT'),
    balance     numeric(38, 18) NOT NULL DEFAULT 0 CONSTRAINT balance_not_negative
                CHECK (balance >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, asset)
);

CREATE TABLE products (
    id             text PRIMARY KEY CHECK (id ~ '^[A-Z0-9]+-[0-9]{{8}}-[0-9.]+-[CP]$'),
    underlying     text NOT NULL CHECK (underlying IN ('BTC', 'ETH')),
    strike         numeric(38, 18) NOT NULL CHECK (strike > 0),
    expiry         timestamptz NOT NULL,
    option_type    text NOT NULL CHECK (option_type IN ('call', 'put')),
    contract_size  numeric(38, 18) NOT NULL CHECK (contract_size > 0),
    status         text NOT NULL DEFAULT 'listed'
                   CHECK (status IN ('listed', 'halted', 'expired', 'delisted')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_status_transitions (
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO order_status_transitions VALUES
    ('open', 'settling'), ('open', 'cancelled'), ('settling', 'settled');

CREATE TABLE orders (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id        text NOT NULL REFERENCES accounts (id),
    client_order_id   text NOT NULL CHECK (client_order_id ~ {_ID}),
    product_id        text NOT NULL REFERENCES products (id),
    underlying        text NOT NULL CHECK (underlying IN ('BTC', 'ETH')),
    strike            numeric(38, 18) NOT NULL CHECK (strike > 0),
    expiry            timestamptz NOT NULL,
    option_type       text NOT NULL CHECK (option_type IN ('call', 'put')),
    contract_size     numeric(38, 18) NOT NULL CHECK (contract_size > 0),
    side              text NOT NULL DEFAULT 'buy' CHECK (side = 'buy'),
    contracts         numeric(38, 18) NOT NULL CHECK (contracts > 0),
    underlying_price  numeric(38, 18) NOT NULL CHECK (underlying_price > 0),
    iv                numeric(38, 18) NOT NULL CHECK (iv > 0),
    price             numeric(38, 18) NOT NULL CHECK (price > 0),
    premium           numeric(38, 18) NOT NULL,
    fee               numeric(38, 18) NOT NULL CHECK (fee >= 0),
    total             numeric(38, 18) NOT NULL,
    status            text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'settling', 'settled', 'cancelled')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency UNIQUE (account_id, client_order_id),
    CONSTRAINT orders_premium CHECK (premium = price * contracts * contract_size),
    CONSTRAINT orders_total CHECK (total = premium + fee)
);
CREATE INDEX orders_updated_at ON orders (updated_at);

CREATE FUNCTION orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'open' THEN
            RAISE EXCEPTION 'order % must be created open, not %', NEW.id, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.id, NEW.account_id, NEW.client_order_id, NEW.product_id, NEW.underlying,
        NEW.strike, NEW.expiry, NEW.option_type, NEW.contract_size, NEW.side, NEW.contracts,
        NEW.underlying_price, NEW.iv, NEW.price, NEW.premium, NEW.fee, NEW.total,
        NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.account_id, OLD.client_order_id, OLD.product_id, OLD.underlying,
        OLD.strike, OLD.expiry, OLD.option_type, OLD.contract_size, OLD.side, OLD.contracts,
        OLD.underlying_price, OLD.iv, OLD.price, OLD.premium, OLD.fee, OLD.total,
        OLD.created_at) THEN
        RAISE EXCEPTION 'order %: only the status of an order may change', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM order_status_transitions
                       WHERE from_status = OLD.status AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'order %: status % -> % is not allowed', OLD.id, OLD.status,
                NEW.status USING ERRCODE = 'check_violation';
        END IF;
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_guard BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_guard();

CREATE TABLE transfers (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  text NOT NULL REFERENCES accounts (id),
    kind        text NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    asset       text NOT NULL DEFAULT 'USDT' CHECK (asset = 'USDT'),
    amount      numeric(38, 18) NOT NULL CHECK (amount > 0),
    reference   text NOT NULL CHECK (length(reference) BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transfers_idempotency UNIQUE (account_id, reference)
);
CREATE INDEX transfers_created_at ON transfers (created_at);

CREATE PUBLICATION strikeflow_cdc FOR TABLE orders, transfers, accounts;
"""

DOWNGRADE = """
DROP PUBLICATION IF EXISTS strikeflow_cdc;
DROP TABLE IF EXISTS transfers;
DROP TABLE IF EXISTS orders;
DROP FUNCTION IF EXISTS orders_guard();
DROP TABLE IF EXISTS order_status_transitions;
DROP TABLE IF EXISTS products;
DROP TABLE IF EXISTS balances;
DROP TABLE IF EXISTS accounts;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
