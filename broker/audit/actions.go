package audit

// Actions. An API request that the broker refused is recorded under the
// action it asked for, with OutcomeDenied.
const (
	ActionTokenIssue         = "token.issue"
	ActionZoomProxy          = "zoom.proxy"
	ActionAccountConnect     = "account.connect"
	ActionAccountReconnect   = "account.reconnect"
	ActionAccountRevoke      = "account.revoke"
	ActionAccountDeauthorize = "account.deauthorize"
	ActionAccountList        = "account.list"
	ActionAccountGet         = "account.get"
	ActionAppList            = "app.list"
	ActionKeyCreate          = "apikey.create"
	ActionKeyRevoke          = "apikey.revoke"
	ActionSignIn             = "console.signin"
	ActionSignOut            = "console.signout"
	ActionAuditList          = "audit.list"
	ActionWebhookManage      = "webhook.manage"
	ActionConnectLink        = "connect_link.manage"
	ActionBackup             = "backup"
	ActionZoomWebhook        = "zoom.webhook"
	ActionAPI                = "api"
	ActionConsole            = "console"
)

// Outcomes.
const (
	// OutcomeOK is an action that succeeded.
	OutcomeOK = "ok"

	// OutcomeDenied is a request the broker refused: a missing or bad
	// credential (401), a request outside the caller's limits (403), or
	// too many failed attempts (429).
	OutcomeDenied = "denied"

	// OutcomeFailed is an allowed action that did not succeed, such as a
	// hand-out for an account that needs a reconnect.
	OutcomeFailed = "failed"
)

// Actor types.
const (
	ActorOperator  = "operator"
	ActorAPIKey    = "api_key"
	ActorZoom      = "zoom"
	ActorLink      = "connect_link"
	ActorAnonymous = "anonymous"
)

// Actions lists every action, for the console's filter.
var Actions = []string{
	ActionTokenIssue, ActionZoomProxy, ActionAccountConnect, ActionAccountReconnect, ActionAccountRevoke,
	ActionAccountDeauthorize, ActionAccountList, ActionAccountGet, ActionAppList, ActionKeyCreate, ActionKeyRevoke,
	ActionSignIn, ActionSignOut, ActionAuditList, ActionWebhookManage, ActionConnectLink, ActionBackup, ActionZoomWebhook, ActionAPI, ActionConsole,
}
