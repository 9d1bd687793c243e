#!/usr/bin/env sh
# Create the secrets deploy/compose.yaml mounts (random values), unless they exist already.
# They are plain files under deploy/secrets/ (git-ignored); keep them out of version control.
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(int(__import__("sys").argv[1])), end="")' "$1"; }
# Files must be readable by the container users (uid 10001 for Water, 999 for postgres):
# compose bind-mounts them as they are. The directory itself stays private.
umask 022
if [ ! -f secrets/postgres_password ]; then
  password=$(random 24)
  printf '%s' "$password" > secrets/postgres_password
  printf 'postgresql://water:%s@postgres:5432/water' "$password" > secrets/database_url
fi
[ -f secrets/secret_key ] || random 48 > secrets/secret_key
ls -l secrets
