package store

import (
	"slices"
	"strings"
)

// Limits restrict what a caller may reach: some apps, some accounts, the
// accounts of some external users. Every list that is not empty narrows the
// caller further, so an account must pass all of them. The zero value
// reaches everything.
type Limits struct {
	// Apps are the apps whose accounts the caller reaches.
	Apps []App

	// AccountIDs are the broker account ids the caller reaches.
	AccountIDs []string

	// ExternalUserIDs are the external user ids whose accounts the caller
	// reaches: an account passes when one of its Owners is listed. An
	// account without owners (connected in the console) never passes.
	ExternalUserIDs []string
}

// Unlimited reports whether no list restricts the caller.
func (l Limits) Unlimited() bool {
	return len(l.Apps) == 0 && len(l.AccountIDs) == 0 && len(l.ExternalUserIDs) == 0
}

// AllowsApp reports whether accounts of app may pass the app limit.
func (l Limits) AllowsApp(app App) bool {
	return len(l.Apps) == 0 || slices.Contains(l.Apps, app)
}

// AllowsAccountID reports whether the id passes the account id limit. It
// needs no stored account, so a request can be turned away before any
// read.
func (l Limits) AllowsAccountID(id string) bool {
	return len(l.AccountIDs) == 0 || slices.Contains(l.AccountIDs, id)
}

// AllowsExternalUser reports whether the external user id passes the
// external user limit.
func (l Limits) AllowsExternalUser(id string) bool {
	return len(l.ExternalUserIDs) == 0 || slices.Contains(l.ExternalUserIDs, id)
}

// AllowsAccount reports whether a passes every limit: its app, its id and,
// when external users are listed, one of its owners.
func (l Limits) AllowsAccount(a Account) bool {
	if !l.AllowsApp(a.App) || !l.AllowsAccountID(a.ID) {
		return false
	}
	if len(l.ExternalUserIDs) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Owners, func(owner string) bool { return slices.Contains(l.ExternalUserIDs, owner) })
}

// String describes the limits for logs and lists, for example
// "apps=zoom accounts=acc_a,acc_b"; "unlimited" for the zero value.
func (l Limits) String() string {
	if l.Unlimited() {
		return "unlimited"
	}
	var parts []string
	if len(l.Apps) > 0 {
		apps := make([]string, len(l.Apps))
		for i, a := range l.Apps {
			apps[i] = string(a)
		}
		parts = append(parts, "apps="+strings.Join(apps, ","))
	}
	if len(l.AccountIDs) > 0 {
		parts = append(parts, "accounts="+strings.Join(l.AccountIDs, ","))
	}
	if len(l.ExternalUserIDs) > 0 {
		parts = append(parts, "external_users="+strings.Join(l.ExternalUserIDs, ","))
	}
	return strings.Join(parts, " ")
}
