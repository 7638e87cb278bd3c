// Package audit records who did what to which account, from where: token
// hand-outs, connects, revokes, deauthorizations, API key changes, console
// sign-ins, and every request the broker refused.
//
// [Log.Record] never waits for the disk. Entries go into a bounded queue,
// and one writer goroutine appends them to the store in batches. When the
// queue is full, Record drops the entry and counts it ([Log.Dropped]), so
// a slow disk slows neither the token hand-out nor the console. A pruner
// removes entries older than the retention.
//
// Entries carry ids and names only, never a token, key or password.
package audit
