// Package bolt is the bbolt backend of [store.Store]: one file on local
// disk, opened by one process at a time.
//
// # Basics
//
// [Open] creates the file (mode 0600) and its buckets, or checks the schema
// version of an existing file. Every write is one bbolt transaction, and
// bbolt fsyncs it before the call returns, so a write that returned nil
// survives a crash (unless [Options.NoSync] is set). [DB.WriteTo] streams a consistent copy of the file
// while the broker keeps running.
//
// # Layout
//
// The file has these buckets. Keys and values are bytes; records are JSON.
//
//	meta                        "schema_version" -> "2"
//	accounts                    account id -> account JSON
//	accounts_by_identity        app 0x00 len(value) value account-id -> empty
//	accounts_by_next_refresh    NextRefreshAt account-id -> empty
//	accounts_by_field           field len(value) value account-id -> empty
//	apikeys                     key id -> API key JSON
//	apikeys_by_hash             hash -> key id
//	operators                   name -> operator JSON
//	leases                      name -> lease JSON
//	webhooks                    webhook id -> webhook JSON
//	deliveries                  big-endian delivery ID -> delivery JSON
//	deliveries_queued           len(webhook id) webhook-id len(account id) account-id big-endian-ID -> empty
//	audit                       big-endian audit entry ID -> audit entry JSON
//
// accounts_by_identity holds the Zoom user id of AppZoom accounts and the
// Zoom account id of AppZoomAdmin accounts that are not revoked, so
// [DB.FindAccount] seeks instead of scanning. accounts_by_next_refresh holds
// the active accounts with a NextRefreshAt, keyed by that time in big-endian
// Unix nanoseconds with the sign bit flipped, so [DB.DueAccounts] reads the
// due accounts in order and stops at the first one that is not due.
// deliveries_queued holds the pending deliveries, grouped into one queue
// per endpoint and account and ordered by ID within it, so
// [DB.DueDeliveries] reads only the first entry of each queue.
// accounts_by_field holds each account's external user ids (field 'o'),
// Zoom user id ('u'), Zoom account id ('a') and case-folded email ('e'),
// so a [DB.ListAccounts] filter on one of them reads only the accounts with
// that value. Schema 1 files lack it; Open builds it once and writes
// schema 2.
// Every write updates the indexes in the same transaction as the record.
//
// # Caveats
//
// bbolt holds an exclusive lock on the file, so a second process that opens
// it waits for [Options.LockTimeout] and then fails with an error wrapping
// [store.ErrLocked]. Deleted records do not shrink the file; compact it
// offline with the bbolt command. The store keeps Account.Token as the
// caller sealed it and never receives plaintext tokens.
package bolt
