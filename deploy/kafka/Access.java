// SPDX-License-Identifier: Apache-2.0
//
// Grants Drover's roles their Kafka credentials and ACLs through Kafka's own
// Admin API, in one JVM: run with the broker's jars on the class path (Java's
// single-file launcher compiles it in memory):
//
//   java -cp 'deploy/kafka/target/dependency/*' deploy/kafka/Access.java \
//       ADMIN_CLIENT_PROPERTIES < GRANTS
//
// GRANTS has one line per action (blank lines and # comments ignored):
//   user NAME PASSWORD
//       a SCRAM-SHA-512 credential (created or replaced)
//   allow PRINCIPAL TOPIC|GROUP|CLUSTER LITERAL|PREFIXED NAME OP[,OP...]
//       an ACL allowing PRINCIPAL (User:NAME) the operations (READ, WRITE,
//       CREATE, DESCRIBE, ALL, ...) from any host
//
// Everything is idempotent. It returns only once the broker serves what it
// was given: each new user can log in and every ACL is listed by the broker
// (both travel through the metadata log, so a client started right after
// would otherwise race them).
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public final class Access {
    private static final long DEADLINE_MS = 60_000;

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Access ADMIN_CLIENT_PROPERTIES < GRANTS");
            System.exit(2);
        }
        Properties admin = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            admin.load(in);
        }
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        List<String[]> logins = new ArrayList<>();
        List<AclBinding> acls = new ArrayList<>();
        BufferedReader r = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int lineno = 0;
        for (String line; (line = r.readLine()) != null;) {
            lineno++;
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] f = l.split("\\s+");
            if (f[0].equals("user") && f.length == 3) {
                users.add(new UserScramCredentialUpsertion(f[1],
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                        f[2]));
                logins.add(new String[] {f[1], f[2]});
            } else if (f[0].equals("allow") && f.length == 6) {
                ResourcePattern p = new ResourcePattern(
                        ResourceType.fromString(f[2]), f[4],
                        PatternType.fromString(f[3]));
                if (p.resourceType() == ResourceType.UNKNOWN
                        || p.patternType() == PatternType.UNKNOWN) {
                    throw new IllegalArgumentException("line " + lineno + ": " + l);
                }
                for (String op : f[5].split(",")) {
                    AclOperation o = AclOperation.fromString(op);
                    if (o == AclOperation.UNKNOWN) {
                        throw new IllegalArgumentException("line " + lineno
                                + ": unknown operation " + op);
                    }
                    acls.add(new AclBinding(p, new AccessControlEntry(f[1], "*", o,
                            AclPermissionType.ALLOW)));
                }
            } else {
                throw new IllegalArgumentException("line " + lineno + ": " + l);
            }
        }
        try (Admin a = Admin.create(admin)) {
            if (!users.isEmpty()) {
                a.alterUserScramCredentials(users).all().get(30, TimeUnit.SECONDS);
            }
            if (!acls.isEmpty()) {
                a.createAcls(acls).all().get(30, TimeUnit.SECONDS);
                waitForAcls(a, acls);
            }
        }
        for (String[] u : logins) {
            waitForLogin(admin, u[0], u[1]);
        }
    }

    private static void waitForAcls(Admin a, Collection<AclBinding> want)
            throws Exception {
        long end = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            Set<AclBinding> have = new HashSet<>(
                    a.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS));
            if (have.containsAll(want)) {
                return;
            }
            if (System.currentTimeMillis() > end) {
                throw new IllegalStateException("the broker does not list the new ACLs");
            }
            Thread.sleep(100);
        }
    }

    private static void waitForLogin(Properties admin, String user, String password)
            throws Exception {
        Properties p = new Properties();
        p.putAll(admin);
        p.put("sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                + "username=\"" + user + "\" password=\"" + password + "\";");
        p.put("request.timeout.ms", "5000");
        p.put("default.api.timeout.ms", "5000");
        long end = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            try (Admin a = Admin.create(p)) {
                a.describeCluster().clusterId().get(5, TimeUnit.SECONDS);
                return;
            } catch (Exception e) {
                if (System.currentTimeMillis() > end) {
                    throw new IllegalStateException("user " + user + " cannot log in", e);
                }
                Thread.sleep(200);
            }
        }
    }
}
