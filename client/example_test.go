package client_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/zoombroker/zoombroker/client"
)

// This example lists a user's meetings at Zoom without ever holding the
// account's refresh token. It needs a running broker, so it has no output
// to check.
func Example_listMeetings() {
	zb := &client.Client{BaseURL: "http://127.0.0.1:8080", APIKey: client.APIKey(os.Getenv("ZOOMBROKER_API_KEY"))}
	zoomHTTP := &http.Client{Transport: &client.Transport{Source: zb.TokenSource("acc_k2m4q6s3u2w4y6a7c2e4")}, Timeout: time.Minute}

	resp, err := zoomHTTP.Get("https://api.zoom.us/v2/users/me/meetings")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Meetings []struct {
			Topic     string `json:"topic"`
			StartTime string `json:"start_time"`
		} `json:"meetings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		log.Fatal(err)
	}
	for _, m := range list.Meetings {
		fmt.Println(m.StartTime, m.Topic)
	}
}
