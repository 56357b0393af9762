# bench/lib.sh — sourced by the bench scripts: builds lastmile into a temp
# directory and, unless DATABASE_URL is set, starts a throw-away PostgreSQL
# cluster there (fsync off; as the postgres user when run as root), exports
# DATABASE_URL and applies the migrations. Everything is removed on exit.
# Usage: bench_setup SHARED_BUFFERS MAINTENANCE_WORK_MEM   (sets $tmp)
bench_setup() {
	tmp=$(mktemp -d)
	trap bench_cleanup EXIT
	go build -o "$tmp/lastmile" ./cmd/lastmile
	as_pg=""
	if [[ $(id -u) == 0 ]]; then # PostgreSQL refuses to run as root
		as_pg="runuser -u postgres --"
		chmod 755 "$tmp"
		mkdir "$tmp/pg" && chown postgres "$tmp/pg"
	fi
	if [[ -z "${DATABASE_URL:-}" ]]; then
		own=1
		$as_pg initdb -D "$tmp/pg" -U postgres -A trust >/dev/null
		$as_pg pg_ctl -D "$tmp/pg" -l "$tmp/pg/log" -w \
			-o "-k $tmp/pg -c listen_addresses='' -c shared_buffers=$1 -c work_mem=64MB -c maintenance_work_mem=$2 -c max_wal_size=8GB -c fsync=off" start >/dev/null
		DATABASE_URL="postgres://postgres@/postgres?host=$tmp/pg"
	fi
	export DATABASE_URL
	"$tmp/lastmile" migrate --database-url "$DATABASE_URL" 2>/dev/null
}

bench_cleanup() {
	if [[ -n "${own:-}" ]]; then $as_pg pg_ctl -D "$tmp/pg" -m fast stop >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
