package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// maxZoomErrorPeek is how much of a Zoom 401 body Transport reads to find
// its error code.
const maxZoomErrorPeek = 64 << 10

// Transport is an http.RoundTripper that calls Zoom with an account's
// token from Source. When Zoom returns 401 with code 124 (the token was
// invalidated early or expired), it reports the token to the broker as
// rejected, takes the newer one and sends the request once more, if the
// request has no body or can replay it (http.NewRequest sets GetBody for
// bytes, strings and their readers). Otherwise it returns Zoom's 401, and
// the next request gets the newer token.
type Transport struct {
	// Source supplies the tokens; it is required.
	Source *TokenSource

	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	bodySent := false
	defer func() {
		// A RoundTripper must close the body, even on errors.
		if !bodySent && req.Body != nil {
			req.Body.Close()
		}
	}()

	tok, err := t.Source.TokenContext(req.Context())
	if err != nil {
		return nil, err
	}
	bodySent = true
	resp, err := t.base().RoundTrip(withToken(req, req.Body, tok.AccessToken))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !zoomRejectedToken(resp) {
		return resp, err
	}

	next, err := t.Source.Rejected(req.Context(), tok.AccessToken)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if next.AccessToken == tok.AccessToken {
		return resp, nil
	}

	body := req.Body
	if body != nil && body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	resp.Body.Close()
	return t.base().RoundTrip(withToken(req, body, next.AccessToken))
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// withToken returns a copy of req with the body and the bearer token; req
// itself stays unchanged, as RoundTrip requires.
func withToken(req *http.Request, body io.ReadCloser, token string) *http.Request {
	out := req.Clone(req.Context())
	out.Body = body
	out.Header.Set("Authorization", "Bearer "+token)
	return out
}

// zoomRejectedToken reports whether a Zoom 401 carries code 124. It reads
// the start of the body and puts it back.
func zoomRejectedToken(resp *http.Response) bool {
	peek, _ := io.ReadAll(io.LimitReader(resp.Body, maxZoomErrorPeek))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(peek), resp.Body), resp.Body}

	var body struct {
		Code json.Number `json:"code"`
	}
	return json.Unmarshal(peek, &body) == nil && body.Code.String() == "124"
}
