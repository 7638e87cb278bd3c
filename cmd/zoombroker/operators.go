package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/zoombroker/zoombroker/broker/auth"
	"github.com/zoombroker/zoombroker/store"
)

const operatorsUsage = `Usage:
  zoombroker operators add NAME [--password-file FILE] [--reset] [--data-dir DIR]
  zoombroker operators list [--data-dir DIR]

add creates an operator who can sign in to the console. The password comes
from FILE (one trailing newline is dropped) or from standard input: typed
twice without echo on a terminal, else the first line. It needs at least
12 characters. --reset gives an existing operator a new password.

These commands open the data directory (--data-dir or ZOOMBROKER_DATA_DIR,
default ./zoombroker-data) and need the broker to be stopped. When
ZOOMBROKER_DATABASE_URL (or --database-url) is set, they use that
PostgreSQL database instead, also while brokers run.
`

func (c *cli) operators(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{topic: "operators", msg: "operators needs a subcommand: add or list"}
	}
	switch args[0] {
	case "add":
		return c.operatorsAdd(ctx, args[1:])
	case "list":
		return c.operatorsList(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, operatorsUsage)
		return nil
	}
	return &usageError{topic: "operators", msg: fmt.Sprintf("unknown operators subcommand %q", args[0])}
}

func (c *cli) operatorsAdd(ctx context.Context, args []string) error {
	fs := newFlagSet("operators add")
	passwordFile := fs.String("password-file", "", "file that contains the password")
	reset := fs.Bool("reset", false, "set a new password for an existing operator")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL)
	positional, err := c.parseFlags(fs, "operators", operatorsUsage, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return &usageError{topic: "operators", msg: "operators add takes exactly one operator name"}
	}
	name := positional[0]
	if err := checkName("the operator name", name); err != nil {
		return &usageError{topic: "operators", msg: "operators add: " + err.Error()}
	}

	// Read and check the password before the database is locked, so a slow
	// typist does not keep a starting broker waiting.
	password, err := c.readPassword(*passwordFile, name)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("operator %s: %w", name, err)
	}

	db, err := c.openStore(sf, true, "stop the broker to manage operators")
	if err != nil {
		return err
	}
	defer db.Close()

	if *reset {
		_, err := db.UpdateOperator(ctx, name, func(o store.Operator) (store.Operator, error) {
			o.PasswordHash = hash
			return o, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no operator is named %q; run without --reset to create it", name)
		}
		if err != nil {
			return fmt.Errorf("update operator %s: %w", name, err)
		}
		fmt.Fprintf(c.stderr, "Set a new password for operator %q.\n", name)
		return nil
	}

	err = db.CreateOperator(ctx, store.Operator{Name: name, PasswordHash: hash, CreatedAt: c.now().UTC()})
	if errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("operator %q already exists; add --reset to give it a new password", name)
	}
	if err != nil {
		return fmt.Errorf("create operator %s: %w", name, err)
	}
	fmt.Fprintf(c.stderr, "Added operator %q.\n", name)
	return nil
}

func (c *cli) operatorsList(ctx context.Context, args []string) error {
	fs := newFlagSet("operators list")
	sf := addSettingFlags(fs, envDataDir, envDatabaseURL)
	positional, err := c.parseFlags(fs, "operators", operatorsUsage, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return &usageError{topic: "operators", msg: fmt.Sprintf("operators list takes no arguments, got %q", positional[0])}
	}

	db, err := c.openStore(sf, false, "stop the broker to list operators")
	if err != nil {
		return err
	}
	defer db.Close()

	ops, err := db.ListOperators(ctx)
	if err != nil {
		return fmt.Errorf("list operators: %w", err)
	}
	if len(ops) == 0 {
		fmt.Fprintln(c.stderr, "No operators. Add one with: zoombroker operators add NAME")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED")
	for _, o := range ops {
		fmt.Fprintf(tw, "%s\t%s\n", o.Name, formatTime(o.CreatedAt))
	}
	return tw.Flush()
}

// readPassword reads the password from path, or from stdin when path is
// empty: twice and without echo on a terminal, else the first line.
func (c *cli) readPassword(path, name string) (string, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read --password-file: %w", err)
		}
		return trimNewline(string(b)), nil
	}

	if f, ok := c.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprintf(c.stderr, "Password for %s: ", name)
		first, err := readHidden(f)
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(c.stderr, "Repeat the password: ")
		second, err := readHidden(f)
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if first != second {
			return "", errors.New("the passwords do not match; run the command again")
		}
		return first, nil
	}

	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = trimNewline(line)
	if line == "" {
		return "", errors.New("no password on stdin; pipe it in, type it on a terminal, or use --password-file")
	}
	return line, nil
}
