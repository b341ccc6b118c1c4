# shellcheck shell=bash
# The local stack's building blocks, sourced by up, down and the tests.
# Everything listens on 127.0.0.1. Settings (environment):
#   DROVER_STACK_DIR  where data, logs, sockets and pid files live (.stack)
#   DROVER_KAFKA_PORT Kafka's client port (19092; the controller uses +1)
#   DROVER_KAFKA_ADVERTISED the address Kafka gives its clients (127.0.0.1;
#                     another makes it listen on every address: containers
#                     on a bridge network reach it at the host's address)
#   DROVER_PG_PORT    PostgreSQL's port (15432)
#   DROVER_WORKERS    how many workers serve compute environment "local" (2)
#   DROVER_DISPATCHERS how many dispatchers run: one active, the rest standby (1)
#   DROVER_CE_VCPUS   maxvCpus of compute environment "local" (the CPU count)
#   DROVER_MANAGED_VCPUS maxvCpus of the MANAGED compute environment
#                     "managed", whose workers the dispatcher starts (4)
#   DROVER_PROVISIONER_IDLE seconds a provisioned worker idles before it
#                     is removed (300)
#   DROVER_PROVISIONER_SIZES worker sizes (small=1/1024,medium=2/2048)
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
KAFKA_ADVERTISED=${DROVER_KAFKA_ADVERTISED:-127.0.0.1}
KAFKA_LISTEN=127.0.0.1
[ "$KAFKA_ADVERTISED" = 127.0.0.1 ] || KAFKA_LISTEN=0.0.0.0
PG_PORT=${DROVER_PG_PORT:-15432}
WORKERS=${DROVER_WORKERS:-2}
DISPATCHERS=${DROVER_DISPATCHERS:-1}
METRICS_PORT=${DROVER_METRICS_PORT:-$((KAFKA_PORT + 100))}
GATEWAY_PORT=${DROVER_GATEWAY_PORT:-9080}
MANAGED_VCPUS=${DROVER_MANAGED_VCPUS:-4}
PROVISIONER_IDLE=${DROVER_PROVISIONER_IDLE:-300}
PROVISIONER_SIZES=${DROVER_PROVISIONER_SIZES:-small=1/1024,medium=2/2048}
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
            -o "-p $PG_PORT -k $home/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 ${DROVER_PG_OPTIONS:-}" \
            start >/dev/null || die "PostgreSQL did not start: $home/postgres.log"
        ln -sf "$home/postgres.log" "$STACK/logs/postgres.log"
    fi
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U drover -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'drover'" | grep -q 1; then
        createdb -h 127.0.0.1 -p "$PG_PORT" -U drover drover || die "createdb failed"
    fi
}

# ---- Kafka's credentials -------------------------------------------------
# Every client authenticates (SASL/SCRAM-SHA-512) as its role, and ACLs
# (StandardAuthorizer, nothing allowed unless granted) give each role only
# its topics:
#   admin       super user: this script's own tools, tests' inspection
#   dispatcher  every drover.* topic, its consumer group
#   operator    the CLI, the gateway and other submitters: writes (and
#               creates) drover.submit.*, creates run and control topics
#               for new compute environments, reads drover.events
#   observer    status consumers: reads drover.events
#   worker.CE   the workers of compute environment CE: read drover.run.CE
#               and drover.control.CE, write drover.status and drover.dlq
# Each worker also signs what it writes with a key of its own, derived from
# the dispatcher's master secret (dispatcher.worker.key.master).
# Passwords are made once per stack, kept in $STACK/kafka/secrets (0600).

kafka_secret() { # kafka_secret NAME [BYTES]: a secret of this stack, made on first use
    local f=$STACK/kafka/secrets/$1
    if [ ! -s "$f" ]; then
        mkdir -p "$STACK/kafka/secrets"
        chmod 700 "$STACK/kafka/secrets"
        (umask 077; od -An -tx1 -N"${2:-24}" /dev/urandom | tr -d ' \n' >"$f")
    fi
    cat "$f"
}

# Grants (deploy/kafka/Access.java's input) of one compute environment's
# workers.
kafka_grants_ce() {
    local ce=$1 u="User:worker.$1"
    cat <<G
user worker.$ce $(kafka_secret "worker.$ce")
allow $u TOPIC LITERAL drover.run.$ce READ,DESCRIBE
allow $u TOPIC LITERAL drover.control.$ce READ,DESCRIBE
allow $u TOPIC LITERAL drover.status WRITE,DESCRIBE
allow $u TOPIC LITERAL drover.dlq WRITE,DESCRIBE
allow $u GROUP LITERAL drover-worker.$ce READ
allow $u GROUP PREFIXED drover-worker-control.$ce. READ
G
}

kafka_grants() {
    cat <<G
user dispatcher $(kafka_secret dispatcher)
allow User:dispatcher TOPIC PREFIXED drover. ALL
allow User:dispatcher GROUP LITERAL drover-dispatcher ALL
user operator $(kafka_secret operator)
allow User:operator TOPIC PREFIXED drover.submit. WRITE,DESCRIBE,CREATE
allow User:operator TOPIC PREFIXED drover.run. CREATE,DESCRIBE
allow User:operator TOPIC PREFIXED drover.control. CREATE,DESCRIBE
allow User:operator TOPIC LITERAL drover.events READ,DESCRIBE
allow User:operator GROUP PREFIXED drover-watch- READ
user observer $(kafka_secret observer)
allow User:observer TOPIC LITERAL drover.events READ,DESCRIBE
allow User:observer GROUP PREFIXED drover-watch- READ
G
    kafka_grants_ce local
}

kafka_admin_props() {
    local f=$STACK/kafka/admin.properties
    (umask 077; cat >"$f" <<P
bootstrap.servers=127.0.0.1:$KAFKA_PORT
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(kafka_secret admin)";
P
)
    echo "$f"
}

# Apply grants (stdin) as admin: idempotent, returns once the broker serves
# them.
kafka_apply_grants() {
    java -cp "$KAFKA_CP" "$ROOT/deploy/kafka/Access.java" "$(kafka_admin_props)" \
        >>"$STACK/logs/kafka-access.log" 2>&1 ||
        die "could not grant Kafka credentials and ACLs: $STACK/logs/kafka-access.log"
}

# The credentials and ACLs of the stack's roles and of compute environment
# "local"; once per stack (a marker), since they live in Kafka's metadata.
kafka_access() {
    [ -f "$STACK/kafka/granted" ] && return 0
    say "granting Kafka credentials and ACLs per role"
    kafka_grants | kafka_apply_grants
    touch "$STACK/kafka/granted" "$STACK/kafka/granted.local"
}

# kafka_access_ce CE: the credentials and ACLs of CE's workers, once.
kafka_access_ce() {
    [ -f "$STACK/kafka/granted.$1" ] && return 0
    kafka_grants_ce "$1" | kafka_apply_grants
    touch "$STACK/kafka/granted.$1"
}

start_kafka() {
    local props=$STACK/kafka/server.properties
    # a log directory formatted before the stack had credentials has no
    # admin user: format it again (what Kafka held is lost; job state is
    # in PostgreSQL)
    if [ -f "$STACK/kafka/data/meta.properties" ] && [ ! -s "$STACK/kafka/secrets/admin" ]; then
        say "Kafka's log directory predates its credentials: formatting it again"
        rm -rf "$STACK/kafka/data" "$STACK/kafka/granted"*
    fi
    local admin_pw controller_pw
    admin_pw=$(kafka_secret admin)
    controller_pw=$(kafka_secret controller)
    (umask 077; cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CTRL_PORT
listeners=BROKER://$KAFKA_LISTEN:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CTRL_PORT
advertised.listeners=BROKER://$KAFKA_ADVERTISED:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=BROKER
listener.security.protocol.map=BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
# clients: SCRAM users kept in the metadata log; the controller's own
# listener: PLAIN with one static user (KRaft cannot use SCRAM there)
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.broker.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.broker.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_pw";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$controller_pw" user_controller="$controller_pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
log.dirs=$STACK/kafka/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
)
    cat >"$STACK/kafka/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
    if [ ! -f "$STACK/kafka/data/meta.properties" ]; then
        say "formatting the KRaft log directory"
        java -cp "$KAFKA_CP" kafka.tools.StorageTool format -t "$(java -cp "$KAFKA_CP" kafka.tools.StorageTool random-uuid 2>/dev/null)" \
            -c "$props" --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_pw]" \
            >"$STACK/logs/kafka-format.log" 2>&1 || die "could not format Kafka's log dir"
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
    mkdir -p "$STACK/conf"
    chmod 700 "$STACK/conf"
    # what every process shares, as the operator role (the CLI, the
    # gateway, tests); the other roles' files include it
    (umask 077; cat >"$CONF" <<CONF
# written by deploy/local/up: the operator's credentials (0600)
kafka.bootstrap.servers = 127.0.0.1:$KAFKA_PORT
kafka.security.protocol = SASL_PLAINTEXT
kafka.sasl.mechanisms = SCRAM-SHA-512
kafka.sasl.username = operator
kafka.sasl.password = $(kafka_secret operator)
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
    # the provisioner of MANAGED compute environments (ensure_managed_ce)
    role_conf dispatcher "dispatcher.worker.key.master = $(kafka_secret worker-key-master 32)
provisioner.dir = $STACK/provisioned
provisioner.worker.config = $STACK/conf/provision-{ce}.conf
provisioner.worker.id.prefix = $STACK_ID-
provisioner.sizes = $PROVISIONER_SIZES
provisioner.size.default = small
provisioner.idle.seconds = $PROVISIONER_IDLE"
    role_conf admin
    role_conf observer
)
}

role_conf() { # role_conf ROLE [EXTRA LINE]: $STACK/conf/ROLE.conf
    (umask 077; cat >"$STACK/conf/$1.conf" <<C
include = $CONF
kafka.sasl.username = $1
kafka.sasl.password = $(kafka_secret "$1")
${2:-}
C
)
}

# worker_conf CE ID: writes the configuration of worker ID of compute
# environment CE (its role's Kafka credentials, granted on first use, and
# its own signing key) and prints its path.
worker_conf() {
    local ce=$1 id=$2 f=$STACK/conf/worker-$2.conf key
    kafka_access_ce "$ce"
    key=$("$BIN/drover-dispatcher" --config "$STACK/conf/dispatcher.conf" --worker-key "$ce/$id") ||
        die "could not derive the signing key of worker $id"
    (umask 077; cat >"$f" <<C
include = $CONF
kafka.sasl.username = worker.$ce
kafka.sasl.password = $(kafka_secret "worker.$ce")
worker.id = $id
worker.compute.environment = $ce
worker.key = $key
C
)
    echo "$f"
}

start_daemon() { # start_daemon NAME BINARY ARGS...
    local name=$1; shift
    if ! pid_alive "$STACK/run/$name.pid"; then
        say "starting $name"
        # a session of its own: Ctrl-C in the shell that ran `up` (or a test
        # harness killing its process group) must not reach the daemons
        DROVER_CONFIG=${DAEMON_CONF:-$CONF} nohup setsid "$@" >>"$STACK/logs/$name.log" 2>&1 &
        echo $! >"$STACK/run/$name.pid"
    fi
}

# start_worker NAME CE ID [--set K=V]...: a worker with its own credentials
start_worker() {
    local name=$1 ce=$2 id=$3 f
    shift 3
    pid_alive "$STACK/run/$name.pid" && return 0
    f=$(worker_conf "$ce" "$id")
    DAEMON_CONF=$f start_daemon "$name" "$BIN/drover-worker" "$@"
}

start_drover() {
    local dconf=$STACK/conf/dispatcher.conf
    DROVER_CONFIG=$dconf "$BIN/drover-dispatcher" --migrate >/dev/null || die "migration failed"
    DAEMON_CONF=$dconf start_daemon dispatcher "$BIN/drover-dispatcher" \
        --set "metrics.listen=127.0.0.1:$METRICS_PORT"
    for i in $(seq 2 "$DISPATCHERS"); do
        DAEMON_CONF=$dconf start_daemon "dispatcher-$i" "$BIN/drover-dispatcher" \
            --set "metrics.listen=127.0.0.1:$((METRICS_PORT + i - 1))"
    done
    start_daemon gateway "$BIN/drover-gateway" \
        --set "gateway.listen=127.0.0.1:$GATEWAY_PORT" \
        --set "gateway.access.keys=local:local-secret"
    for i in $(seq 1 "$WORKERS"); do
        start_worker "worker-$i" local "$STACK_ID-worker-$i" \
            --set "metrics.listen=127.0.0.1:$((METRICS_PORT + 10 + i - 1))" \
            --set "worker.runtime=${DROVER_WORKER_RUNTIME:-container}"
    done
}

drover_cli() { DROVER_CONFIG=$CONF "$BIN/drover" "$@"; }

ensure_local_queue() {
    if ! drover_cli describe-compute-environments --compute-environments local |
        grep -q '"computeEnvironmentName": "local"'; then
        drover_cli create-compute-environment --compute-environment-name local \
            --type UNMANAGED --unmanagedv-cpus "${DROVER_CE_VCPUS:-$(nproc)}" \
            --container-policy "{\"allowedHostPaths\": [\"$STACK/shared\"]}" >/dev/null
    fi
    if ! drover_cli describe-job-queues --job-queues default |
        grep -q '"jobQueueName": "default"'; then
        drover_cli create-job-queue --job-queue-name default --priority 1 \
            --compute-environment-order order=1,computeEnvironment=local >/dev/null
    fi
}

# provision_conf CE: what the provisioner's workers of MANAGED compute
# environment CE include (its role's Kafka credentials, granted here).
provision_conf() {
    local ce=$1 f=$STACK/conf/provision-$1.conf
    kafka_access_ce "$ce"
    (umask 077; cat >"$f" <<C
# written by deploy/local/up: included by the workers the provisioner starts
include = $CONF
kafka.sasl.username = worker.$ce
kafka.sasl.password = $(kafka_secret "worker.$ce")
worker.runtime = ${DROVER_WORKER_RUNTIME:-container}
C
)
}

# A MANAGED compute environment "managed" (0 to MANAGED_VCPUS vCPUs, the
# process provisioner) and its queue "managed": workers start as jobs come
# and go away once idle.
ensure_managed_ce() {
    provision_conf managed
    if ! drover_cli describe-compute-environments --compute-environments managed |
        grep -q '"computeEnvironmentName": "managed"'; then
        drover_cli create-compute-environment --compute-environment-name managed \
            --type MANAGED --tags '{"drover:provisioner": "process"}' \
            --compute-resources "{\"type\": \"EC2\", \"minvCpus\": 0, \"maxvCpus\": $MANAGED_VCPUS, \"instanceTypes\": [\"optimal\"], \"instanceRole\": \"drover-worker\", \"subnets\": []}" \
            --container-policy "{\"allowedHostPaths\": [\"$STACK/shared\"]}" >/dev/null
    fi
    if ! drover_cli describe-job-queues --job-queues managed |
        grep -q '"jobQueueName": "managed"'; then
        drover_cli create-job-queue --job-queue-name managed --priority 1 \
            --compute-environment-order order=1,computeEnvironment=managed >/dev/null
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
        if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qF "DROVER_CONFIG=$STACK/" &&
            { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q 'drover-\(dispatcher\|worker\|gateway\)'; then
            kill -9 "${p#/proc/}" 2>/dev/null || true
        fi
    done
}

stop_all() {
    # the dispatchers first: their provisioner would replace the workers
    # it started; then those workers (they drain)
    for f in "$STACK"/run/worker-*.pid "$STACK"/run/dispatcher*.pid "$STACK"/run/gateway.pid \
        "$STACK"/provisioned/*.pid; do
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
    write_conf
    kafka_access
    start_podman
    start_drover
    ensure_local_queue
    ensure_managed_ce
}
