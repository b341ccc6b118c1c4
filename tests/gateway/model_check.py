"""Every reply a botocore client receives, checked against the AWS model.

Independent of Drover's C tables: this reads the vendored botocore model
(common/model/batch-2016-08-10.json) itself and walks each raw JSON body
as botocore received it (botocore does not check types; the AWS SDK for
Java does, and fails on an integer written as 1.0).

    import model_check
    checker = model_check.attach(batch_client)
    ...
    checker.assert_clean()     # raises with every mismatch found
"""
import json
import os

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "common", "model", "batch-2016-08-10.json")

# Drover's own members (README, "AWS members"), beside the model's.
EXTENSIONS = {("ComputeEnvironmentDetail", "containerPolicy"),
              ("ComputeEnvironmentDetail", "capacity"),
              ("ComputeResource", "maxMemoryMiB")}
# Enums AWS compares without case (EvaluateOnExit.action).
CASELESS = {"RetryAction"}
# Required in the model, left out by AWS itself until the job starts.
OPTIONAL = {("JobDetail", "startedAt")}


class Checker:
    def __init__(self, model_path=MODEL):
        with open(model_path) as f:
            model = json.load(f)
        self.shapes = model["shapes"]
        self.ops = model["operations"]
        self.replies = 0
        self.mismatches = []

    def check(self, op_name, body):
        self.replies += 1
        out = self.ops[op_name].get("output")
        try:
            value = json.loads(body.decode("utf-8")) if body else {}
        except ValueError as e:
            self.mismatches.append("%s: not JSON: %s" % (op_name, e))
            return
        if out is None:
            if value not in ({}, None):
                self.mismatches.append("%s: returns no members, got %r"
                                       % (op_name, value))
            return
        self._walk(op_name, out["shape"], value, "")

    def _bad(self, op, path, what):
        self.mismatches.append("%s: %s %s" % (op, path or "(reply)", what))

    def _walk(self, op, shape_name, v, path):
        s = self.shapes[shape_name]
        t = s["type"]
        if t == "structure":
            if not isinstance(v, dict):
                return self._bad(op, path, "must be an object")
            members = s["members"]
            for k, mv in v.items():
                p = path + "." + k if path else k
                if k not in members:
                    if (shape_name, k) not in EXTENSIONS:
                        self._bad(op, p, "is not a member of " + shape_name)
                    continue
                if mv is None:
                    self._bad(op, p, "is null")
                    continue
                self._walk(op, members[k]["shape"], mv, p)
            for r in s.get("required", []):
                if r not in v and (shape_name, r) not in OPTIONAL:
                    self._bad(op, (path + "." if path else "") + r,
                              "is required")
        elif t == "list":
            if not isinstance(v, list):
                return self._bad(op, path, "must be a list")
            for i, item in enumerate(v):
                self._walk(op, s["member"]["shape"], item,
                           "%s[%d]" % (path, i))
        elif t == "map":
            if not isinstance(v, dict):
                return self._bad(op, path, "must be a map")
            for k, item in v.items():
                self._walk(op, s["value"]["shape"], item,
                           '%s["%s"]' % (path, k))
        elif t in ("string", "blob"):
            if not isinstance(v, str):
                return self._bad(op, path, "must be a string")
            if shape_name in CASELESS:
                v = v.upper()
            if "enum" in s and v not in s["enum"]:
                self._bad(op, path, "%r is not one of %s" % (v, s["enum"]))
        elif t in ("integer", "long"):
            if isinstance(v, bool) or not isinstance(v, int):
                self._bad(op, path, "must be an integer, not %r" % (v,))
            elif t == "integer" and not -2**31 <= v < 2**31:
                self._bad(op, path, "is out of the int32 range")
        elif t == "boolean":
            if not isinstance(v, bool):
                self._bad(op, path, "must be a boolean")
        elif t in ("double", "float", "timestamp"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self._bad(op, path, "must be a number")

    def assert_clean(self):
        if self.mismatches:
            raise AssertionError("%d reply member(s) do not match the AWS "
                                 "model:\n  %s" % (len(self.mismatches),
                                                  "\n  ".join(
                                                      self.mismatches[:40])))
        if self.replies == 0:
            raise AssertionError("the model checker saw no replies")


def attach(client, checker=None):
    """Check every successful reply of a botocore client."""
    checker = checker or Checker()

    def after_call(http_response, model, **kwargs):
        if http_response is not None and http_response.status_code == 200:
            checker.check(model.name, http_response.content)

    client.meta.events.register("after-call.batch.*", after_call)
    return checker
