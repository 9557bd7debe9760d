-- Staff who sign in to the back office: one account per user, the
-- password kept only as an Argon2id hash (a PHC string with its salt).
CREATE TABLE staff_accounts (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1
) STRICT;

-- What a member of staff may do for each council.
CREATE TABLE staff_roles (
    user_id TEXT NOT NULL REFERENCES users(id),
    tenant  TEXT NOT NULL REFERENCES tenants(id),
    role    TEXT NOT NULL CHECK (role IN ('dispatcher', 'admin')),
    PRIMARY KEY (user_id, tenant)
) STRICT;

-- Signed-in sessions: the cookie's token kept only as its SHA-256, with
-- the form token every change must carry back (against cross-site forms).
CREATE TABLE staff_sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    tenant     TEXT NOT NULL REFERENCES tenants(id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX staff_sessions_by_user ON staff_sessions(user_id);
