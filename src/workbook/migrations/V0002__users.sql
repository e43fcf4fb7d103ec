-- V0002: users (seed §2 "Users table with audit fields").
-- Changes from the seed: constraints named; e-mail uniqueness is case-insensitive
-- (finding F05) through a unique index on lower(email).
CREATE TABLE users (
    id         UUID NOT NULL DEFAULT gen_random_uuid(),
    email      TEXT NOT NULL,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL DEFAULT 'user',
    active     BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT ck_users_email CHECK (email ~* '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$' AND char_length(email) <= 254),
    CONSTRAINT ck_users_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT ck_users_role CHECK (role IN ('user', 'admin', 'contributor')),
    CONSTRAINT ck_users_updated_after_created CHECK (updated_at >= created_at)
);

CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email));

COMMENT ON TABLE users IS 'People who own projects and author templates.';
COMMENT ON COLUMN users.id IS 'Surrogate key.';
COMMENT ON COLUMN users.email IS 'Login and contact address; unique ignoring case.';
COMMENT ON COLUMN users.name IS 'Full name as shown to other users.';
COMMENT ON COLUMN users.role IS 'Authorisation role: user, admin or contributor.';
COMMENT ON COLUMN users.active IS 'False once the account is disabled; rows are kept for history.';
COMMENT ON COLUMN users.created_at IS 'Account creation time.';
COMMENT ON COLUMN users.updated_at IS 'Last modification time.';
