#!/usr/bin/env bash
# Writes what deploy/compose needs and git never holds: secrets/postgres_password, secrets/grafana_admin_password
# and stagetrack.env (stagetrack.env.example with the database password, the identity hash key and a master key
# generated).
# An existing file is kept: delete it to generate it again (a new database password also needs ALTER ROLE, a
# new identity hash key makes every email a new identity).
set -euo pipefail
cd "$(dirname "$0")"

# N random letters and digits (no pipe left to be cut short: set -o pipefail would stop on a SIGPIPE).
random() {
  local chars
  chars="$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')"
  printf '%s' "${chars:0:$1}"
}

# The folder is the operator's alone; the files inside are bind-mounted into the PostgreSQL and Grafana
# containers, whose users (not root) must be able to read them.
mkdir -p secrets
chmod 700 secrets
for name in postgres_password grafana_admin_password; do
  if [ ! -s "secrets/$name" ]; then
    random 32 >"secrets/$name"
    chmod 644 "secrets/$name"
    echo "wrote secrets/$name"
  fi
done

if [ ! -s stagetrack.env ]; then
  password="$(cat secrets/postgres_password)"
  (
    umask 077
    sed -e "s|^\(STAGETRACK_DATABASE_URL=postgresql+asyncpg://stagetrack:\)changeme@|\1${password}@|" \
        -e "s|^STAGETRACK_IDENTITY_HASH_KEY=changeme\$|STAGETRACK_IDENTITY_HASH_KEY=$(random 48)|" \
        -e "s|^STAGETRACK_MASTER_KEYS={\"1\":\"changeme\"}\$|STAGETRACK_MASTER_KEYS={\"1\":\"$(head -c 32 /dev/urandom | base64)\"}|" \
        stagetrack.env.example >stagetrack.env
  )
  echo "wrote stagetrack.env"
fi
if grep -nE '^[^#]*=.*changeme' stagetrack.env >&2; then
  echo "stagetrack.env still holds a placeholder (above): the services will refuse to start" >&2
  exit 1
fi
