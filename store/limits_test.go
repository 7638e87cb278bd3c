package store

import "testing"

func TestLimitsAllowsAccount(t *testing.T) {
	zoomAcct := Account{ID: "acc_a", App: AppZoom, Owners: []string{"u1", "u2"}}
	consoleAcct := Account{ID: "acc_b", App: AppZoomAdmin}

	tests := []struct {
		name   string
		limits Limits
		acct   Account
		want   bool
	}{
		{"unlimited", Limits{}, consoleAcct, true},
		{"app match", Limits{Apps: []App{AppZoom}}, zoomAcct, true},
		{"app mismatch", Limits{Apps: []App{AppZoom}}, consoleAcct, false},
		{"account match", Limits{AccountIDs: []string{"acc_a"}}, zoomAcct, true},
		{"account mismatch", Limits{AccountIDs: []string{"acc_a"}}, consoleAcct, false},
		{"owner match", Limits{ExternalUserIDs: []string{"u2"}}, zoomAcct, true},
		{"owner mismatch", Limits{ExternalUserIDs: []string{"u3"}}, zoomAcct, false},
		{"no owners never pass", Limits{ExternalUserIDs: []string{"u1"}}, consoleAcct, false},
		{"every limit must pass", Limits{Apps: []App{AppZoom}, AccountIDs: []string{"acc_b"}}, zoomAcct, false},
	}
	for _, tc := range tests {
		if got := tc.limits.AllowsAccount(tc.acct); got != tc.want {
			t.Errorf("%s: Limits%+v.AllowsAccount(%s) = %t; want %t", tc.name, tc.limits, tc.acct.ID, got, tc.want)
		}
	}
	if !(Limits{}).Unlimited() || (Limits{Apps: []App{AppZoom}}).Unlimited() {
		t.Errorf("Unlimited is wrong for the zero value or an app limit")
	}
	if got, want := (Limits{Apps: []App{AppZoom}, AccountIDs: []string{"acc_a"}}).String(), "apps=zoom accounts=acc_a"; got != want {
		t.Errorf("String = %q; want %q", got, want)
	}
}
