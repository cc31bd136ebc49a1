-- tower-otp's own tables: users' enrolled authenticator apps and their recovery codes. They
-- never reference the application's users table (no foreign key): user ids are its keys, as
-- text. Portable SQL: SQLite and PostgreSQL alike.
CREATE TABLE tower_otp_enrollments (
    user_id TEXT PRIMARY KEY,
    -- The app's secret, sealed (XChaCha20-Poly1305) by the layer: `v1.<key id>.<base64>`.
    secret TEXT NOT NULL,
    -- The id of the secret key the recovery codes' HMACs were made with.
    recovery_key_id TEXT NOT NULL,
    enrolled_at_ms BIGINT NOT NULL
);

CREATE TABLE tower_otp_recovery_codes (
    user_id TEXT NOT NULL,
    -- HMAC-SHA256 of one unused recovery code, in lowercase hex.
    digest TEXT NOT NULL,
    PRIMARY KEY (user_id, digest)
);
