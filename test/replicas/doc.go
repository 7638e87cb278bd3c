// Package replicas holds end-to-end tests of zoombroker running as
// several processes on one PostgreSQL database, all talking to one Zoom
// sandbox. The tests build the zoombroker binary, start it with
// `zoombroker serve`, and need ZOOMBROKER_TEST_DATABASE_URL; without it
// they are skipped. The package has no code of its own.
package replicas
