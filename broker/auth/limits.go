package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/store"
)

// MaxLimitEntries bounds each list of a key's limits, so a key record stays
// small and a limit check stays cheap.
const MaxLimitEntries = 100

// accountIDPattern is the shape of broker account ids.
var accountIDPattern = regexp.MustCompile(`^acc_[a-z2-7]{20}$`)

// splitList splits a comma-separated list and drops blanks and repeats.
func splitList(text string) []string {
	out := []string{}
	for _, f := range strings.Split(text, ",") {
		f = strings.TrimSpace(f)
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ParseApps parses a comma-separated list of apps, such as
// "zoom,zoom_admin". An empty text means no app limit.
func ParseApps(text string) ([]store.App, error) {
	if err := checkNotBlankList(text); err != nil {
		return nil, err
	}
	var apps []store.App
	for _, f := range splitList(text) {
		app := store.App(f)
		if !app.Valid() {
			return nil, fmt.Errorf("app %q is not valid; use zoom, zoom_admin or both, comma-separated", f)
		}
		apps = append(apps, app)
	}
	return apps, nil
}

// ParseAccountIDs parses a comma-separated list of account ids. An empty
// text means no account limit.
func ParseAccountIDs(text string) ([]string, error) {
	if err := checkNotBlankList(text); err != nil {
		return nil, err
	}
	ids := splitList(text)
	if len(ids) > MaxLimitEntries {
		return nil, fmt.Errorf("%d account ids given; a key takes at most %d", len(ids), MaxLimitEntries)
	}
	for _, id := range ids {
		if !accountIDPattern.MatchString(id) {
			return nil, fmt.Errorf("account id %q is not valid; ids look like acc_ followed by 20 lowercase letters and digits", id)
		}
	}
	return ids, nil
}

// ParseExternalUserIDs parses a comma-separated list of external user ids:
// each 1 to 256 bytes of printable characters. An empty text means no
// external user limit.
func ParseExternalUserIDs(text string) ([]string, error) {
	if err := checkNotBlankList(text); err != nil {
		return nil, err
	}
	ids := splitList(text)
	if len(ids) > MaxLimitEntries {
		return nil, fmt.Errorf("%d external user ids given; a key takes at most %d", len(ids), MaxLimitEntries)
	}
	for _, id := range ids {
		if len(id) > 256 || strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("external user id %q is not valid; use at most 256 bytes without control characters", id)
		}
	}
	return ids, nil
}

// ParseExpiry parses a key's expiry: a duration from now such as "720h",
// or an RFC 3339 time. An empty text means no expiry. The result must lie
// in the future.
func ParseExpiry(text string, now time.Time) (time.Time, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return time.Time{}, nil
	}
	var at time.Time
	if d, err := time.ParseDuration(text); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.RFC3339, text); err == nil {
		at = t
	} else {
		return time.Time{}, fmt.Errorf("expiry %q is neither a duration such as 720h nor an RFC 3339 time such as 2027-01-31T00:00:00Z", text)
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("expiry %q is not in the future", text)
	}
	return at.UTC(), nil
}

// CreateKey stores k and reads it back. A backend that did not keep the
// limits or the expiry would hand out a key that reaches more than it
// should, so such a key is revoked again and an error returned.
func CreateKey(ctx context.Context, st store.Store, k store.APIKey, now time.Time) error {
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return fmt.Errorf("create API key: %w", err)
	}
	stored, err := st.GetAPIKey(ctx, k.ID)
	if err != nil {
		return fmt.Errorf("read back API key %s: %w", k.ID, err)
	}
	if sameLimits(stored.Limits, k.Limits) && sameTime(stored.ExpiresAt, k.ExpiresAt) {
		return nil
	}

	_, rerr := st.UpdateAPIKey(ctx, k.ID, func(old store.APIKey) (store.APIKey, error) {
		old.RevokedAt = now.UTC()
		return old, nil
	})
	return errors.Join(fmt.Errorf("create API key %s: the store did not keep its limits or expiry, so the key was revoked; this store cannot hold limited keys yet", k.ID), rerr)
}

func sameLimits(a, b store.Limits) bool {
	return slices.Equal(a.Apps, b.Apps) && slices.Equal(a.AccountIDs, b.AccountIDs) && slices.Equal(a.ExternalUserIDs, b.ExternalUserIDs)
}

// sameTime compares two times to the millisecond, because stores keep
// times to the microsecond at least.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Millisecond && d < time.Millisecond
}

// checkNotBlankList rejects a list that has text but names nothing, such as
// " , ": an empty list means "no limit", so a blank variable in a script
// must not turn into an unlimited key.
func checkNotBlankList(text string) error {
	if text != "" && len(splitList(text)) == 0 {
		return fmt.Errorf("the list %q names nothing; leave it out for no limit", text)
	}
	return nil
}
