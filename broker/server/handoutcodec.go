package server

import (
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// accountIDShape checks the shape of account ids: "acc_" and 20 characters
// of the lowercase base32 alphabet (a to z, 2 to 7), as the token service
// makes them. It is the regular expression ^acc_[a-z2-7]{20}$ written out,
// because every token hand-out checks an id twice (the route and the audit
// entry) and the regexp engine cost more than the rest of the check.
type accountIDShape struct{}

// MatchString reports whether id has the shape of an account id.
func (accountIDShape) MatchString(id string) bool {
	const prefix, rest = "acc_", 20
	if len(id) != len(prefix)+rest || id[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// appendTokenResponse appends r as encoding/json would encode it, the
// trailing newline of json.Encoder included, without reflection. The token
// hand-out is the broker's hottest path, and encoding/json was a tenth of
// its handler time.
func appendTokenResponse(b []byte, r tokenResponse) []byte {
	b = append(b, `{"account_id":`...)
	b = appendJSONString(b, r.AccountID)
	b = append(b, `,"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_at":"`...)
	b = r.ExpiresAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	b = append(b, `,"scopes":`...)
	if r.Scopes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range r.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string with the escaping of
// encoding/json: quote, backslash and control characters escaped, <, >
// and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and
// invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe marks the ASCII bytes appendJSONString copies unescaped.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// responseBuffers recycles the buffers of writeTokenResponse.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// writeTokenResponse sends r with status 200, encoded by
// appendTokenResponse. A request with a query string, such as ?pretty,
// goes through echo's JSON encoding, which honours it.
func writeTokenResponse(c echo.Context, r tokenResponse) error {
	if c.Request().URL.RawQuery != "" {
		return c.JSON(http.StatusOK, r)
	}
	buf := responseBuffers.Get().(*[]byte)
	*buf = appendTokenResponse((*buf)[:0], r)
	err := c.JSONBlob(http.StatusOK, *buf)
	clear(*buf) // the buffer held an access token
	responseBuffers.Put(buf)
	return err
}

// isJSONContentType reports whether a Content-Type header names
// application/json, with or without parameters. The exact header that
// clients send almost always skips the media type parser.
func isJSONContentType(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
