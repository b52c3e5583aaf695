# Sourced by .ci/run: a real PostgreSQL from the distribution's packages for the PostgreSQL backend's tests
# (python/tests/pg_helpers.py), as a role and database of their own; exports MCP_PUSH_TEST_DATABASE_URL.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
[ -n "$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main"')" ] \
  || pg_createcluster "$pg_version" main >/dev/null
su postgres -c "pg_ctlcluster $pg_version main start" >/dev/null 2>&1 || true  # as its owner; running is fine
pg_port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $3}')
pg_sql() { su postgres -c "psql -p $pg_port -qtAc \"$1\""; }
[ "$(pg_sql "SELECT 1 FROM pg_roles WHERE rolname = 'mcp_push'")" = 1 ] \
  || pg_sql "CREATE ROLE mcp_push LOGIN PASSWORD 'mcp_push'"
[ "$(pg_sql "SELECT 1 FROM pg_database WHERE datname = 'mcp_push_test'")" = 1 ] \
  || su postgres -c "createdb -p $pg_port -O mcp_push mcp_push_test"
export MCP_PUSH_TEST_DATABASE_URL="postgresql://mcp_push:mcp_push@127.0.0.1:$pg_port/mcp_push_test"
