/* SPDX-License-Identifier: Apache-2.0 */
/* Property-table configuration: see drover/conf.h. */
#include "drover/conf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "drover/err.h"
#include "drover/util.h"

/* T_PATHS: a string, a comma-separated list of clean absolute paths. */
typedef enum { T_STR, T_INT, T_DBL, T_BOOL, T_PATHS } prop_type_t;

typedef struct prop {
    const char *name;
    prop_type_t type;
    const char *def;
    double min, max;
    bool sensitive;
    const char *desc;
} prop_t;

/* The one property table: drives parsing, validation and --help-config. */
static const prop_t props[] = {
    {"kafka.bootstrap.servers", T_STR, "127.0.0.1:19092", 0, 0, false,
     "Kafka brokers (any other kafka.* key goes to librdkafka unchanged)"},
    {"pg.conninfo", T_STR,
     "host=127.0.0.1 port=15432 dbname=drover user=drover", 0, 0, true,
     "PostgreSQL connection string (libpq conninfo or URI)"},
    {"log.level", T_STR, "info", 0, 0, false, "debug, info, warn or error"},
    {"metrics.listen", T_STR, "", 0, 0, false,
     "HOST:PORT where a daemon serves /metrics (Prometheus) and /healthz "
     "(empty: not served)"},
    {"aws.region", T_STR, "local", 0, 0, false, "region shown in ARNs"},
    {"aws.account", T_STR, "000000000000", 0, 0, false,
     "account id shown in ARNs"},
    {"schema.registry.url", T_STR, "", 0, 0, false,
     "schema registry (Confluent REST API) for the Confluent wire format "
     "(empty: Avro single-object encoding)"},
    {"schema.registry.basic.auth", T_STR, "", 0, 0, true,
     "USER:PASSWORD for the schema registry"},
    {"topic.partitions", T_INT, "6", 1, 1000, false,
     "partitions of the topics Drover creates"},
    {"topic.replication", T_INT, "1", 1, 10, false,
     "replication factor of the topics Drover creates"},
    {"dispatcher.batch.size", T_INT, "500", 1, 100000, false,
     "messages applied in one PostgreSQL transaction"},
    {"dispatcher.poll.ms", T_INT, "100", 1, 10000, false,
     "longest wait for a message before a scheduling pass"},
    {"dispatcher.migrate", T_BOOL, "true", 0, 0, false,
     "apply database migrations on start"},
    {"dispatcher.worker.lease.ms", T_INT, "30000", 1000, 86400000, false,
     "a worker silent this long loses its attempts (host lost; retried "
     "where the retry strategy allows)"},
    {"dispatcher.worker.key.master", T_STR, "", 0, 0, true,
     "secret (64 hex digits) from which each worker's signing key is "
     "derived (drover-dispatcher --worker-key CE ID prints one); when set, "
     "a report or heartbeat is applied only if signed with the key of the "
     "worker and compute environment it names (empty: reports are not "
     "authenticated, a warning at start)"},
    {"dispatcher.dependency.grace.ms", T_INT, "10000", 0, 3600000, false,
     "a job whose dependency was never submitted fails no sooner than this "
     "after it was recorded (and only once every submission is consumed): "
     "a producer's records in flight may land out of order"},
    {"provisioner.enabled", T_BOOL, "true", 0, 0, false,
     "run the provisioner in this dispatcher: it computes MANAGED compute "
     "environments' desiredvCpus and starts and stops their workers (one "
     "dispatcher of a cluster does, holding a lock of its own)"},
    {"provisioner.interval.ms", T_INT, "1000", 100, 60000, false,
     "how often desired capacity is computed and workers reconciled"},
    {"provisioner.default", T_STR, "external", 0, 0, false,
     "provisioner of a MANAGED compute environment without the tag "
     "drover:provisioner: process, container or external (desiredvCpus "
     "only, for an autoscaler of your own)"},
    {"provisioner.sizes", T_STR, "default=1/2048", 0, 0, false,
     "worker sizes, NAME=VCPUS/MEMORY_MIB[/GPUS] comma separated: a MANAGED "
     "compute environment's instanceTypes name them"},
    {"provisioner.size.default", T_STR, "default", 0, 0, false,
     "the size of instanceTypes \"optimal\" (or none given)"},
    {"provisioner.idle.seconds", T_INT, "300", 0, 86400, false,
     "a provisioned worker idle this long is drained and removed when "
     "desired capacity no longer needs it"},
    {"provisioner.register.seconds", T_INT, "120", 1, 3600, false,
     "a started worker that sends no heartbeat this long is killed and "
     "counted as failed"},
    {"provisioner.drain.seconds", T_INT, "600", 1, 86400, false,
     "a worker told to stop (SIGTERM) may finish its attempts this long "
     "(its worker.drain.timeout.seconds); it is killed 30 s later"},
    {"provisioner.worker.config", T_STR, "", 0, 0, false,
     "configuration file a provisioned worker includes ({ce}: its compute "
     "environment's name), with that environment's Kafka credentials; "
     "the provisioner adds its id, key and size"},
    {"provisioner.dir", T_STR, "", 0, 0, false,
     "directory (absolute) for provisioned workers' files: configuration "
     "(0600), pid and log"},
    {"provisioner.worker.id.prefix", T_STR, "", 0, 0, false,
     "prefix of provisioned workers' ids (<prefix><ce>-<n>)"},
    {"provisioner.container.image", T_STR, "localhost/drover:latest", 0, 0,
     false,
     "the image the container provisioner runs drover-worker from (Drover's "
     "image, deploy/docker/Dockerfile), through docker.socket"},
    {"provisioner.container.network", T_STR, "", 0, 0, false,
     "network of the container provisioner's workers (empty: the engine's "
     "default; host: the host's)"},
    {"provisioner.container.binds", T_STR, "", 0, 0, false,
     "more mounts of the container provisioner's workers, HOST:CONTAINER[:ro] "
     "comma separated (their log and secrets directories)"},
    {"provisioner.kubernetes.api", T_STR, "https://kubernetes.default.svc",
     0, 0, false,
     "the Kubernetes API the kubernetes provisioner scales Deployments "
     "through"},
    {"provisioner.kubernetes.namespace", T_STR, "", 0, 0, false,
     "namespace of the workers' Deployment (empty: the dispatcher pod's "
     "own, from its service account)"},
    {"provisioner.kubernetes.deployment", T_STR, "drover-worker", 0, 0,
     false,
     "the workers' Deployment ({ce}: the compute environment's name); its "
     "pods' worker.id must be their names"},
    {"provisioner.kubernetes.token.file", T_STR,
     "/var/run/secrets/kubernetes.io/serviceaccount/token", 0, 0, false,
     "bearer token for the Kubernetes API, read at each call"},
    {"provisioner.kubernetes.ca.file", T_STR,
     "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", 0, 0, false,
     "CA certificate of the Kubernetes API"},
    {"provisioner.process.command", T_STR, "", 0, 0, false,
     "the drover-worker the process provisioner runs (default: the one "
     "beside drover-dispatcher)"},
    {"queue.time.limit.min.seconds", T_INT, "600", 1, 86400, false,
     "smallest jobStateTimeLimitActions maxTimeSeconds accepted (AWS: 600)"},
    {"job.timeout.min.seconds", T_INT, "60", 1, 86400, false,
     "smallest attemptDurationSeconds accepted (AWS: 60)"},
    {"worker.id", T_STR, "", 0, 0, false,
     "worker identity; keep it stable across restarts so a restarted "
     "worker removes the containers it left (default: <hostname>-<pid>)"},
    {"worker.compute.environment", T_STR, "local", 0, 0, false,
     "compute environment whose run topic this worker serves"},
    {"worker.runtime", T_STR, "container", 0, 0, false,
     "container (the Docker Engine API), process (the command as a child "
     "process in a cgroup with the job's limits, no image: trusted work "
     "only) or hollow (every protocol step, no work: benchmarks only)"},
    {"worker.vcpus", T_DBL, "0", 0, 4096, false,
     "vCPUs this worker offers (0: the host's CPU count)"},
    {"worker.memory.mib", T_INT, "0", 0, 1LL << 30, false,
     "memory this worker offers in MiB (0: the host's memory)"},
    {"worker.gpus", T_STR, "", 0, 0, false,
     "the GPUs this worker gives jobs: device ids (indexes or UUIDs), "
     "comma-separated; none: no GPUs (default: those nvidia-smi -L lists)"},
    {"worker.gpu.request", T_STR, "docker", 0, 0, false,
     "how a container is given its GPUs: docker (DeviceRequests with "
     "DeviceIDs, the nvidia driver) or cdi (the CDI devices "
     "nvidia.com/gpu=ID, as Podman takes them)"},
    {"worker.heartbeat.ms", T_INT, "3000", 100, 600000, false,
     "interval between worker heartbeats"},
    {"worker.stop.grace.seconds", T_INT, "30", 0, 3600, false,
     "seconds between SIGTERM and SIGKILL when stopping a container"},
    {"worker.drain.timeout.seconds", T_INT, "0", 0, 86400, false,
     "on SIGTERM, how long running attempts may finish before they are "
     "stopped and handed back for retry (0: no limit)"},
    {"worker.capabilities", T_STR, "", 0, 0, false,
     "Linux capabilities kept in containers, e.g. CHOWN,SETUID (default: "
     "none; privileged jobs, where allowed, keep all)"},
    {"worker.key", T_STR, "", 0, 0, true,
     "this worker's signing key (64 hex digits, from drover-dispatcher "
     "--worker-key): it signs every report and heartbeat"},
    {"worker.allow.privileged", T_BOOL, "false", 0, 0, false,
     "run privileged containers on this host (the operator's word: a job a "
     "compute environment allows privileged is still refused here unless "
     "this is true)"},
    {"worker.allowed.host.paths", T_PATHS, "", 0, 0, false,
     "directories (comma separated, absolute) below which jobs may mount "
     "host paths on this host, resolved through no symlink (default: none)"},
    {"worker.pids.limit", T_INT, "1024", 16, 1LL << 22, false,
     "pids limit of every container"},
    {"worker.log.dir", T_STR, "", 0, 0, false,
     "directory for captured job output (empty: not kept)"},
    {"worker.scratch.dir", T_STR, "", 0, 0, false,
     "directory (absolute) in which the process runtime makes each "
     "attempt's working directory, removed afterwards (default: TMPDIR, "
     "else /tmp); a tmpfs is cheapest, and what a job writes to a tmpfs "
     "counts against its memory limit"},
    {"worker.secrets.dir", T_STR, "", 0, 0, false,
     "secret store of this compute environment: one file per secret, named "
     "as a definition's secrets[].valueFrom (empty: secrets refused)"},
    {"gateway.listen", T_STR, "127.0.0.1:9080", 0, 0, false,
     "HOST:PORT where drover-gateway serves the AWS Batch API"},
    {"gateway.auth", T_BOOL, "true", 0, 0, false,
     "verify AWS Signature Version 4 on every request"},
    {"gateway.access.keys", T_STR, "", 0, 0, true,
     "KEY:SECRET pairs (comma separated) accepted by drover-gateway"},
    {"gateway.clients", T_INT, "32", 1, 1024, false,
     "clients drover-gateway's requests share (each a PostgreSQL session "
     "and a Kafka producer); a request waits for a free one"},
    {"gateway.connections.max", T_INT, "256", 1, 65536, false,
     "connections drover-gateway holds at once (a thread each); "
     "more are refused"},
    {"gateway.connections.per.address", T_INT, "32", 0, 65536, false,
     "connections drover-gateway holds at once from one client address "
     "(0: no limit)"},
    {"gateway.idle.timeout.seconds", T_INT, "10", 1, 3600, false,
     "drover-gateway closes a connection idle this long"},
    {"gateway.header.timeout.seconds", T_INT, "10", 1, 3600, false,
     "drover-gateway closes a connection whose request line and headers "
     "have not all arrived this long after the request began, however "
     "slowly they trickle in"},
    {"gateway.connection.memory.bytes", T_INT, "32768", 4096, 16777216, false,
     "memory for one connection's request line and headers in "
     "drover-gateway; larger headers are refused"},
    {"gateway.body.timeout.seconds", T_INT, "30", 1, 3600, false,
     "drover-gateway cuts a request whose body is still arriving this long "
     "after its headers"},
    {"docker.socket", T_STR, "/var/run/docker.sock", 0, 0, false,
     "unix socket of the Docker Engine API (or Podman's)"},
    {"docker.api.version", T_STR, "v1.41", 0, 0, false,
     "Docker Engine API version prefix"},
};

typedef struct kv {
    char *name, *value;
} kv_t;

struct drv_conf {
    char *values[DRV_ARRAY_SIZE(props)];
    kv_t *kafka;
    size_t kafka_cnt;
};

static int find_prop(const char *name)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        if (strcmp(props[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

drv_conf_t *drv_conf_new(void)
{
    drv_conf_t *conf = drv_calloc(1, sizeof(*conf));
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        conf->values[i] = drv_strdup(props[i].def);
    }
    return conf;
}

drv_conf_t *drv_conf_dup(const drv_conf_t *conf)
{
    drv_conf_t *c = drv_calloc(1, sizeof(*c));
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        c->values[i] = drv_strdup(conf->values[i]);
    }
    for (size_t i = 0; i < conf->kafka_cnt; i++) {
        drv_conf_set(c, conf->kafka[i].name, conf->kafka[i].value, NULL, 0);
    }
    return c;
}

void drv_conf_destroy(drv_conf_t *conf)
{
    if (!conf) {
        return;
    }
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        free(conf->values[i]);
    }
    for (size_t i = 0; i < conf->kafka_cnt; i++) {
        free(conf->kafka[i].name);
        free(conf->kafka[i].value);
    }
    free(conf->kafka);
    free(conf);
}

static drv_conf_res_t check_paths(const prop_t *p, const char *value,
                                  char *errstr, size_t errstr_size)
{
    char *copy = drv_strdup(value);
    drv_conf_res_t res = DRV_CONF_OK;
    for (char *sv, *t = strtok_r(copy, ", ", &sv); t && res == DRV_CONF_OK;
         t = strtok_r(NULL, ", ", &sv)) {
        if (!drv_path_is_clean(t)) {
            drv_errstr_set(errstr, errstr_size,
                           "invalid value \"%s\" for \"%s\": \"%s\" is not "
                           "an absolute path without \".\", \"..\" or empty "
                           "components",
                           value, p->name, t);
            res = DRV_CONF_INVALID;
        }
    }
    free(copy);
    return res;
}

static drv_conf_res_t check_value(const prop_t *p, const char *value,
                                  char *errstr, size_t errstr_size)
{
    int64_t iv;
    double dv;
    switch (p->type) {
    case T_STR:
        return DRV_CONF_OK;
    case T_PATHS:
        return check_paths(p, value, errstr, errstr_size);
    case T_INT:
        if (drv_parse_int64(value, (int64_t)p->min, (int64_t)p->max, &iv) == 0) {
            return DRV_CONF_OK;
        }
        drv_errstr_set(errstr, errstr_size,
                       "invalid value \"%s\" for \"%s\": expected an integer "
                       "from %.0f to %.0f",
                       value, p->name, p->min, p->max);
        return DRV_CONF_INVALID;
    case T_DBL:
        if (drv_parse_double(value, p->min, p->max, &dv) == 0) {
            return DRV_CONF_OK;
        }
        drv_errstr_set(errstr, errstr_size,
                       "invalid value \"%s\" for \"%s\": expected a number "
                       "from %g to %g",
                       value, p->name, p->min, p->max);
        return DRV_CONF_INVALID;
    case T_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false")) {
            return DRV_CONF_OK;
        }
        drv_errstr_set(errstr, errstr_size,
                       "invalid value \"%s\" for \"%s\": expected true or "
                       "false",
                       value, p->name);
        return DRV_CONF_INVALID;
    }
    return DRV_CONF_INVALID;
}

static void set_kafka(drv_conf_t *conf, const char *name, const char *value)
{
    for (size_t i = 0; i < conf->kafka_cnt; i++) {
        if (strcmp(conf->kafka[i].name, name) == 0) {
            free(conf->kafka[i].value);
            conf->kafka[i].value = drv_strdup(value);
            return;
        }
    }
    kv_t *n = realloc(conf->kafka, (conf->kafka_cnt + 1) * sizeof(*n));
    if (!n) {
        abort();
    }
    conf->kafka = n;
    conf->kafka[conf->kafka_cnt].name = drv_strdup(name);
    conf->kafka[conf->kafka_cnt].value = drv_strdup(value);
    conf->kafka_cnt++;
}

drv_conf_res_t drv_conf_set(drv_conf_t *conf, const char *name,
                            const char *value, char *errstr,
                            size_t errstr_size)
{
    int i = find_prop(name);
    if (i < 0) {
        if (drv_str_has_prefix(name, "kafka.") && name[6]) {
            set_kafka(conf, name, value);
            return DRV_CONF_OK;
        }
        drv_errstr_set(errstr, errstr_size,
                       "unknown configuration key \"%s\"", name);
        return DRV_CONF_UNKNOWN;
    }
    drv_conf_res_t res = check_value(&props[i], value, errstr, errstr_size);
    if (res != DRV_CONF_OK) {
        return res;
    }
    free(conf->values[i]);
    conf->values[i] = drv_strdup(value);
    return DRV_CONF_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

/* `include = PATH` reads another file at that point (a later line
 * overrides it); a relative PATH is taken from the including file's
 * directory. */
#define CONF_INCLUDE_DEPTH 8

static int load_file(drv_conf_t *conf, const char *path, int depth,
                     char *errstr, size_t errstr_size)
{
    char inner[DRV_ERRSTR_SIZE];
    if (depth > CONF_INCLUDE_DEPTH) {
        drv_errstr_set(errstr, errstr_size,
                       "%s: includes nest deeper than %d files", path,
                       CONF_INCLUDE_DEPTH);
        return -1;
    }
    char *text = drv_read_file(path, NULL, errstr, errstr_size);
    if (!text) {
        return -1;
    }
    int ret = -1, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *l = trim(line);
        if (!*l) {
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            drv_errstr_set(errstr, errstr_size,
                           "%s:%d: expected \"key = value\"", path, lineno);
            goto out;
        }
        *eq = '\0';
        const char *key = trim(l), *value = trim(eq + 1);
        if (!strcmp(key, "include")) {
            char full[4096];
            const char *slash = strrchr(path, '/');
            if (value[0] != '/' && slash) {
                snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - path),
                         path, value);
            } else {
                snprintf(full, sizeof(full), "%s", value);
            }
            if (load_file(conf, full, depth + 1, inner, sizeof(inner)) != 0) {
                drv_errstr_set(errstr, errstr_size, "%s:%d: %s", path, lineno,
                               inner);
                goto out;
            }
            continue;
        }
        if (drv_conf_set(conf, key, value, inner, sizeof(inner)) !=
            DRV_CONF_OK) {
            drv_errstr_set(errstr, errstr_size, "%s:%d: %s", path, lineno,
                           inner);
            goto out;
        }
    }
    ret = 0;
out:
    free(text);
    return ret;
}

int drv_conf_load_file(drv_conf_t *conf, const char *path, char *errstr,
                       size_t errstr_size)
{
    return load_file(conf, path, 0, errstr, errstr_size);
}

/* DRV_KAFKA_BOOTSTRAP_SERVERS -> kafka.bootstrap.servers */
static void env_to_key(const char *env, char *key, size_t size)
{
    size_t i = 0;
    for (; env[i] && i + 1 < size; i++) {
        key[i] = env[i] == '_' ? '.' : (char)tolower((unsigned char)env[i]);
    }
    key[i] = '\0';
}

int drv_conf_load_env(drv_conf_t *conf, char *errstr, size_t errstr_size)
{
    extern char **environ;
    char key[256], inner[DRV_ERRSTR_SIZE];
    for (char **e = environ; *e; e++) {
        if (!drv_str_has_prefix(*e, "DRV_")) {
            continue;
        }
        const char *eq = strchr(*e, '=');
        if (!eq || (size_t)(eq - *e - 4) >= sizeof(key)) {
            continue;
        }
        char envname[256];
        snprintf(envname, sizeof(envname), "%.*s", (int)(eq - *e - 4), *e + 4);
        env_to_key(envname, key, sizeof(key));
        drv_conf_res_t r = drv_conf_set(conf, key, eq + 1, inner, sizeof(inner));
        if (r == DRV_CONF_INVALID) {
            drv_errstr_set(errstr, errstr_size, "environment DRV_%s: %s",
                           envname, inner);
            return -1;
        }
    }
    return 0;
}

drv_conf_t *drv_conf_load(const char *path, char *errstr, size_t errstr_size)
{
    drv_conf_t *conf = drv_conf_new();
    if (!path || !*path) {
        path = getenv("DROVER_CONFIG");
    }
    if (path && *path &&
        drv_conf_load_file(conf, path, errstr, errstr_size) != 0) {
        drv_conf_destroy(conf);
        return NULL;
    }
    if (drv_conf_load_env(conf, errstr, errstr_size) != 0) {
        drv_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

drv_conf_t *drv_conf_load_sets(const char *path, char *const *sets, int nsets,
                               char *errstr, size_t errstr_size)
{
    char inner[DRV_ERRSTR_SIZE], key[256];
    drv_conf_t *conf = drv_conf_load(path, errstr, errstr_size);
    for (int i = 0; conf && i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof(key)) {
            drv_errstr_set(errstr, errstr_size, "--set %s: expected KEY=VALUE",
                           sets[i]);
            goto fail;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - sets[i]), sets[i]);
        if (drv_conf_set(conf, key, eq + 1, inner, sizeof(inner)) !=
            DRV_CONF_OK) {
            drv_errstr_set(errstr, errstr_size, "--set: %s", inner);
            goto fail;
        }
    }
    return conf;
fail:
    drv_conf_destroy(conf);
    return NULL;
}

const char *drv_conf_get(const drv_conf_t *conf, const char *name)
{
    int i = find_prop(name);
    if (i >= 0) {
        return conf->values[i];
    }
    for (size_t k = 0; k < conf->kafka_cnt; k++) {
        if (strcmp(conf->kafka[k].name, name) == 0) {
            return conf->kafka[k].value;
        }
    }
    return NULL;
}

int64_t drv_conf_get_int(const drv_conf_t *conf, const char *name)
{
    int64_t v = 0;
    const char *s = drv_conf_get(conf, name);
    if (s) {
        drv_parse_int64(s, INT64_MIN, INT64_MAX, &v);
    }
    return v;
}

double drv_conf_get_double(const drv_conf_t *conf, const char *name)
{
    double v = 0;
    const char *s = drv_conf_get(conf, name);
    if (s) {
        drv_parse_double(s, -1e300, 1e300, &v);
    }
    return v;
}

bool drv_conf_get_bool(const drv_conf_t *conf, const char *name)
{
    const char *s = drv_conf_get(conf, name);
    return s && strcmp(s, "true") == 0;
}

int drv_conf_foreach_kafka(const drv_conf_t *conf,
                           int (*cb)(const char *, const char *, void *),
                           void *opaque)
{
    int i = find_prop("kafka.bootstrap.servers");
    int r = cb("bootstrap.servers", conf->values[i], opaque);
    for (size_t k = 0; r == 0 && k < conf->kafka_cnt; k++) {
        r = cb(conf->kafka[k].name + 6, conf->kafka[k].value, opaque);
    }
    return r;
}

void drv_conf_print_help(FILE *fp)
{
    static const char *types[] = {"string", "integer", "number", "boolean",
                                  "string"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        fprintf(fp, "  %-32s %-8s default \"%s\"\n      %s\n", props[i].name,
                types[props[i].type], props[i].def, /* defaults hold no secret */
                props[i].desc);
    }
    fprintf(fp, "  %-32s string   passed to librdkafka unchanged\n",
            "kafka.<property>");
}

static bool is_sensitive_kafka(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") ||
           strstr(name, "key");
}

void drv_conf_dump(const drv_conf_t *conf, FILE *fp)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        fprintf(fp, "%s = %s\n", props[i].name,
                props[i].sensitive ? "********" : conf->values[i]);
    }
    for (size_t k = 0; k < conf->kafka_cnt; k++) {
        fprintf(fp, "%s = %s\n", conf->kafka[k].name,
                is_sensitive_kafka(conf->kafka[k].name) ? "********"
                                                        : conf->kafka[k].value);
    }
}
