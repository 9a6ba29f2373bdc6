"""The sale batch's start in one round trip (issue 16): ``evd_sale_batch_start`` claims the
batch's request keys, locks its meters then its vendor accounts (each in id order: the global
lock order), reads the meters' records, re-checks its principals with their distribution
nodes, hands out its row ids and locks its PINs (``SKIP LOCKED``) with each voucher product's
stock level; ``evd_batch_expect`` refuses a batch write that touched fewer rows than it must
(checks the batch's one-round-trip write script makes in SQL). PostgreSQL only: SQLite keeps
the simple batch (``vending.sale_batch``), so there both are a no-op.

The function returns one JSON document; ``vending.sale_batch`` reads it. Keep the column
lists in step with the statements the single path runs (``utilities.registry``'s meter
record, ``vending.auth.revalidate``, ``distribution.selling``, ``vending.vouchers.selling``).

Revision ID: 0020_sale_batch_start
Revises: 0019_fund_pushes
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0020_sale_batch_start"
down_revision = "0019_fund_pushes"
branch_labels = None
depends_on = None

START = """
CREATE FUNCTION evd_sale_batch_start(
    p_client text[], p_request text[], p_channel text[], p_operation text[],
    p_fingerprint bytea[], p_received timestamptz[],
    p_meters text[], p_accounts bigint[], p_vendors bigint[], p_operators bigint[],
    p_sales integer, p_tables text[], p_table_counts integer[],
    p_products bigint[], p_days date[], p_counts integer[]
) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    v_claims json;
    v_meters json;
    v_accounts json;
    v_principals json;
    v_ids json;
    v_more json := '{}';
    v_vouchers json := '[]';
    v_rows json;
    v_loose json;
    v_found integer;
    v_more_found integer;
    v_threshold integer;
    v_alerted timestamptz;
    v_sellable bigint;
    -- Looked up once, not once per id.
    v_transfers regclass := pg_get_serial_sequence('transfers', 'id')::regclass;
    v_sales regclass := pg_get_serial_sequence('sales', 'id')::regclass;
    v_sequence regclass;
    i integer;
BEGIN
    -- 1. Claim every key (a key already there -- a re-send -- is left to its sale).
    WITH claimed AS (
        INSERT INTO requests (client_id, request_id, channel, operation, fingerprint, state,
                              received_at)
        SELECT c, r, ch, op, fp, 'pending', t
        FROM unnest(p_client, p_request, p_channel, p_operation, p_fingerprint, p_received)
             WITH ORDINALITY AS u(c, r, ch, op, fp, t, n)
        ORDER BY n
        ON CONFLICT (client_id, request_id) DO NOTHING
        RETURNING id, client_id, request_id
    )
    SELECT coalesce(json_agg(json_build_array(id, client_id, request_id)), '[]')
    INTO v_claims FROM claimed;

    -- 2. The global lock order: meters by id, then vendor accounts by id (the hot accounts
    -- are locked last, by the batch's write).
    SELECT coalesce(json_agg(locked ORDER BY locked.id), '[]') INTO v_meters
    FROM (
        SELECT m.*, t.code AS tariff_code, d.balance AS debt_balance,
               d.currency AS debt_currency, d.account_no AS debt_account_no,
               d.description AS debt_description
        FROM meters m
        LEFT JOIN tariffs t ON t.id = m.tariff_id
        LEFT JOIN meter_debts d ON d.meter_id = m.id
        WHERE m.msno = ANY(p_meters)
        ORDER BY m.id
        FOR UPDATE OF m
    ) AS locked;
    SELECT coalesce(
        json_agg(json_build_array(id, currency, balance, credit_limit, blocked) ORDER BY id),
        '[]'
    ) INTO v_accounts
    FROM (
        SELECT id, currency, balance, credit_limit, blocked FROM accounts
        WHERE id = ANY(p_accounts) ORDER BY id FOR UPDATE
    ) AS locked;

    -- 3. The principals (vending.auth.revalidate) and each vendor's node.
    SELECT coalesce(json_agg(p), '[]') INTO v_principals
    FROM (
        SELECT u.vid, u.oid, v.blocked, v.privileges, o.blocked AS operator_blocked,
               o.credential_version, n.id AS node_id, n.code AS node_code,
               n.parent_id AS node_parent_id, n.status AS node_status,
               n.allowed_products AS node_allowed_products,
               n.allowed_channels AS node_allowed_channels
        FROM unnest(p_vendors, p_operators) AS u(vid, oid)
        JOIN vendors v ON v.id = u.vid
        LEFT JOIN operators o ON o.vendor_id = v.id AND o.id = u.oid
        LEFT JOIN distribution_nodes n ON n.vendor_id = v.id
    ) AS p;

    -- 4. Row ids: transfers and sales, then the further tables the sales insert into.
    SELECT json_build_object(
        'transfers', coalesce(json_agg(tr ORDER BY g), '[]'),
        'sales', coalesce(json_agg(sa ORDER BY g), '[]')
    ) INTO v_ids
    FROM (
        SELECT g, nextval(v_transfers) AS tr, nextval(v_sales) AS sa
        FROM generate_series(1, p_sales) AS g
    ) AS ids;
    FOR i IN 1 .. coalesce(array_length(p_tables, 1), 0) LOOP
        v_sequence := pg_get_serial_sequence(p_tables[i], 'id')::regclass;
        SELECT json_agg(nextval(v_sequence))
        INTO v_rows FROM generate_series(1, p_table_counts[i]);
        v_more := (v_more::jsonb || jsonb_build_object(p_tables[i], v_rows))::json;
    END LOOP;

    -- 5. Each voucher product's PINs, earliest expiry first, then those without expiry
    -- (planned with the actual values, as the single sale's statements are: a generic
    -- plan could sort every available voucher), and its stock level after them.
    FOR i IN 1 .. coalesce(array_length(p_products, 1), 0) LOOP
        EXECUTE $q$
            SELECT coalesce(json_agg(r ORDER BY r.expiry, r.id), '[]'), count(*)
            FROM (
                SELECT v.id, v.supplier_id, v.import_id, v.batch_seq, v.serial_no,
                       v.pin_key_id, encode(v.pin_ciphertext, 'hex') AS pin_ciphertext,
                       v.expiry, b.batch_no, s.code AS supplier_code
                FROM vouchers v
                JOIN voucher_batches b ON b.import_id = v.import_id AND b.seq = v.batch_seq
                JOIN suppliers s ON s.id = v.supplier_id
                WHERE v.product_id = $1 AND v.state = 'available' AND v.expiry >= $2
                ORDER BY v.expiry, v.id
                LIMIT $3
                FOR UPDATE OF v SKIP LOCKED
            ) AS r
        $q$ INTO v_rows, v_found USING p_products[i], p_days[i], p_counts[i];
        v_loose := '[]';
        IF v_found < p_counts[i] THEN
            EXECUTE $q$
                SELECT coalesce(json_agg(r ORDER BY r.id), '[]'), count(*)
                FROM (
                    SELECT v.id, v.supplier_id, v.import_id, v.batch_seq, v.serial_no,
                           v.pin_key_id, encode(v.pin_ciphertext, 'hex') AS pin_ciphertext,
                           v.expiry, b.batch_no, s.code AS supplier_code
                    FROM vouchers v
                    JOIN voucher_batches b
                      ON b.import_id = v.import_id AND b.seq = v.batch_seq
                    JOIN suppliers s ON s.id = v.supplier_id
                    WHERE v.product_id = $1 AND v.state = 'available' AND v.expiry IS NULL
                    ORDER BY v.id
                    LIMIT $2
                    FOR UPDATE OF v SKIP LOCKED
                ) AS r
            $q$ INTO v_loose, v_more_found USING p_products[i], p_counts[i] - v_found;
        END IF;
        -- The stock level as the low-stock check would count it (vending.vouchers.alerts),
        -- this batch's PINs still included: up to threshold + 1 beyond them.
        v_threshold := NULL;
        v_alerted := NULL;
        v_sellable := NULL;
        SELECT low_stock_threshold, low_stock_alerted_at INTO v_threshold, v_alerted
        FROM stock_thresholds WHERE product_id = p_products[i];
        IF v_threshold IS NOT NULL THEN
            EXECUTE $q$
                SELECT count(*) FROM (
                    SELECT 1 FROM vouchers
                    WHERE product_id = $1 AND state = 'available'
                      AND (expiry IS NULL OR expiry >= $2)
                    LIMIT $3
                ) AS s
            $q$ INTO v_sellable
            USING p_products[i], p_days[i], v_threshold + 1 + p_counts[i];
        END IF;
        v_vouchers := (v_vouchers::jsonb || jsonb_build_array(json_build_object(
            'rows', (v_rows::jsonb || v_loose::jsonb),
            'threshold', v_threshold,
            'alerted', v_alerted IS NOT NULL,
            'sellable', v_sellable
        )))::json;
    END LOOP;

    RETURN json_build_object(
        'claims', v_claims, 'meters', v_meters, 'accounts', v_accounts,
        'principals', v_principals, 'ids', v_ids, 'more_ids', v_more,
        'vouchers', v_vouchers
    );
END
$$
"""

EXPECT = """
CREATE FUNCTION evd_batch_expect(p_found bigint, p_wanted bigint, p_what text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_found IS DISTINCT FROM p_wanted THEN
        RAISE EXCEPTION 'sale batch: % touched % rows, not %', p_what, p_found, p_wanted;
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(START)
    op.execute(EXPECT)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS evd_batch_expect(bigint, bigint, text)")
    op.execute(
        "DROP FUNCTION IF EXISTS evd_sale_batch_start(text[], text[], text[], text[], bytea[],"
        " timestamptz[], text[], bigint[], bigint[], bigint[], integer, text[], integer[],"
        " bigint[], date[], integer[])"
    )
