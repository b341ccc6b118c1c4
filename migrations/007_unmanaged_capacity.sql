-- An UNMANAGED compute environment created without a vCPU budget
-- (neither computeResources.maxvCpus nor unmanagedvCpus, as AWS allows)
-- has the capacity its live workers offer: max_vcpus is NULL then, and
-- the dispatcher sums the workers' heartbeats.
ALTER TABLE compute_environments ALTER COLUMN max_vcpus DROP NOT NULL;
