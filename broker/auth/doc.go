// Package auth creates and checks the broker's credentials: API keys for
// internal services and passwords for console operators.
//
// An API key reads "zbk_" + key id + "_" + secret. The store keeps the id and
// the SHA-256 of the whole key; the key itself is shown once, when it is
// created.
package auth
