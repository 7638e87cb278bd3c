// Package storetest is the conformance suite that every [store.Store]
// backend must pass.
//
// A backend's test calls [Run] with a function that opens a fresh, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			db, err := bolt.Open(filepath.Join(t.TempDir(), "zoombroker.db"), bolt.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The suite checks the contract written in the store package's docs. It
// covers the sentinel errors, UTC times with at least microsecond precision,
// copied slices, the identity lookup of [store.Store.FindAccount] and
// paging. It also checks the transaction of [store.Store.UpdateAccount],
// the compare-and-swap on TokenVersion built on it, the refresh schedule
// of [store.Store.DueAccounts], and the webhook endpoints and delivery
// outbox, whose queues keep one order per endpoint and account. Some
// subtests run many goroutines against one store, so run the suite with
// -race.
package storetest
