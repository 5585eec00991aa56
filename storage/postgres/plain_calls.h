// The common case of three lifecycle calls as plain statements: Enqueue by an anonymous
// producer without dedup keys, Dequeue by an anonymous consumer, and Ack. They do what
// pgqrs_enqueue, pgqrs_dequeue and pgqrs_settle_leases('ack') do in that case
// (migrations/postgres/0005_lean_calls.sql), in one statement each, so no PL/pgSQL runs.
// A PL/pgSQL call costs about as much again as its statements: its function entry and
// its expressions are set up anew in every transaction, and here every call is one.
// The other cases (workers, dedup keys, the other lease actions) call the functions.
//
// Each statement reads its queue in a CTE and answers a header row, the one whose `id` is
// NULL, holding the refusal code (1 no such queue, 2 a workflow's trigger queue), then
// its rows. A refused call changes nothing. The adapter sends them with the call settings
// of postgres_store.cc (generic plans, no sequential scans, hash or merge joins), so each
// is planned once per connection, and a lease is always matched by primary key or tuple id
// (storage/postgres/README.md, "Plans on a drained queue").
// Internal to storage/postgres.
#pragma once

#include "storage/postgres/pg_conn.h"
#include "storage/postgres/store_impl.h"  // PGQRS_US

namespace pgqrs::storage::pg {

// The settings every flight makes first ($1 the quoted schema, $2 the statement timeout in
// ms): begin_sql_'s schema and timeout, local to the implicit transaction of the flight as
// SET LOCAL is to an explicit one. The statements here are planned once per connection,
// generically (custom plans for their array parameters cost a planning per call), and
// without sequential scans or hash and merge joins, so that a plan made while a table is
// small keeps using the indexes when it has grown. The functions set what they need
// themselves. JIT is off: a generic plan assumes a parameterized LIMIT takes a tenth of the
// table, so on a deep queue its estimated cost passes the JIT thresholds and every call
// would spend hundreds of milliseconds compiling a plan that touches a few rows.
inline constexpr Statement kCallSettings{
    "call_settings",
    "SELECT set_config('search_path', $1, true), set_config('statement_timeout', $2, true), "
    "set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true), "
    "set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), "
    "set_config('enable_mergejoin', 'off', true)"};

// The queue a call names, and whether it is a workflow's trigger queue.
#define PGQRS_PLAIN_QUEUE                                                            \
  "q AS (SELECT qs.id, qs.max_read_count, qs.visibility_timeout_ms, "                \
  "EXISTS (SELECT 1 FROM pgqrs_workflows w WHERE w.queue_id = qs.id) AS is_trigger " \
  "FROM pgqrs_queues qs WHERE qs.queue_name = $1"

// The header row: the refusal code and NULLs for the columns of `nulls`.
#define PGQRS_PLAIN_HEADER(nulls)                                                               \
  "SELECT CASE WHEN q.id IS NULL THEN 1 WHEN q.is_trigger THEN 2 ELSE 0 END AS refusal, " nulls \
  " FROM (SELECT) AS one LEFT JOIN q ON true"

// $1 queue, $2 payloads, $3 priorities, $4 delays (us). Rows: (refusal, id), the header
// first, then the new ids in ascending order, which is row order (the identity numbers
// the rows as they are inserted). The queue is locked FOR KEY SHARE, so DeleteQueue
// waits for the enqueue (as pgqrs_enqueue does).
inline constexpr Statement kPlainEnqueue{
    "plain_enqueue",
    "WITH " PGQRS_PLAIN_QUEUE
    " FOR KEY SHARE OF qs), "
    "inserted AS (INSERT INTO pgqrs_messages (queue_id, payload, priority, state, vt, "
    "enqueued_at, read_ct) "
    "SELECT q.id, t.payload::jsonb, t.priority, 0, now() + t.delay_us * interval '1 microsecond', "
    "now(), 0 FROM q, unnest($2::text[], $3::int4[], $4::int8[]) AS t(payload, priority, delay_us) "
    "WHERE NOT q.is_trigger RETURNING pgqrs_messages.id) " PGQRS_PLAIN_HEADER("NULL::int8 AS id")
    " UNION ALL SELECT 0, inserted.id FROM inserted ORDER BY id NULLS FIRST"};

// $1 queue, $2 most messages, $3 visibility timeout (us; NULL: the queue's), $4 lease
// tokens, one per message asked for. One round of pgqrs_lease_visible: the first visible
// messages in dequeue order (written as the dequeue index orders them, 0006), FOR UPDATE
// SKIP LOCKED, leased. The lease updates the locked row versions by tuple id (ctid), which
// needs no index at all. Rows: (refusal,
// dead_letters_first, n, then the PGQRS_LEASED_COLUMNS of messages.cc), the header first,
// then the leased messages in dequeue order. When a candidate's final lease expired
// (it is dead), nothing changes and dead_letters_first is true: pgqrs_dequeue then does
// the call, dead-lettering it on the way.
inline constexpr Statement kPlainDequeue{
    "plain_dequeue",
    "WITH " PGQRS_PLAIN_QUEUE
    "), "
    "c AS (SELECT m.ctid AS tid, m.id, m.priority, m.vt, "
    "(m.lease_token IS NOT NULL AND m.read_ct >= (SELECT q.max_read_count FROM q)) AS dead "
    "FROM pgqrs_messages m "
    "WHERE m.queue_id = (SELECT q.id FROM q WHERE NOT q.is_trigger) AND m.state = 0 "
    "AND m.vt <= now() ORDER BY m.priority DESC, m.vt, m.id + 0 LIMIT $2 FOR UPDATE SKIP LOCKED), "
    "l AS (UPDATE pgqrs_messages m SET read_ct = m.read_ct + 1, "
    "vt = now() + coalesce($3::int8, (SELECT q.visibility_timeout_ms * 1000 FROM q)) "
    "* interval '1 microsecond', "
    "lease_token = ($4::int8[])[t.n], dequeued_at = coalesce(m.dequeued_at, now()) "
    "FROM (SELECT c.tid, c.id, row_number() OVER (ORDER BY c.priority DESC, c.vt, c.id) AS n "
    "FROM c) t "
    "WHERE m.ctid = t.tid AND NOT EXISTS (SELECT 1 FROM c WHERE c.dead) "
    "RETURNING t.n, m.id, m.payload::text AS payload, m.enqueued_at, m.vt, m.read_ct, "
    "m.priority, m.lease_token) " PGQRS_PLAIN_HEADER(
        "EXISTS (SELECT 1 FROM c WHERE c.dead), NULL::int8 AS n, NULL::int8, NULL::text, "
        "NULL::int8, NULL::int8, NULL::int4, NULL::int4, NULL::int8")
    " UNION ALL SELECT 0, false, l.n, l.id, l.payload, " PGQRS_US("l.enqueued_at") ", " PGQRS_US(
        "l.vt") ", l.read_ct, l.priority, l.lease_token FROM l ORDER BY n NULLS FIRST"};

// $1 queue, $2 message ids, $3 their lease tokens. Archives the messages whose lease is
// live and named. Rows: (refusal, id, token, applied) as pgqrs_settle_leases answers:
// the header, the leases applied, then the messages of the queue that the other leases
// name (lost rather than not found).
inline constexpr Statement kPlainAck{
    "plain_ack",
    "WITH " PGQRS_PLAIN_QUEUE
    "), "
    "s AS (UPDATE pgqrs_messages m SET state = 2, archived_at = now(), lease_token = NULL, "
    "consumer_worker_id = NULL, dedup_key = NULL "
    "FROM unnest($2::int8[], $3::int8[]) AS l(id, token) WHERE m.id = l.id "
    "AND (m.queue_id = (SELECT q.id FROM q WHERE NOT q.is_trigger) AND m.state = 0 "
    "AND m.lease_token = l.token AND m.vt > now()) IS TRUE RETURNING m.id, l.token) "
    PGQRS_PLAIN_HEADER("NULL::int8 AS id, NULL::int8 AS token, NULL::bool AS applied")
    " UNION ALL SELECT 0, s.id, s.token, true FROM s "
    "UNION ALL SELECT 0, m.id, NULL, false FROM pgqrs_messages m "
    "WHERE m.id = ANY (ARRAY(SELECT l.id FROM unnest($2::int8[], $3::int8[]) AS l(id, token) "
    "WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.id = l.id AND s.token = l.token))) "
    "AND (m.queue_id = (SELECT q.id FROM q)) IS TRUE"};

#undef PGQRS_PLAIN_QUEUE
#undef PGQRS_PLAIN_HEADER

}  // namespace pgqrs::storage::pg
