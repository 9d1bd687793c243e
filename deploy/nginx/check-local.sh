#!/usr/bin/env bash
# Check deploy/nginx/water.conf with a real nginx in front of a running Water API, without Docker.
#
#   deploy/nginx/check-local.sh [API_PORT]     # default 8000; needs nginx and curl
#
# It writes a wrapper nginx.conf under a temporary prefix (upstream water_api -> 127.0.0.1:API_PORT),
# includes water.conf with only the listen address (127.0.0.1:18080) and the access log path
# changed, runs `nginx -t`, starts nginx in the foreground in the background, makes the checks
# with curl, and stops nginx again. Exit status 0 when every check passed.
set -euo pipefail
api_port=${1:-8000}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d /tmp/water-nginx-check.XXXXXX)
mkdir -p "$prefix/logs" "$prefix/conf" "$prefix/tmp"
sed -e 's#^    listen 8080;#    listen 127.0.0.1:18080;#' \
    -e "s#access_log /dev/stdout#access_log $prefix/logs/access.log#" \
    "$here/water.conf" > "$prefix/conf/water.conf"
cat > "$prefix/conf/nginx.conf" <<CONF
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log;
worker_processes 1;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    upstream water_api { server 127.0.0.1:$api_port; keepalive 16; }
    include $prefix/conf/water.conf;
}
CONF
nginx -t -p "$prefix" -c "$prefix/conf/nginx.conf"
nginx -p "$prefix" -c "$prefix/conf/nginx.conf" -g 'daemon off;' & nginx_pid=$!
trap 'kill -QUIT $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$prefix"' EXIT
sleep 1
base=http://127.0.0.1:18080
failed=0
check() { if [ "$2" = "$3" ]; then echo "ok    $1"; else echo "FAIL  $1: got '$2', want '$3'"; failed=1; fi; }
header() { tr -d '\r' | awk -v h="$1" 'tolower($1) == tolower(h) ":" {print $2}'; }

check "GET /api/healthz through nginx" "$(curl -s -o /dev/null -w '%{http_code}' $base/api/healthz)" 200
generated=$(curl -s -D - -o /dev/null $base/api/healthz | header x-request-id)
check "a request id is generated (32 hex)" "$(echo "$generated" | grep -Ec '^[0-9a-f]{32}$')" 1
check "the API echoes the id nginx generated (same id in nginx's access log)" "$(grep -c "\"request_id\":\"$generated\"" "$prefix/logs/access.log")" 1
check "an inbound X-Request-ID is preserved" "$(curl -s -D - -o /dev/null -H 'X-Request-ID: check-local.1' $base/api/healthz | header x-request-id)" check-local.1
check "the request id is echoed once" "$(curl -s -D - -o /dev/null $base/api/healthz | grep -ci '^x-request-id')" 1
for path in /metrics /metrics/ '/api/../metrics' '/api/%2e%2e/metrics' /; do
  check "GET $path is 404" "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$base$path")" 404
done
check "the 404 is a problem document" "$(curl -s -o /dev/null -w '%{content_type}' $base/metrics)" application/problem+json
check "the API's own /metrics is there directly" "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$api_port/metrics)" 200
big=$(mktemp); head -c 1100000 /dev/zero > "$big"
check "a body over 1m is 413 at nginx" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$big" $base/api/auth/signup)" 413
rm -f "$big"
check "X-Content-Type-Options is set" "$(curl -s -D - -o /dev/null $base/api/healthz | header x-content-type-options)" nosniff
exit $failed
