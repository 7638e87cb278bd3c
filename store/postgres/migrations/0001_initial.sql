-- Accounts, API keys, console operators and leases.
--
-- Ids and names use the "C" collation so that ORDER BY and the paging
-- comparison (id > after) follow byte order whatever the database's locale.
-- Zero times are NULL.

CREATE TABLE accounts (
    id                      text COLLATE "C" PRIMARY KEY,
    app                     text NOT NULL,
    status                  text NOT NULL,
    zoom_user_id            text NOT NULL DEFAULT '',
    zoom_account_id         text NOT NULL DEFAULT '',
    zoom_email              text NOT NULL DEFAULT '',
    -- zoom_email_folded is zoom_email lowercased by the broker, for the
    -- case-insensitive email filter. Go does the folding, so the result
    -- does not depend on the database's locale.
    zoom_email_folded       text NOT NULL DEFAULT '',
    zoom_display_name       text NOT NULL DEFAULT '',
    scopes                  text[] NOT NULL DEFAULT '{}',
    -- owners are the external user ids that connected the grant through
    -- connect links, in order.
    owners                  text[] NOT NULL DEFAULT '{}',
    console_connected       boolean NOT NULL DEFAULT false,
    created_at              timestamptz,
    updated_at              timestamptz,
    -- token is the sealed token record, stored as the broker gave it.
    token                   bytea,
    token_version           bigint NOT NULL DEFAULT 0,
    token_expires_at        timestamptz,
    refresh_token_issued_at timestamptz,
    last_refreshed_at       timestamptz,
    next_refresh_at         timestamptz,
    refresh_started_at      timestamptz,
    last_error_code         text NOT NULL DEFAULT '',
    last_error              text NOT NULL DEFAULT '',
    last_error_at           timestamptz,
    transient_failures      integer NOT NULL DEFAULT 0,
    revoked_at              timestamptz,
    revoke_reason           text NOT NULL DEFAULT ''
);

-- FindAccount matches the Zoom user id for the zoom app and the Zoom
-- account id for the zoom_admin app, among accounts that are not revoked.
CREATE INDEX accounts_by_zoom_user ON accounts (app, zoom_user_id, id) WHERE status <> 'revoked';
CREATE INDEX accounts_by_zoom_account ON accounts (app, zoom_account_id, id) WHERE status <> 'revoked';

-- DueAccounts reads this index in order and stops after limit rows.
CREATE INDEX accounts_due ON accounts (next_refresh_at, id)
    WHERE status = 'active' AND next_refresh_at IS NOT NULL;

-- The email and external user filters of ListAccounts.
CREATE INDEX accounts_by_email ON accounts (zoom_email_folded, id);
CREATE INDEX accounts_by_owner ON accounts USING gin (owners);

-- An empty limit list means no limit of that kind.
CREATE TABLE api_keys (
    id                      text COLLATE "C" PRIMARY KEY,
    name                    text NOT NULL,
    hash                    bytea NOT NULL UNIQUE,
    created_at              timestamptz,
    revoked_at              timestamptz,
    last_used_at            timestamptz,
    expires_at              timestamptz,
    limit_apps              text[] NOT NULL DEFAULT '{}',
    limit_account_ids       text[] NOT NULL DEFAULT '{}',
    limit_external_user_ids text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE operators (
    name          text COLLATE "C" PRIMARY KEY,
    password_hash bytea,
    created_at    timestamptz,
    session_epoch bigint NOT NULL DEFAULT 0
);

-- A lease is free when no row has its name or the row's expires has passed.
CREATE TABLE leases (
    name    text COLLATE "C" PRIMARY KEY,
    holder  text NOT NULL,
    expires timestamptz NOT NULL
);
