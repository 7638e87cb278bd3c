package client_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
	"github.com/zoombroker/zoombroker/client"
	"github.com/zoombroker/zoombroker/internal/brokertest"
	"github.com/zoombroker/zoombroker/store"
)

func TestConnectSessionAndRemoval(t *testing.T) {
	const app = "https://app.example.com/zoom/"
	b := brokertest.New(t, brokertest.Options{ConnectRedirects: []string{app}})
	zb := b.Client()

	cs, err := zb.CreateConnectSession(t.Context(), client.ConnectSessionOptions{
		App: "zoom", ExternalUserID: "customer-1",
		SuccessRedirectURL: app + "done", ErrorRedirectURL: app + "failed", Popup: true,
	})
	if err != nil {
		t.Fatalf("CreateConnectSession = %v", err)
	}
	if !strings.HasPrefix(cs.ConnectURL.Reveal(), b.URL+"/connect?token=zbc_") || cs.ID == "" {
		t.Errorf("session = %s %s; want a connect URL on the broker", cs.ID, cs.ConnectURL.Reveal())
	}
	if strings.Contains(cs.ConnectURL.String(), "zbc_") {
		t.Errorf("ConnectURL prints its token when formatted")
	}

	_, err = zb.CreateConnectSession(t.Context(), client.ConnectSessionOptions{
		App: "zoom", ExternalUserID: "customer-1",
		SuccessRedirectURL: "https://evil.example/done", ErrorRedirectURL: app + "failed",
	})
	var cerr *client.Error
	if !errors.As(err, &cerr) || cerr.Code != "redirect_not_allowed" {
		t.Errorf("CreateConnectSession(foreign redirect) = %v; want redirect_not_allowed", err)
	}

	// A console account without owners is not touched by a removal.
	id := b.Connect(store.AppZoom, zoomsandbox.DefaultUserID)
	removed, err := zb.RemoveExternalUser(t.Context(), "customer-1")
	if err != nil || len(removed) != 0 {
		t.Errorf("RemoveExternalUser(no accounts) = %v, %v; want none", removed, err)
	}
	if a, err := zb.GetAccount(t.Context(), id); err != nil || a.Status != "active" {
		t.Errorf("console account after removal = %v, %v; want active", a.Status, err)
	}
}
