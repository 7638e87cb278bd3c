// Command zoombroker runs the Zoom connected-account broker and manages its
// API keys and console operators. Run `zoombroker help` for the commands.
package main

import (
	"context"
	"os"
	"runtime/debug"
	"time"
)

// version is set at build time with
// -ldflags "-X main.version=v1.2.3"; see versionString for the fallback.
var version = "dev"

func main() {
	c := &cli{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		env:    os.LookupEnv,
		now:    time.Now,
	}
	os.Exit(c.run(context.Background(), os.Args[1:]))
}

// versionString returns version, or for a "dev" build the VCS revision that
// the Go toolchain recorded, if any.
func versionString() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}

	var revision string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if modified {
			revision += "-dirty"
		}
		return "dev (" + revision + ")"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return version
}
