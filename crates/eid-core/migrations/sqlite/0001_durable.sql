-- Durable store, SQLite. Times are Unix microseconds (UTC); ids are 16-byte UUID blobs.

CREATE TABLE accounts (
    id          BLOB PRIMARY KEY NOT NULL,
    personal_id TEXT NOT NULL UNIQUE CHECK (length(personal_id) = 12),
    status      TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'locked')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE passwords (
    account_id BLOB PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phc        TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY NOT NULL,
    account_id    BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    label         TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

CREATE TABLE consents (
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE consent_items (
    account_id BLOB NOT NULL,
    client_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('scope', 'claim')),
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, client_id, kind, name),
    FOREIGN KEY (account_id, client_id) REFERENCES consents (account_id, client_id) ON DELETE CASCADE
);

CREATE TABLE ekyc_records (
    id                BLOB PRIMARY KEY NOT NULL,
    account_id        BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    evidence          TEXT NOT NULL,
    loa               TEXT NOT NULL,
    details           TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    status_changed_at BIGINT NOT NULL
);
CREATE INDEX ekyc_records_account ON ekyc_records (account_id);

-- Append-only, hash-chained. No foreign keys: entries outlive the accounts they name.
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY NOT NULL,
    at            BIGINT NOT NULL,
    event         TEXT NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT,
    subject       BLOB,
    relying_party TEXT,
    attributes    TEXT NOT NULL,
    loa           TEXT,
    outcome       TEXT NOT NULL,
    prev_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);

-- The chain head: one row, updated in the same transaction as each append.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
