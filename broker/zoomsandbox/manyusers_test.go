package zoomsandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zoombroker/zoombroker/broker/zoomsandbox"
)

func TestConsentManyUsers(t *testing.T) {
	users := make([]zoomsandbox.User, 150)
	for i := range users {
		users[i] = zoomsandbox.User{ID: fmt.Sprintf("user%03d", i), AccountID: fmt.Sprintf("acct%03d", i), Email: fmt.Sprintf("u%d@example.com", i)}
	}
	e := newEnv(t, func(o *zoomsandbox.Options) { o.Users = users })

	resp, err := http.Get(e.authorizeURL(userClientID, nil))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `<input type="text" name="user"`) {
		t.Errorf("consent page with 150 users has no user id field")
	}
	if strings.Contains(string(page), "user149") {
		t.Errorf("consent page with 150 users lists them; want a user id field instead")
	}

	tok := e.connect(t, userClientID, "user149")
	if tok.AccessToken == "" {
		t.Errorf("connect as the 150th user returned no access token")
	}
	if !e.sb.LiveGrant(userClientID, "user149") {
		t.Errorf("LiveGrant(user149) = false after connecting; want true")
	}
}
