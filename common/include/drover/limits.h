/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every limit Drover enforces on input, in one table: the README's
 * "Limits" section lists the same (with where each is checked). Limits
 * AWS Batch documents are AWS's; the others are Drover's own choice.
 */
#ifndef DRV_LIMITS_H
#define DRV_LIMITS_H

/* names and ids (AWS: 1 to 128 letters, digits, - and _) */
#define DRV_NAME_MAX 128            /* jobName, definition, queue, CE names */
#define DRV_JOB_ID_MAX 128          /* a job id (Drover's UUIDs are 36) */
#define DRV_IMAGE_MAX 255           /* containerProperties.image */
#define DRV_WORKER_FIELD_MAX 255    /* a report's worker, container id, log
                                       stream; a heartbeat's names */
#define DRV_REASON_MAX 1024         /* a reason or status reason */
#define DRV_CONTAINER_REASON_MAX 255 /* the container reason a job keeps */
#define DRV_ARN_MAX 512             /* a Batch resource's ARN */
#define DRV_EOE_PATTERN_MAX 512     /* retryStrategy.evaluateOnExit patterns */

/* sizes */
#define DRV_STRING_MAX (64 * 1024)        /* any string in a record */
#define DRV_MESSAGE_MAX (1024 * 1024)     /* one Kafka record Drover reads */
#define DRV_DEFINITION_MAX (24 * 1024)    /* a job definition (AWS) */
#define DRV_SUBMIT_MAX (30 * 1024)        /* a SubmitJob request (AWS) */
#define DRV_JOB_RESOLVED_MAX (64 * 1024)  /* what a job resolves to */
#define DRV_HTTP_BODY_MAX (1024 * 1024)   /* one gateway request body */
#define DRV_JSON_DEPTH_MAX 32             /* nesting of a request's JSON */
#define DRV_REPLY_MAX (16u * 1024 * 1024) /* one API reply, serialized */

/* counts and ranges */
#define DRV_MAX_DEPENDS_ON 20     /* dependsOn entries (AWS) */
#define DRV_ARRAY_SIZE_MIN 2      /* arrayProperties.size (AWS) */
#define DRV_ARRAY_SIZE_MAX 10000
#define DRV_RETRY_ATTEMPTS_MAX 10 /* retryStrategy.attempts 1..10 (AWS) */
#define DRV_PRIORITY_MAX 9999     /* schedulingPriorityOverride 0..9999 */
#define DRV_QUEUE_PRIORITY_MAX 1000 /* a job queue's priority 0..1000 (the
                                       AWS console's) */
#define DRV_LOGIN_FAILS_MAX 10    /* console logins refused per address in
                                     DRV_LOGIN_WINDOW_S, then it waits */
#define DRV_LOGIN_WINDOW_S 300
#define DRV_TAGS_MAX 50           /* tags per resource (AWS) */
#define DRV_CE_VCPUS_MAX 1000000  /* a MANAGED environment's min/max/
                                     desiredvCpus */
#define DRV_INSTANCE_TYPES_MAX 64 /* computeResources.instanceTypes
                                     entries, each at most 64 bytes */
#define DRV_DESCRIBE_JOBS_MAX 100 /* ids per DescribeJobs (AWS) */
#define DRV_VCPUS_MAX 4096        /* a RunJob's vCPUs (as worker.vcpus) */
#define DRV_MEMORY_MIB_MAX (1LL << 30) /* a RunJob's MiB (worker.memory.mib) */
#define DRV_GPUS_MAX 64           /* whole GPUs a job asks for; a worker's */
#define DRV_GPU_ID_MAX 64         /* a GPU's id in worker.gpus (index, UUID) */
#define DRV_HEARTBEAT_PARTITIONS_MAX 1024 /* partitions a heartbeat lists */
#define DRV_PARTITION_MAX (1 << 20)       /* a partition number, exclusive */

/* fair share (AWS) */
#define DRV_SHARE_ID_MAX 255          /* shareIdentifier: alphanumerics, an
                                         optional trailing '*' */
#define DRV_ACTIVE_SHARES_MAX 500     /* shares with unfinished jobs, per queue */
#define DRV_SHARE_RULES_MAX 500       /* fairsharePolicy.shareDistribution */
#define DRV_SHARE_DECAY_MAX 604800    /* shareDecaySeconds 0..604800 (0: 600) */
#define DRV_SHARE_DECAY_DEFAULT 600
#define DRV_COMPUTE_RESERVATION_MAX 99 /* computeReservation 0..99 (%) */
#define DRV_WEIGHT_MIN 0.0001         /* weightFactor 0.0001..999.9999 */
#define DRV_WEIGHT_MAX 999.9999

/* consumable resources */
#define DRV_CONSUMABLES_PER_JOB_MAX 5 /* resources a job needs (AWS) */
#define DRV_CONSUMABLE_QUANTITY_MAX 9007199254740991LL /* 2^53 - 1: exact in
                                         every SDK's JSON numbers */
#define DRV_CONSUMABLE_RESOURCES_MAX 50000 /* AWS: per account */
#define DRV_CLIENT_TOKEN_MAX 64       /* UpdateConsumableResource clientToken */

#endif
