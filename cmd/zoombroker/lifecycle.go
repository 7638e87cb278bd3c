package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/zoombroker/zoombroker/broker/secret"
	"github.com/zoombroker/zoombroker/store"
)

// Lifecycle is the part of the configuration that keeps accounts alive and
// ends them: Zoom's webhook secrets and the refresh schedule.
type Lifecycle struct {
	// WebhookSecrets maps an app to the secret token of its Zoom webhooks.
	WebhookSecrets map[store.App]secret.Secret

	RefreshLead        time.Duration
	RenewEvery         time.Duration
	TombstoneRetention time.Duration

	// ConnectRedirects are the URL prefixes connect links may return to.
	ConnectRedirects  []string
	ConnectSessionTTL time.Duration
	BrandName         string
}

func parseLifecycle(vs values) (Lifecycle, error) {
	lc := Lifecycle{WebhookSecrets: map[store.App]secret.Secret{}}
	if v := vs[envZoomWebhookSecret].text; v != "" {
		lc.WebhookSecrets[store.AppZoom] = secret.Secret(v)
	}
	if v := vs[envZoomAdminWebhookSecret].text; v != "" {
		lc.WebhookSecrets[store.AppZoomAdmin] = secret.Secret(v)
	}

	var problems []error
	durations := []struct {
		env string
		dst *time.Duration
		min time.Duration
	}{
		{envRefreshLead, &lc.RefreshLead, time.Minute},
		{envRenewEvery, &lc.RenewEvery, time.Hour},
		{envTombstoneRetention, &lc.TombstoneRetention, 0},
		{envConnectSessionTTL, &lc.ConnectSessionTTL, time.Minute},
	}
	for _, d := range durations {
		text := vs[d.env].text
		if text == "" {
			text = settingFor(d.env).def
		}
		v, err := time.ParseDuration(text)
		if err != nil || v < d.min || v <= 0 {
			problems = append(problems, fmt.Errorf("%s: %q is not a duration of at least %s; set it to a value such as %s", vs.label(d.env), text, max(d.min, time.Second), settingFor(d.env).def))
			continue
		}
		*d.dst = v
	}
	lc.BrandName = vs[envBrandName].text
	for _, prefix := range strings.Split(vs[envConnectRedirects].text, ",") {
		prefix = strings.TrimSpace(prefix)
		if prefix == "" {
			continue
		}
		u, err := url.Parse(prefix)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, fmt.Errorf("%s: %q is not an absolute http or https URL prefix without query or fragment; use one such as https://app.example.com/zoom/", vs.label(envConnectRedirects), prefix))
			continue
		}
		lc.ConnectRedirects = append(lc.ConnectRedirects, prefix)
	}

	if lc.RefreshLead >= 50*time.Minute {
		problems = append(problems, fmt.Errorf("%s: %s is not below Zoom's access token life of one hour; use 10m or less", vs.label(envRefreshLead), lc.RefreshLead))
	}
	return lc, errors.Join(problems...)
}
