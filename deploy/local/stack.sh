# shellcheck shell=bash
# The local stack's building blocks, sourced by up, down and the tests.
# Everything listens on 127.0.0.1. Settings (environment):
#   DROVER_STACK_DIR  where data, logs, sockets and pid files live (.stack)
#   DROVER_KAFKA_PORT Kafka's client port (19092; the controller uses +1)
#   DROVER_PG_PORT    PostgreSQL's port (15432)
#   DROVER_WORKERS    how many workers serve compute environment "local" (2)
#   DROVER_DISPATCHERS how many dispatchers run: one active, the rest standby (1)
#   DROVER_CE_VCPUS   maxvCpus of compute environment "local" (the CPU count)
#   DROVER_WORKER_RUNTIME container (default) or hollow (benchmarks only)
#   DROVER_GATEWAY_PORT the AWS Batch API gateway's port (9080; key local,
#                     secret local-secret)
#   DROVER_METRICS_PORT first /metrics port: dispatcher N on PORT+N-1,
#                     worker N on PORT+10+N-1 (Kafka's port + 100)
#   DROVER_PG_CONNINFO use an existing PostgreSQL instead of a private one
#   DROVER_EXTRA_CONF extra lines for the generated drover.conf
#   DROVER_BUILD_DIR  the build directory whose binaries run (build)
#   DROVER_BUILD_TYPE its CMake build type (RelWithDebInfo)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=${DROVER_STACK_DIR:-$ROOT/.stack}
KAFKA_PORT=${DROVER_KAFKA_PORT:-19092}
CTRL_PORT=$((KAFKA_PORT + 1))
PG_PORT=${DROVER_PG_PORT:-15432}
WORKERS=${DROVER_WORKERS:-2}
DISPATCHERS=${DROVER_DISPATCHERS:-1}
METRICS_PORT=${DROVER_METRICS_PORT:-$((KAFKA_PORT + 100))}
GATEWAY_PORT=${DROVER_GATEWAY_PORT:-9080}
PGBIN=/usr/lib/postgresql/15/bin
KAFKA_CP="$ROOT/deploy/kafka/target/dependency/*"
CONF=$STACK/drover.conf
# worker ids are unique per stack: stacks on one host share podman's store,
# and a restarted worker removes the containers its id left there
STACK_ID=$(basename "$STACK" | sed 's/^\.//; s/[^A-Za-z0-9-]/-/g')
BUILD_DIR=${DROVER_BUILD_DIR:-$ROOT/build}
BIN=$BUILD_DIR/bin
IMAGE=localhost/drover/busybox:latest

say() { printf '%s\n' "up: $*" >&2; }
die() { printf '%s\n' "drover stack: $*" >&2; exit 1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuse a port some other process holds: talking to a stranger's server
# would be worse than not starting.
port_free_or_die() { # port_free_or_die PORT WHAT
    if port_open "$1"; then
        die "port $1 ($2) is in use by another process; stop it or set DROVER_${2^^}_PORT"
    fi
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local t=$1 what=$2; shift 2
    for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
    die "$what did not come up within ${t}s (logs: $STACK/logs)"
}

# The OS user PostgreSQL runs as: it refuses root.
pg_os_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg() {
    # from /, which every user may enter (the caller's directory may not be)
    if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

stack_dirs() {
    mkdir -p "$STACK"/{logs,run,joblogs,kafka,shared}
    chmod 1777 "$STACK/shared" # jobs may run as any user
    chmod 755 "$STACK"
}

kafka_jars() {
    if [ ! -f "$ROOT/deploy/kafka/target/dependency/.complete" ]; then
        say "fetching the Kafka broker from Maven Central"
        (cd "$ROOT/deploy/kafka" && mvn -q -B dependency:copy-dependencies \
            -DincludeScope=runtime >"$STACK/logs/maven.log" 2>&1) ||
            die "could not fetch Kafka's jars: $STACK/logs/maven.log"
        touch "$ROOT/deploy/kafka/target/dependency/.complete"
    fi
}

build() {
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${DROVER_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null || die "build failed"
}

# Where PostgreSQL keeps its files: in the stack directory, unless the
# postgres user (root runs it as postgres) cannot reach it, e.g. under a
# 0700 mktemp directory; then in a postgres-owned directory under /var/tmp,
# linked as $STACK/pg. Users' directory permissions are never changed.
pg_home() {
    if [ -L "$STACK/pg" ] || [ -d "$STACK/pg" ]; then
        readlink -f "$STACK/pg"
    elif [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$STACK"; then
        mkdir -p "$STACK/pg"
        echo "$STACK/pg"
    else
        local h; h=/var/tmp/drover-pg/$(printf '%s' "$STACK" | md5sum | cut -c1-16)
        mkdir -p "$h"
        ln -sfn "$h" "$STACK/pg"
        echo "$h"
    fi
}

start_postgres() {
    [ -n "${DROVER_PG_CONNINFO:-}" ] && return 0
    local home; home=$(pg_home)
    local data=$home/data
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating a private PostgreSQL cluster in $data"
        mkdir -p "$data" "$home/sock"
        chown "$(pg_os_user)" "$home" "$data" "$home/sock"
        chmod 700 "$data"
        as_pg "$PGBIN/initdb" -D "$data" -U drover --auth=trust -E UTF8 \
            >"$home/initdb.log" 2>&1 || die "initdb failed: $home/initdb.log"
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        port_free_or_die "$PG_PORT" pg
        say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_pg "$PGBIN/pg_ctl" -D "$data" -l "$home/postgres.log" -w -t 60 \
            -o "-p $PG_PORT -k $home/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
            start >/dev/null || die "PostgreSQL did not start: $home/postgres.log"
        ln -sf "$home/postgres.log" "$STACK/logs/postgres.log"
    fi
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U drover -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'drover'" | grep -q 1; then
        createdb -h 127.0.0.1 -p "$PG_PORT" -U drover drover || die "createdb failed"
    fi
}

start_kafka() {
    local props=$STACK/kafka/server.properties
    cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STACK/kafka/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
    cat >"$STACK/kafka/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
    if [ ! -f "$STACK/kafka/data/meta.properties" ]; then
        say "formatting the KRaft log directory"
        java -cp "$KAFKA_CP" kafka.tools.StorageTool format -t "$(java -cp "$KAFKA_CP" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
            -c "$props" >"$STACK/logs/kafka-format.log" 2>&1 || die "could not format Kafka's log dir"
    fi
    if ! pid_alive "$STACK/run/kafka.pid"; then
        port_free_or_die "$KAFKA_PORT" kafka
        port_free_or_die "$CTRL_PORT" kafka
        say "starting Kafka (KRaft) on 127.0.0.1:$KAFKA_PORT"
        nohup setsid java -Xmx512m -Xms256m -XX:+UseSerialGC \
            -Dlog4j.configuration="file:$STACK/kafka/log4j.properties" \
            -cp "$KAFKA_CP" kafka.Kafka "$props" >>"$STACK/logs/kafka.log" 2>&1 &
        echo $! >"$STACK/run/kafka.pid"
    fi
    wait_for 90 "Kafka" port_open "$KAFKA_PORT"
}

start_podman() {
    local sock=$STACK/podman.sock
    if ! pid_alive "$STACK/run/podman.pid"; then
        say "starting podman's Docker API service on $sock"
        rm -f "$sock"
        # from the stack's directory: conmon leaves an "oom" file in its
        # working directory when a container is OOM-killed
        pushd "$STACK" >/dev/null
        nohup setsid podman --runtime runc system service --time=0 "unix://$sock" \
            >>"$STACK/logs/podman.log" 2>&1 &
        echo $! >"$STACK/run/podman.pid"
        popd >/dev/null
    fi
    wait_for 30 "podman" curl -sf --unix-socket "$sock" http://d/_ping -o /dev/null
    # an image an older version of this script imported may be broken
    # (busybox lists itself among its applets): test it, re-import if so
    if podman image exists "$IMAGE" && ! podman --runtime runc run --rm \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMAGE" /bin/true \
        >/dev/null 2>&1; then
        say "re-importing $IMAGE: the existing one does not run /bin/true"
        podman rmi -f "$IMAGE" >/dev/null
    fi
    if ! podman image exists "$IMAGE"; then
        say "importing $IMAGE (busybox-static)"
        local root; root=$(mktemp -d)
        mkdir -p "$root"/{bin,tmp,proc,sys,dev,etc}
        cp /bin/busybox "$root/bin/busybox"
        for a in $("$root/bin/busybox" --list); do
            [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
        done
        tar -C "$root" -cf "$root.tar" .
        podman import --change 'CMD ["/bin/sh"]' "$root.tar" "$IMAGE" >/dev/null
        rm -rf "$root" "$root.tar"
    fi
}

write_conf() {
    # the private cluster through its unix socket: a round trip costs less
    # than over loopback TCP, and the dispatcher makes many
    local conninfo=${DROVER_PG_CONNINFO:-host=$(pg_home)/sock port=$PG_PORT dbname=drover user=drover}
    cat >"$CONF" <<CONF
# written by deploy/local/up
kafka.bootstrap.servers = 127.0.0.1:$KAFKA_PORT
pg.conninfo = $conninfo
docker.socket = $STACK/podman.sock
worker.log.dir = $STACK/joblogs
# the workers' own policy, matching the containerPolicy of the compute
# environment "local" (ensure_local_queue): host paths below shared/ only,
# no privileged containers
worker.allowed.host.paths = $STACK/shared
worker.allow.privileged = false
topic.partitions = 4
${DROVER_EXTRA_CONF:-}
CONF
}

start_daemon() { # start_daemon NAME BINARY ARGS...
    local name=$1; shift
    if ! pid_alive "$STACK/run/$name.pid"; then
        say "starting $name"
        # a session of its own: Ctrl-C in the shell that ran `up` (or a test
        # harness killing its process group) must not reach the daemons
        DROVER_CONFIG=$CONF nohup setsid "$@" >>"$STACK/logs/$name.log" 2>&1 &
        echo $! >"$STACK/run/$name.pid"
    fi
}

start_drover() {
    DROVER_CONFIG=$CONF "$BIN/drover-dispatcher" --migrate >/dev/null || die "migration failed"
    start_daemon dispatcher "$BIN/drover-dispatcher" \
        --set "metrics.listen=127.0.0.1:$METRICS_PORT"
    for i in $(seq 2 "$DISPATCHERS"); do
        start_daemon "dispatcher-$i" "$BIN/drover-dispatcher" \
            --set "metrics.listen=127.0.0.1:$((METRICS_PORT + i - 1))"
    done
    start_daemon gateway "$BIN/drover-gateway" \
        --set "gateway.listen=127.0.0.1:$GATEWAY_PORT" \
        --set "gateway.access.keys=local:local-secret"
    for i in $(seq 1 "$WORKERS"); do
        start_daemon "worker-$i" "$BIN/drover-worker" --set "worker.id=$STACK_ID-worker-$i" \
            --set worker.compute.environment=local \
            --set "metrics.listen=127.0.0.1:$((METRICS_PORT + 10 + i - 1))" \
            --set "worker.runtime=${DROVER_WORKER_RUNTIME:-container}"
    done
}

drover_cli() { DROVER_CONFIG=$CONF "$BIN/drover" "$@"; }

ensure_local_queue() {
    if ! drover_cli describe-compute-environments --compute-environments local |
        grep -q '"computeEnvironmentName": "local"'; then
        drover_cli create-compute-environment --compute-environment-name local \
            --type UNMANAGED --compute-resources "maxvCpus=${DROVER_CE_VCPUS:-$(nproc)}" \
            --container-policy "{\"allowedHostPaths\": [\"$STACK/shared\"]}" >/dev/null
    fi
    if ! drover_cli describe-job-queues --job-queues default |
        grep -q '"jobQueueName": "default"'; then
        drover_cli create-job-queue --job-queue-name default --priority 1 \
            --compute-environment-order order=1,computeEnvironment=local >/dev/null
    fi
}

stop_pidfile() { # stop_pidfile FILE: SIGTERM, then SIGKILL after 30 s
    local f=$1
    pid_alive "$f" || { rm -f "$f"; return 0; }
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
}

# Daemons of this stack that no pid file knows (a test runner killed before
# its cleanup): found by the DROVER_CONFIG they were started with.
kill_strays() {
    local p
    for p in /proc/[0-9]*; do
        if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "DROVER_CONFIG=$CONF" &&
            { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q 'drover-\(dispatcher\|worker\|gateway\)'; then
            kill -9 "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

stop_all() {
    for f in "$STACK"/run/worker-*.pid "$STACK"/run/dispatcher*.pid "$STACK"/run/gateway.pid; do
        if [ -e "$f" ]; then stop_pidfile "$f"; fi
    done
    stop_pidfile "$STACK/run/kafka.pid"
    stop_pidfile "$STACK/run/podman.pid"
    local data; data=$(readlink -f "$STACK/pg" 2>/dev/null || true)/data
    if [ -f "$data/PG_VERSION" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

stack_up() {
    "$ROOT/deploy/local/setup"
    stack_dirs
    kafka_jars
    build
    start_postgres
    start_kafka
    start_podman
    write_conf
    start_drover
    ensure_local_queue
}
