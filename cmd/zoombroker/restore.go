package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/zoombroker/zoombroker/store/bolt"
)

// Names in the bbolt file that verifyDatabase reads. They repeat the
// layout documented in package store/bolt, which keeps its names
// unexported.
var (
	metaBucket       = []byte("meta")
	schemaVersionKey = []byte("schema_version")
	accountsBucket   = []byte("accounts")
)

// backupInfo describes a checked database file.
type backupInfo struct {
	size          int64
	schemaVersion int
	accounts      int
}

func (b backupInfo) String() string {
	return fmt.Sprintf("%d bytes, schema version %d, %d accounts", b.size, b.schemaVersion, b.accounts)
}

// verifyDatabase opens path read-only and checks that it is a zoombroker
// database this binary reads: a meta bucket with a schema version from 1
// to bolt.SchemaVersion, an accounts bucket, and pages that pass bbolt's
// consistency check.
func verifyDatabase(path string) (backupInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return backupInfo{}, fmt.Errorf("check %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: cliLockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return backupInfo{}, fmt.Errorf("check %s: a running process has locked it; take a copy with zoombroker backup", path)
	}
	if err != nil {
		return backupInfo{}, fmt.Errorf("check %s: not a bbolt database: %w", path, err)
	}
	defer db.Close()

	info := backupInfo{size: st.Size()}
	err = db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			return errors.New("it has no meta bucket, so it is not a zoombroker database")
		}
		raw := meta.Get(schemaVersionKey)
		v, err := strconv.Atoi(string(raw))
		if err != nil || v < 1 {
			return fmt.Errorf("its schema version %q is invalid", raw)
		}
		if v > bolt.SchemaVersion {
			return fmt.Errorf("its schema version %d is newer than %d, the newest this zoombroker reads; use a newer zoombroker", v, bolt.SchemaVersion)
		}
		info.schemaVersion = v

		accounts := tx.Bucket(accountsBucket)
		if accounts == nil {
			return errors.New("it has no accounts bucket, so it is not a zoombroker database")
		}
		info.accounts = accounts.Stats().KeyN

		// Drain the channel: the check runs on its own goroutine inside
		// this transaction.
		var problems []error
		for err := range tx.Check() {
			problems = append(problems, err)
		}
		if len(problems) > 0 {
			return fmt.Errorf("it fails bbolt's consistency check: %w", errors.Join(problems...))
		}
		return nil
	})
	if err != nil {
		return backupInfo{}, fmt.Errorf("check %s: %w", path, err)
	}
	return info, nil
}

func (c *cli) restore(_ context.Context, args []string) error {
	flags := newFlagSet("restore")
	sf := addSettingFlags(flags, envDataDir)
	positional, err := c.parseFlags(flags, "backup", backupUsage, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return &usageError{topic: "backup", msg: "restore takes exactly one argument, the backup file"}
	}
	source := positional[0]
	vs, err := sf.resolve(c.env)
	if err != nil {
		return err
	}
	dir := vs[envDataDir].text
	dbPath := filepath.Join(dir, dbFile)

	info, err := verifyDatabase(source)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := checkStopped(dbPath); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: cannot create %s: %w", vs.label(envDataDir), dir, unwrapPath(err))
	}

	// Copy into the data directory first, so the final rename stays on one
	// file system, where it is atomic.
	tmp := filepath.Join(dir, ".restore-"+dbFile)
	if _, err := writeVerified(tmp, func(w io.Writer) error { return copyFile(w, source) }); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp)

	backup := dbPath + ".bak"
	kept := true
	if err := os.Rename(dbPath, backup); errors.Is(err, fs.ErrNotExist) {
		kept = false
	} else if err != nil {
		return fmt.Errorf("restore: keep the current database as %s: %w", backup, err)
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}

	fmt.Fprintf(c.stderr, "Restored %s to %s: %s.\n", source, dbPath, info)
	if kept {
		fmt.Fprintf(c.stderr, "The previous database is %s.\n", backup)
	}
	fmt.Fprintf(c.stderr, "Start the broker with the encryption keys of the backup. Accounts refreshed after the backup was taken need reconnecting.\n")
	return nil
}

// checkStopped returns an error when a running broker holds the database.
// A missing database is fine.
func checkStopped(dbPath string) error {
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := bbolt.Open(dbPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: cliLockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("the broker is running and has locked %s; stop it, then run restore again", dbPath)
	}
	if err != nil {
		// The current file is damaged; restoring over it is the point.
		return nil
	}
	return db.Close()
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read backup: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("read backup: %w", err)
	}
	return nil
}
