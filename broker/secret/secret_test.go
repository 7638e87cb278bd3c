package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretRedactsEveryFormat(t *testing.T) {
	const value = "canary-token-value"
	s := Secret(value)
	outputs := map[string]string{
		"%v":  fmt.Sprintf("%v", s),
		"%s":  fmt.Sprintf("%s", s),
		"%q":  fmt.Sprintf("%q", s),
		"%x":  fmt.Sprintf("%x", s),
		"%#v": fmt.Sprintf("%#v", s),
		"%+v": fmt.Sprintf("%+v", struct{ S Secret }{s}),
	}
	js, err := json.Marshal(struct{ S Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(js)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", s)
	outputs["slog"] = buf.String()

	for name, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("%s printed the value: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s = %q; want it to contain %q", name, out, Redacted)
		}
	}
	if got := s.Reveal(); got != value {
		t.Errorf("Reveal() = %q; want %q", got, value)
	}
}

func TestEmptySecretPrintsNothing(t *testing.T) {
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("Sprint(empty) = %q; want empty", got)
	}
}
