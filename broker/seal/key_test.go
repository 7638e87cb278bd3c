package seal

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/zoombroker/zoombroker/broker/secret"
)

// material is a recognizable 32-byte key. Its base64 forms must never
// appear in an error.
var material = []byte("0123456789abcdef0123456789ABCDEF")

var (
	stdKey    = base64.StdEncoding.EncodeToString(material)
	rawURLKey = base64.RawURLEncoding.EncodeToString(material)
)

func TestParseKeys(t *testing.T) {
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KeySize))
	tests := []struct {
		name    string
		in      string
		wantIDs []string
	}{
		{"one std", "k1:" + stdKey, []string{"k1"}},
		{"raw url", "k1:" + rawURLKey, []string{"k1"}},
		{"url padded", "k1:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KeySize)), []string{"k1"}},
		{"std unpadded", "k1:" + strings.TrimRight(other, "="), []string{"k1"}},
		{"two keys in order", "new:" + other + ",old:" + stdKey, []string{"new", "old"}},
		{"spaces around entries", " a.b-c_D9:" + stdKey + " , z:" + other + " ", []string{"a.b-c_D9", "z"}},
		{"id of 32 characters", strings.Repeat("i", 32) + ":" + stdKey, []string{strings.Repeat("i", 32)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys(tt.in)
			if err != nil {
				t.Fatalf("ParseKeys = %v; want nil error", err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("ParseKeys ids = %v; want %v", ids, tt.wantIDs)
			}
		})
	}
}

// TestParseKeysMaterial checks that ParseKeys decodes the material: a blob
// sealed with a parsed key opens with the same key built by NewKey.
func TestParseKeysMaterial(t *testing.T) {
	for _, text := range []string{"k:" + stdKey, "k:" + rawURLKey} {
		keys, err := ParseKeys(text)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := newSealer(t, keys[0]).Seal(nil, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}

		direct, err := NewKey("k", material)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newSealer(t, direct).Open(nil, blob); err != nil {
			t.Errorf("Open with NewKey of the same material = %v; want nil error", err)
		}
	}
}

func TestParseKeysErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(material[:16])
	long := base64.StdEncoding.EncodeToString(append(bytes.Clone(material), 'x'))
	tests := []struct {
		name  string
		in    string
		hints []string
	}{
		{"empty", "", []string{"input is empty", "id:base64-key"}},
		{"blank", "  ", []string{"input is empty"}},
		{"empty entry", "k1:" + stdKey + ",", []string{"entry 2", "entry is empty"}},
		{"missing colon", stdKey, []string{"entry 1", `missing ":"`}},
		{"missing colon second", "k1:" + stdKey + "," + rawURLKey, []string{"entry 2", `missing ":"`}},
		{"empty id", ":" + stdKey, []string{"entry 1", "key id is empty", "[A-Za-z0-9_.-]"}},
		{"id with space", "k 1:" + stdKey, []string{"entry 1", "invalid character at offset 1", "[A-Za-z0-9_.-]"}},
		{"id with slash", "k/1:" + stdKey, []string{"invalid character at offset 1"}},
		{"id too long", strings.Repeat("i", 33) + ":" + stdKey, []string{"entry 1", "33 bytes", "at most 32"}},
		{"key and id swapped", stdKey + ":k1", []string{"entry 1", "key id is 44 bytes"}},
		{"empty key", "k1:", []string{"entry 1", `(id "k1")`, "key is empty", "32 random bytes"}},
		{"bad base64", "k1:" + stdKey[:10] + "!" + stdKey[11:], []string{`(id "k1")`, "not valid base64", "standard or URL-safe"}},
		{"mixed alphabets", "k1:+" + rawURLKey[1:5] + "-" + rawURLKey[6:], []string{`(id "k1")`, "not valid base64"}},
		{"16 bytes", "k1:" + short, []string{`(id "k1")`, "16 bytes", "want 32 bytes"}},
		{"33 bytes", "k1:" + long, []string{`(id "k1")`, "33 bytes", "want 32 bytes"}},
		{"duplicate id", "k1:" + stdKey + ",k2:" + stdKey + ",k1:" + rawURLKey, []string{`entry 3 (id "k1")`, "duplicate", "entry 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys(tt.in)
			if err == nil {
				t.Fatalf("ParseKeys = %d keys, nil error; want an error", len(keys))
			}
			msg := err.Error()
			for _, hint := range tt.hints {
				if !strings.Contains(msg, hint) {
					t.Errorf("ParseKeys error = %q; want it to contain %q", msg, hint)
				}
			}
			for _, leak := range []string{stdKey, rawURLKey, strings.TrimRight(stdKey, "="), stdKey[:20], rawURLKey[:20], string(material)} {
				if strings.Contains(msg, leak) {
					t.Errorf("ParseKeys error = %q; want no key material", msg)
				}
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	k, text, err := GenerateKey("dev")
	if err != nil {
		t.Fatalf("GenerateKey = %v; want nil error", err)
	}
	if k.ID != "dev" {
		t.Errorf("GenerateKey ID = %q; want %q", k.ID, "dev")
	}
	if got := fmt.Sprint(text); got != secret.Redacted {
		t.Errorf("fmt.Sprint(text) = %q; want %q", got, secret.Redacted)
	}

	parsed, err := ParseKeys(text.Reveal())
	if err != nil {
		t.Fatalf("ParseKeys(GenerateKey text) = %v; want nil error", err)
	}
	blob, err := newSealer(t, k).Seal(nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newSealer(t, parsed[0]).Open(nil, blob); err != nil {
		t.Errorf("Open with the parsed text = %v; want nil error", err)
	}

	k2, _, err := GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	if *k2.material == *k.material {
		t.Errorf("GenerateKey twice = same material; want random material")
	}

	if _, _, err := GenerateKey("bad id"); err == nil {
		t.Errorf("GenerateKey(%q) = nil error; want an error", "bad id")
	}
}

func TestKeyRedacted(t *testing.T) {
	k, text, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	raw := string(k.material[:])
	encoded := strings.TrimPrefix(text.Reveal(), "k1:")

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("loaded", "key", k)

	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", k),
		"%+v":         fmt.Sprintf("%+v", k),
		"%#v":         fmt.Sprintf("%#v", k),
		"%s":          fmt.Sprintf("%s", k),
		"%x":          fmt.Sprintf("%x", k),
		"%q":          fmt.Sprintf("%q", k),
		"slice %v":    fmt.Sprintf("%v", []Key{k}),
		"pointer %+v": fmt.Sprintf("%+v", &k),
		"unexported":  fmt.Sprintf("%+v", struct{ k Key }{k}),
		"sealer %+v":  fmt.Sprintf("%+v", newSealer(t, k)),
		"slog json":   logged.String(),
		"String()":    k.String(),
		"GoString()":  k.GoString(),
		"LogValue":    k.LogValue().String(),
	}
	hexRaw := fmt.Sprintf("%x", raw)
	for name, out := range outputs {
		for _, leak := range []string{raw, encoded, hexRaw, fmt.Sprint(k.material[:])} {
			if strings.Contains(out, leak) {
				t.Errorf("%s = %q; want no key material", name, out)
			}
		}
	}
	for _, name := range []string{"%v", "%#v", "%x", "slog json"} {
		if !strings.Contains(outputs[name], "k1") || !strings.Contains(outputs[name], secret.Redacted) {
			t.Errorf("%s = %q; want the id %q and %q", name, outputs[name], "k1", secret.Redacted)
		}
	}
}
