package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// cli holds what the commands read and write, so tests can run them in
// process.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    lookupEnv
	now    func() time.Time
}

// usageError is a mistake on the command line. It exits with exitUsage and
// points to the help of topic.
type usageError struct {
	topic string
	msg   string
}

func (e *usageError) Error() string { return e.msg }

// errHelpShown means the usage text was printed on request.
var errHelpShown = errors.New("help shown")

const mainUsage = `zoombroker connects Zoom accounts through OAuth and hands out short-lived
access tokens for them to internal services.

Usage:
  zoombroker serve [--dev] [flags]    run the broker (--dev: no configuration, built-in Zoom sandbox)
  zoombroker keys create --name NAME  create an API key and print it once
  zoombroker keys list                list API keys
  zoombroker keys revoke ID           revoke an API key
  zoombroker operators add NAME       add a console operator
  zoombroker operators list           list console operators
  zoombroker migrate --from S --to T  copy everything between bbolt and PostgreSQL
  zoombroker rotate-keys              seal every token record with the first encryption key
  zoombroker backup FILE              copy the database to FILE, also while the broker runs
  zoombroker restore FILE             put a backup in place (broker stopped)
  zoombroker healthcheck              exit 0 if the local broker answers /healthz
  zoombroker version                  print the version
  zoombroker help [COMMAND]           print the help of a command

keys and operators work on the data directory (--data-dir or
ZOOMBROKER_DATA_DIR) while the broker is stopped.

Exit status: 0 on success, 1 on failure (invalid configuration included),
2 on an invalid command line.
`

// run runs the command in args and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	err := c.dispatch(ctx, args)
	var usage *usageError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(c.stderr, "zoombroker: %s\n", usage.msg)
		fmt.Fprintf(c.stderr, "Run '%s' for usage.\n", strings.TrimSpace("zoombroker help "+usage.topic))
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "zoombroker: %s\n", err)
		return exitFailure
	}
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, mainUsage)
		return &usageError{msg: "no command given"}
	}

	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "keys":
		return c.keys(ctx, rest)
	case "operators":
		return c.operators(ctx, rest)
	case "migrate":
		return c.migrate(ctx, rest)
	case "rotate-keys":
		return c.rotateKeys(ctx, rest)
	case "backup":
		return c.backup(ctx, rest)
	case "restore":
		return c.restore(ctx, rest)
	case "healthcheck":
		return c.healthcheck(ctx, rest)
	case "version":
		if len(rest) > 0 {
			return &usageError{topic: "version", msg: "version takes no arguments"}
		}
		fmt.Fprintf(c.stdout, "zoombroker %s\n", versionString())
		return nil
	case "help", "-h", "-help", "--help":
		return c.help(rest)
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}

// help prints the usage of the main command or of one command.
func (c *cli) help(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stdout, mainUsage)
		return nil
	}
	switch args[0] {
	case "serve":
		fmt.Fprint(c.stdout, serveUsage())
	case "keys":
		fmt.Fprint(c.stdout, keysUsage)
	case "operators":
		fmt.Fprint(c.stdout, operatorsUsage)
	case "migrate":
		fmt.Fprint(c.stdout, migrateUsage)
	case "rotate-keys":
		fmt.Fprint(c.stdout, rotateKeysUsage)
	case "backup", "restore":
		fmt.Fprint(c.stdout, backupUsage)
	case "healthcheck":
		fmt.Fprint(c.stdout, healthcheckUsage)
	case "version":
		fmt.Fprint(c.stdout, "Usage: zoombroker version\n\nPrints the version of the binary.\n")
	default:
		return &usageError{msg: fmt.Sprintf("no help for unknown command %q", args[0])}
	}
	return nil
}

// newFlagSet returns a FlagSet that reports errors to its caller instead of
// printing them, so every command prints its own usage text.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args with flags allowed before and after the
// positional arguments, and returns the positional ones. On -h it prints
// usage to stdout and returns errHelpShown.
func (c *cli) parseFlags(fs *flag.FlagSet, topic, usage string, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(c.stdout, usage)
				return nil, errHelpShown
			}
			return nil, &usageError{topic: topic, msg: fs.Name() + ": " + err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// serveUsage builds the usage text of serve from the settings table.
func serveUsage() string {
	var b strings.Builder
	b.WriteString(`Usage: zoombroker serve [--dev] [flags]

Runs the broker: the HTTP API, the console and the OAuth callback.

  --dev  run with no configuration against the built-in Zoom sandbox; keys
         are generated into the data directory, and a dev operator and an
         API key are printed at start. For development only.

Every setting is a flag and an environment variable; a flag wins. Secrets
can also be read from a file named by --<flag>-file or <VARIABLE>_FILE;
prefer those or the environment, because flags show in the process list.

`)
	for _, s := range settings {
		fmt.Fprintf(&b, "  --%s %s, %s\n", s.flag, s.arg, s.env)
		fmt.Fprintf(&b, "      %s", s.help)
		if s.def != "" {
			fmt.Fprintf(&b, " (default %s)", s.def)
		}
		b.WriteString("\n")
		if s.secret {
			fmt.Fprintf(&b, "      or from a file: --%s-file FILE, %s%s\n", s.flag, s.env, fileSuffix)
		}
	}
	b.WriteString("\nSee docs/configuration.md for details.\n")
	return b.String()
}
