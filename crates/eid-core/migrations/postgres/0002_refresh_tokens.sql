-- OAuth 2.0 refresh tokens. Only the SHA-256 of each opaque token is stored. Tokens form
-- families (one per authorization grant): rotation marks the presented token used and adds
-- its successor to the family; presenting a used token again revokes the whole family
-- (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).
CREATE TABLE refresh_tokens (
    hash       BYTEA PRIMARY KEY NOT NULL,
    family     UUID NOT NULL,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    loa        TEXT,
    amr        JSONB NOT NULL,
    auth_time  BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
