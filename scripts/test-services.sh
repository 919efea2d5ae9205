#!/usr/bin/env bash
# What `make test` needs besides Python: PostgreSQL on 127.0.0.1:5432 (user postgres without a
# password, database `test`), Redis on 127.0.0.1:6379, and Debian's chromium.
#
#   scripts/test-services.sh [postgresql] [redis] [chromium]     (no argument: all three)
#
# As root it installs what is missing with apt-get (Debian's postgresql, redis-server, chromium),
# gives user postgres trust access over 127.0.0.1 if it has none, creates the `test` database and
# starts the servers. As another user it starts Redis and creates `test` when it can, and otherwise
# says in one line what to install or run. When everything answers it only checks (a few ms).
set -euo pipefail

PG_PORT=5432
REDIS_PORT=6379
TRUST_LINE="host all postgres 127.0.0.1/32 trust"

say() { echo "test-services: $*"; }
die() { echo "test-services: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg() { PGCONNECT_TIMEOUT=5 psql -X -w -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atq "$@"; }
pg_answers() { pg -d "$1" -c 'select 1' >/dev/null 2>&1; }
pg_listening() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 5; }
redis_answers() { [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND succeeds
	local i
	for ((i = 0; i < $1 * 5; i++)); do "${@:2}" && return 0; sleep 0.2; done
	return 1
}

[ $# -gt 0 ] || set -- postgresql redis chromium
todo=()
for want in "$@"; do
	case $want in
	postgresql) pg_answers test || todo+=(postgresql) ;;
	redis) redis_answers || todo+=(redis) ;;
	chromium) have chromium || todo+=(chromium) ;;
	*) die "unknown service '$want' (postgresql, redis, chromium)" ;;
	esac
done
[ ${#todo[@]} -gt 0 ] || exit 0

root=false
[ "$(id -u)" = 0 ] && root=true
# A cluster created now (by the package or below) gets a UTF-8 encoding, as the tests expect.
[ "$(locale charmap 2>/dev/null)" = UTF-8 ] || export LC_ALL=C.UTF-8

# 1. Packages. Something already listening on a port only needs its client.
packages=()
for want in "${todo[@]}"; do
	case $want in
	postgresql)
		if port_open "$PG_PORT"; then
			have psql || packages+=(postgresql-client)
		elif ! have pg_ctlcluster || ! have psql; then
			packages+=(postgresql)
		fi ;;
	redis)
		if port_open "$REDIS_PORT"; then
			have redis-cli || packages+=(redis-tools)
		else
			have redis-server || packages+=(redis-server)
		fi ;;
	chromium) packages+=(chromium) ;;
	esac
done
if [ ${#packages[@]} -gt 0 ]; then
	$root || die "make test needs Debian's ${packages[*]}: run 'sudo apt-get install ${packages[*]}' (or run make test as root, which installs and starts them)"
	say "installing ${packages[*]} with apt-get"
	# apt-get update first, unless the lists were fetched within the hour.
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -60 -print -quit 2>/dev/null)" ]; then
		apt-get update -qq || say "apt-get update failed; trying with the package lists there are"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${packages[@]}" >/dev/null
fi

# 2. Servers and access. A non-root user's problems are gathered into one line.
problems=()
for want in "${todo[@]}"; do
	case $want in
	postgresql)
		if ! pg_listening; then
			read -r version cluster < <(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; exit }') || true
			if [ -z "${version:-}" ]; then
				[ -z "$(pg_lsclusters -h 2>/dev/null)" ] || die "no PostgreSQL cluster uses port $PG_PORT (see pg_lsclusters)"
				# shellcheck disable=SC2012  # version numbers: ls is fine
				version=$(ls /usr/lib/postgresql | sort -V | tail -n 1) cluster=main
				$root || die "PostgreSQL has no cluster: run 'sudo pg_createcluster --start $version $cluster'"
				say "creating PostgreSQL cluster $version/$cluster"
				pg_createcluster -p "$PG_PORT" "$version" "$cluster" >/dev/null
			fi
			if ! $root; then
				problems+=("PostgreSQL is installed but stopped: run 'sudo pg_ctlcluster $version $cluster start'")
				continue
			fi
			say "starting PostgreSQL $version/$cluster"
			(cd / && pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start)
			wait_for 30 pg_listening || die "PostgreSQL $version/$cluster does not answer on 127.0.0.1:$PG_PORT"
		fi
		if ! pg_answers postgres; then
			if ! $root; then
				problems+=("PostgreSQL refuses user postgres from 127.0.0.1 without a password: put '$TRUST_LINE' at the top of its pg_hba.conf and reload it")
				continue
			fi
			hba=$(as_postgres psql -X -p "$PG_PORT" -Atqc 'show hba_file')
			if ! grep -qxF "$TRUST_LINE" "$hba"; then
				say "letting user postgres in without a password from 127.0.0.1 ($hba)"
				# Rewritten in place, so the file keeps its owner and mode.
				new=$({ echo "# Added by xtablo's scripts/test-services.sh: the test suite connects as postgres."
					echo "$TRUST_LINE"; cat "$hba"; })
				printf '%s\n' "$new" >"$hba"
				as_postgres psql -X -p "$PG_PORT" -Atqc 'select pg_reload_conf()' >/dev/null
			fi
			wait_for 10 pg_answers postgres || die "PostgreSQL still refuses user postgres from 127.0.0.1: $(pg -d postgres -c 'select 1' 2>&1 | head -n 1)"
		fi
		if ! pg_answers test; then
			say "creating database test"
			pg -d postgres -c 'create database test'
		fi ;;
	redis)
		redis_answers && continue
		port_open "$REDIS_PORT" && die "127.0.0.1:$REDIS_PORT is taken by something that does not answer Redis's PING"
		# No persistence: the tests' data is thrown away.
		options=(--daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no)
		say "starting Redis"
		if ! $root; then
			redis-server "${options[@]}" --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/xtablo-test-redis.log"
		elif id redis >/dev/null 2>&1 && [ -d /var/log/redis ]; then
			(cd / && runuser -u redis -- redis-server "${options[@]}" --dir /var/lib/redis --logfile /var/log/redis/xtablo-test.log)
		else
			redis-server "${options[@]}" --dir /tmp --logfile /tmp/xtablo-test-redis.log
		fi
		wait_for 30 redis_answers || die "Redis does not answer on 127.0.0.1:$REDIS_PORT" ;;
	esac
done
if [ ${#problems[@]} -gt 0 ]; then
	message=$(printf '%s; ' "${problems[@]}")
	die "${message%; } (or run make test as root, which does it)"
fi
