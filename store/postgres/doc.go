// Package postgres is the PostgreSQL backend of [store.Store], built on
// pgx and its connection pool. Several broker processes can share one
// database.
//
// # Basics
//
// [Open] connects, then applies the schema migrations embedded in the
// binary (migrations/*.sql) under a PostgreSQL advisory lock, so replicas
// that start together apply each migration once. Each applied version is
// recorded in the table schema_migrations. A database whose newest version
// is above [SchemaVersion] was migrated by a newer zoombroker, and Open
// rejects it with a message that names both versions.
//
// Every query runs with a deadline: the caller's, or [Options.QueryTimeout]
// when that is sooner. A query that cannot reach the server, or gets no
// response in time, returns an error wrapping [store.ErrUnavailable].
//
// # Transactions
//
// UpdateAccount, UpdateAPIKey, UpdateOperator and UpdateDelivery read the
// row with SELECT ... FOR UPDATE and write it back in one transaction, so
// concurrent updates of one row take turns. The update function runs again
// when PostgreSQL reports a serialization failure or a deadlock.
//
// Leases are rows of the table leases. [DB.AcquireLease] is one
// INSERT ... ON CONFLICT DO UPDATE that takes the row only when it is free,
// expired, or already held by the same holder, so two replicas can never
// both hold one lease.
//
// # Data
//
// Times are timestamptz (microseconds) and come back in UTC; the zero time
// is stored as NULL. Account.Token and the other sealed blobs are bytea,
// stored as the caller gave them. Ids and names use the "C" collation, so
// lists are ordered byte by byte as in the bbolt backend, whatever the
// database's locale.
package postgres
