-- Tables of the raw-SQL reference (pgbench), apart from the application's: bench/run.py runs
-- this with psql -v accounts=N before each pgbench scenario.
DROP TABLE IF EXISTS bench_raw_entry, bench_raw_txn, bench_raw_account;
CREATE TABLE bench_raw_account (
    id bigint PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE bench_raw_txn (
    id bigserial PRIMARY KEY,
    amount bigint NOT NULL CHECK (amount > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench_raw_entry (
    id bigserial PRIMARY KEY,
    txn_id bigint NOT NULL REFERENCES bench_raw_txn,
    account_id bigint NOT NULL REFERENCES bench_raw_account,
    amount bigint NOT NULL,
    balance_after bigint NOT NULL
);
CREATE INDEX ON bench_raw_entry (account_id);
INSERT INTO bench_raw_account SELECT g, 100000000 FROM generate_series(1, :accounts) g;
VACUUM ANALYZE bench_raw_account;
