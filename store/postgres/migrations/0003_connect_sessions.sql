-- One-time connect links for end users without a console login.

CREATE TABLE connect_sessions (
    id                   text COLLATE "C" PRIMARY KEY,
    token_hash           bytea,
    app                  text NOT NULL DEFAULT '',
    external_user_id     text NOT NULL DEFAULT '',
    success_redirect_url text NOT NULL DEFAULT '',
    error_redirect_url   text NOT NULL DEFAULT '',
    opener_origin        text NOT NULL DEFAULT '',
    created_by           text NOT NULL DEFAULT '',
    created_at           timestamptz,
    expires_at           timestamptz,
    status               text NOT NULL DEFAULT '',
    account_id           text NOT NULL DEFAULT '',
    error                text NOT NULL DEFAULT '',
    updated_at           timestamptz
);

-- DeleteConnectSessions removes sessions by expiry.
CREATE INDEX connect_sessions_expiry ON connect_sessions (expires_at);
