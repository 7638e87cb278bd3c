//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import (
	"errors"
	"os"
)

// isTerminal returns false: on this platform the password is read as a
// plain line, so use --password-file to keep it off the screen.
//
// TODO(cli): hide the input on Windows too, with golang.org/x/term once it
// is a dependency of the module.
func isTerminal(*os.File) bool { return false }

func readHidden(*os.File) (string, error) {
	return "", errors.New("reading without echo is not supported on this platform")
}
