// Package store defines the storage interface of zoombroker, the records it
// keeps and the sentinel errors every backend returns.
//
// Backends live in sub-packages (store/bolt today) and must pass the
// conformance suite in store/storetest. The package imports nothing from the
// broker and nothing from the HTTP layer, so a backend can be built and
// tested on its own.
//
// Token material never reaches a backend in plaintext: [Account.Token] holds
// an already sealed (encrypted and authenticated) blob, and backends copy it
// as opaque bytes.
package store
