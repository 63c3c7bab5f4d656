// Package audit is mcpwarden's tamper-evident audit log of every call that
// crosses the gateway.
//
// # What is recorded
//
// The [Log] is a pipeline interceptor. Every call produces two records
// that share a CallID:
//
//   - a request record (kind "request"), written by [Log.Request] when the
//     call reaches the audit interceptor and before any later control or
//     the upstream acts on it: time, caller (subject and auth method),
//     session, server, tool/prompt/resource name, method, direction, JSON-RPC
//     request ID, protocol revision and the arguments;
//   - a decision record (kind "decision"), written by [Log.Finish] when the
//     call has ended, whatever ended it: the same identification, the
//     summary decision (allow, deny, rewrite or approve), every decision step
//     with its rule ID, reason and control, the result, the latency and any
//     upstream error (or the cause of a control failure).
//
// Why two records and not one: the request record is written ahead, so a
// call that crashes the gateway, hangs, or is still running is on record,
// and with on_error: deny a call whose request cannot be recorded never
// reaches the upstream. The decision record is the one a security team
// queries ("every denial for alice this week": kind=decision
// decision=deny caller=alice since=7d); it repeats the identifying fields so
// that no join is needed. A call denied by a control placed before the
// audit interceptor has only a decision record, which then carries the
// arguments too. Decisions that did not stop a call (a redaction, an
// approval) are recorded from values implementing [Decider] that controls
// leave in Call.Meta; a change of the arguments between the two records is
// detected and recorded as a rewrite.
//
// Arguments, results, reasons and errors pass through a [Redactor] (the
// detection engine's, injected by the gateway, or [BuiltinRedactor]) and
// are then cut to max_arg_bytes / max_result_bytes on a UTF-8 boundary.
//
// # Chain
//
// Each chained sink ([SQLiteSink], [JSONLSink]) numbers its records 1, 2, 3
// ... and stores with each the hex SHA-256 of its canonical encoding
// ([AppendCanonical]), which covers every field and the previous record's
// hash. [Verify] recomputes the chain and names the first record that was
// changed, removed, reordered, duplicated or inserted (a *[ChainError]).
// A hash chain cannot show records cut off the end; keep the head that
// [Log.Close] logs and audit verify prints, and pass it back as an anchor
// ([Verifier].Anchor, audit verify --head) to catch that too.
//
// # Durability and throughput
//
// A write returns only once its record is stored under the sync policy
// (full: fsynced; normal, the default: in the OS, surviving a crash of
// mcpwarden; off: queued, explicitly lossy). Concurrent writes are
// group-committed: one goroutine per sink writes everything queued at once,
// so the cost of a write (and its fsync) is shared and throughput grows with
// concurrency. The JSONL sink holds an exclusive lock and resumes from its
// last line, cutting off a line torn by a crash (never acknowledged, so
// nothing is lost).
//
// The SQLite sink stores a record by appending it to its process's queue
// file (the same cost as the JSONL sink) and indexes queued records into
// the database in the background, sealing them onto the chain inside the
// database's write lock, so the chain continues across restarts and across
// processes sharing the file. Each queue file's indexed offset is stored in
// the same transaction as its records; the next writer to open the
// database after a crash indexes what was left (see queue.go). Its writes
// therefore acknowledge seq 0, and [SQLiteSink.Flush] waits until readers
// see everything written so far.
//
// A call waits for two records, request and decision: with either sink a
// few microseconds each on a 2-core machine (see docs/benchmarks.md).
//
// # Failure policy
//
// If a sink cannot store a request record (for SQLite: while the database
// refuses to index queued records), the call is denied with rule
// [RuleUnavailable] (on_error: deny, the default) or let through (on_error:
// allow). Either way the failure is counted ([Log.Stats]) and logged at
// error level, rate-limited to one report per second per sink, and the
// recovery is logged too. Audit records are durable data; slog is only for
// telling the operator.
//
// # Reading
//
// [OpenSQLite] and [OpenJSONL] return a [Source]; [Query] and [Tail] filter
// it by caller, server, tool, method, session, kind, decision, rule and
// time ([Filter], [ParseFilter], [ParseTime]). The mcpwarden audit verify,
// query and tail commands are thin wrappers over these.
//
// Usage, as the gateway wires it:
//
//	alog, err := audit.New(ctx, audit.Options{Config: cfg.Policy.Audit, Logger: logger, Redactor: engine})
//	if err != nil { ... }            // no audit log, no gateway
//	defer alog.Close()
//	chain := pipeline.NewChain(alog, authz, args, ...) // audit first
package audit
