package zoomsandbox_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

func oauthConfig(e *env, style oauth2.AuthStyle, secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     userClientID,
		ClientSecret: secret,
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.srv.URL + "/oauth/authorize",
			TokenURL:  e.srv.URL + "/oauth/token",
			AuthStyle: style,
		},
	}
}

func TestOAuth2Library(t *testing.T) {
	tests := []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"header", oauth2.AuthStyleInHeader},
		{"params", oauth2.AuthStyleInParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := oauthConfig(e, tt.style, userSecret)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client())

			verifier := oauth2.GenerateVerifier()
			loc, err := e.sb.Approve(ctx, e.srv.Client(), cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)), plainUser)
			if err != nil {
				t.Fatalf("Approve error: %v", err)
			}
			if got := loc.Query().Get("state"); got != "st-1" {
				t.Errorf("Approve Location state = %q; want st-1", got)
			}

			tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("Exchange error: %v", err)
			}
			if tok.TokenType != "bearer" {
				t.Errorf("Exchange TokenType = %q; want bearer", tok.TokenType)
			}
			if tok.ExpiresIn != 3599 {
				t.Errorf("Exchange ExpiresIn = %d; want 3599", tok.ExpiresIn)
			}
			if got := tok.Extra("scope"); got != "user:read:user meeting:read:meeting" {
				t.Errorf("Exchange Extra(scope) = %v; want the app's scopes", got)
			}
			if got := tok.Extra("api_url"); got != e.srv.URL {
				t.Errorf("Exchange Extra(api_url) = %v; want %s", got, e.srv.URL)
			}

			// An empty access token makes the source refresh at once.
			fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("TokenSource.Token error: %v", err)
			}
			if fresh.RefreshToken == tok.RefreshToken {
				t.Errorf("refreshed RefreshToken is unchanged; want a rotated one")
			}

			_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("refresh with the old token error = %v; want *oauth2.RetrieveError", err)
			}
			if re.ErrorCode != "invalid_grant" {
				t.Errorf("refresh with the old token ErrorCode = %q; want invalid_grant", re.ErrorCode)
			}
			if re.Response.StatusCode != http.StatusBadRequest {
				t.Errorf("refresh with the old token status = %d; want 400", re.Response.StatusCode)
			}

			resp, err := cfg.Client(ctx, fresh).Get(e.srv.URL + "/v2/users/me")
			if err != nil {
				t.Fatalf("GET users/me error: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET users/me status = %d; want 200", resp.StatusCode)
			}
		})
	}
}

func TestOAuth2LibraryErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client())
	tests := []struct {
		name     string
		secret   string
		code     string
		wantCode string
	}{
		{"bad code", userSecret, "made-up", "invalid_grant"},
		{"bad secret", "wrong", "made-up", "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := oauthConfig(e, oauth2.AuthStyleInHeader, tt.secret)
			_, err := cfg.Exchange(ctx, tt.code)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("Exchange error = %v; want *oauth2.RetrieveError", err)
			}
			if re.ErrorCode != tt.wantCode {
				t.Errorf("Exchange ErrorCode = %q; want %q", re.ErrorCode, tt.wantCode)
			}
		})
	}
}
