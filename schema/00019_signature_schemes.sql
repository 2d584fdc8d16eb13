-- +goose Up
-- A subscription or a campaign signs with an HMAC-SHA256 secret (v1, whsec_), as every one
-- made before did, or an Ed25519 signing key (v1a, whsk_) whose public key its receivers
-- verify with. The column says which of the two its current key is; the keys themselves
-- stay in secret_key and retired_secrets, sealed alike.
ALTER TABLE subscriptions ADD COLUMN signature_scheme text NOT NULL DEFAULT 'hmac-sha256'
    CHECK (signature_scheme IN ('hmac-sha256', 'ed25519'));
ALTER TABLE campaigns ADD COLUMN signature_scheme text NOT NULL DEFAULT 'hmac-sha256'
    CHECK (signature_scheme IN ('hmac-sha256', 'ed25519'));

-- +goose Down
ALTER TABLE campaigns DROP COLUMN signature_scheme;
ALTER TABLE subscriptions DROP COLUMN signature_scheme;
