package zoomsandbox

import (
	"path/filepath"
	"testing"
)

func TestStateFileKeepsGrants(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	apps := []App{{Name: "Zoom", ClientID: "cid", ClientSecret: "cs"}}
	first := New(Options{Apps: apps, StateFile: file})
	first.mu.Lock()
	g := &grant{key: first.keyFor(apps[0], DefaultUsers()[1]), user: DefaultUsers()[1], scopes: []string{"user:read"}}
	first.grants[g.key] = g
	first.issueTokens(g, first.now())
	first.mu.Unlock()

	second := New(Options{Apps: apps, StateFile: file})
	if !second.LiveGrant("cid", DefaultUsers()[1].ID) {
		t.Fatalf("LiveGrant after reload = false; want the saved grant")
	}
	if second.refresh[g.refreshToken] == nil || second.access[g.accessToken] == nil {
		t.Errorf("reloaded sandbox does not know the saved tokens")
	}

	// A removed grant stays removed after a reload.
	second.mu.Lock()
	second.removeGrant(second.grants[g.key])
	second.mu.Unlock()
	if third := New(Options{Apps: apps, StateFile: file}); third.LiveGrant("cid", DefaultUsers()[1].ID) {
		t.Errorf("LiveGrant after removal and reload = true; want false")
	}
}
