-- +goose Up
-- Every replaced signing key keeps signing until its own grace period ends, however often
-- the secret is rotated meanwhile: with one previous key, a second rotation within the
-- grace period cut the first key's short. previous_secret_key and
-- previous_secret_expires_at are still written (the newest retired key) so replicas of the
-- previous version keep signing correctly while an upgrade rolls out.
ALTER TABLE subscriptions ADD COLUMN retired_secrets jsonb NOT NULL DEFAULT '[]';
UPDATE subscriptions
   SET retired_secrets = jsonb_build_array(jsonb_build_object(
         'key', previous_secret_key, 'expires_at', previous_secret_expires_at))
 WHERE previous_secret_key IS NOT NULL AND previous_secret_expires_at IS NOT NULL;

-- +goose Down
ALTER TABLE subscriptions DROP COLUMN retired_secrets;
