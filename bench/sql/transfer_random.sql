-- One ledger transfer in raw SQL, the database work of POST /transfers without the framework:
-- lock both rows in id order, update both balances, insert a transaction and its 2 entries.
-- Random pair of distinct accounts. pgbench -D accounts=N.
\set a random(1, :accounts)
\set b random(1, :accounts - 1)
\set b case when :b >= :a then :b + 1 else :b end
\set lo least(:a, :b)
\set hi greatest(:a, :b)
BEGIN;
SELECT id, balance FROM bench_raw_account WHERE id IN (:lo, :hi) ORDER BY id FOR UPDATE;
UPDATE bench_raw_account SET balance = balance - 1 WHERE id = :a RETURNING balance AS bal_a \gset
UPDATE bench_raw_account SET balance = balance + 1 WHERE id = :b RETURNING balance AS bal_b \gset
INSERT INTO bench_raw_txn (amount) VALUES (1) RETURNING id AS txn \gset
INSERT INTO bench_raw_entry (txn_id, account_id, amount, balance_after)
     VALUES (:txn, :a, -1, :bal_a), (:txn, :b, 1, :bal_b);
END;
