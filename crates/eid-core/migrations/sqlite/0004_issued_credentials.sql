-- Verifiable credentials (SD-JWT VC) issued to citizens' wallets, each with its entry in a
-- Token Status List: (list_id, idx) is unique, so concurrent issuers (several instances)
-- can never share an entry. No foreign keys: a row outlives its account and eKYC record,
-- so that its index is never given to another credential and the entry of a credential
-- whose record is gone reads INVALID. Rows hold identifiers and times only.
CREATE TABLE issued_credentials (
    list_id    BIGINT NOT NULL CHECK (list_id >= 1),
    idx        BIGINT NOT NULL CHECK (idx >= 0),
    id         BLOB NOT NULL UNIQUE,
    account_id BLOB NOT NULL,
    ekyc_id    BLOB NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (list_id, idx)
);
CREATE INDEX issued_credentials_account ON issued_credentials (account_id);
CREATE INDEX issued_credentials_ekyc ON issued_credentials (ekyc_id);
