"""Permission contract: what shipped code calls vs what its role's synthesized policy grants.

Three parts, each independent of the others:

1. :class:`CallRecorder` records every AWS API call botocore makes (the
   ``provide-client-params`` event sees the parameters exactly as the code passed them),
   while shipped code runs against moto in the contract tests.
2. :func:`accesses_for` maps a recorded call to the IAM request(s) AWS authorizes for it:
   action, resource ARN and the request's condition context (e.g. ``s3:prefix``,
   ``cloudwatch:namespace``). A call with no mapping is an error, so a new call cannot
   slip past the contract. Kafka operations under MSK IAM are not botocore calls; they
   are built from configuration with :func:`kafka_accesses`.
3. :class:`ResolvedTemplate` turns the synthesized template's CloudFormation intrinsics
   (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``)
   into concrete names and ARNs with a placeholder account/region, and
   :func:`evaluate` asks a real IAM policy evaluator, ``@cloud-copilot/iam-simulate``
   (npm, pinned in package.json; run by ``tests/iam_simulate.mjs``), whether the
   role's identity policies allow each request.

The placeholder account and region are moto's defaults, so ARNs of resources created in
moto under the template's resolved names equal the resolved ARNs.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
REPO_ROOT = Path(__file__).resolve().parents[1]
SIMULATOR = REPO_ROOT / "tests" / "iam_simulate.mjs"
#: Placeholder MSK cluster UUID (the part of cluster/topic/group ARNs after the name).
CLUSTER_UUID = "0a1b2c3d-0000-4000-8000-000000000000-2"


# ---- 1. recording ----------------------------------------------------------------------
@dataclass(frozen=True)
class AwsCall:
    """One API call as shipped code made it: botocore service name, operation, params."""

    service: str
    operation: str
    params: Mapping[str, Any]
    #: The error code AWS answered with (moto's answer, i.e. what a caller with full
    #: access is told), or None.
    error: Optional[str] = None

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class CallRecorder:
    """Collects every call made by clients of the sessions/clients it is attached to."""

    calls: List[AwsCall] = field(default_factory=list)

    def _hook(self, params: Dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.calls.append(AwsCall(service, model.name, copy.deepcopy(params)))

    def _after(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        code = (parsed or {}).get("Error", {}).get("Code")
        if code and self.calls and self.calls[-1].operation == model.name:
            last = self.calls[-1]
            self.calls[-1] = AwsCall(last.service, last.operation, last.params, code)

    def attach(self, emitter_owner: Any) -> None:
        """``emitter_owner``: a boto3/botocore session (clients created after this are
        recorded) or a client (``client.meta.events``)."""
        events = emitter_owner.meta.events if hasattr(emitter_owner, "meta") else emitter_owner.events
        events.register("provide-client-params", self._hook, unique_id=f"recorder-{id(self)}")
        events.register("after-call", self._after, unique_id=f"recorder-after-{id(self)}")

    def detach(self, emitter_owner: Any) -> None:
        events = emitter_owner.meta.events if hasattr(emitter_owner, "meta") else emitter_owner.events
        events.unregister("provide-client-params", unique_id=f"recorder-{id(self)}")
        events.unregister("after-call", unique_id=f"recorder-after-{id(self)}")


# ---- 2. calls -> IAM requests ----------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """One IAM authorization request; ``call`` names what made it (for reports)."""

    action: str
    resource: str
    context: Tuple[Tuple[str, str], ...] = ()
    call: str = ""

    def describe(self) -> str:
        ctx = ", ".join(f"{k}={v}" for k, v in self.context)
        return f"{self.call}: {self.action} on {self.resource}" + (f" [{ctx}]" if ctx else "")


def _arn(service: str, resource: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _emr_app(p: Mapping[str, Any]) -> str:
    return _arn("emr-serverless", f"/applications/{p['applicationId']}")


#: (service, operation) -> the IAM requests AWS authorizes for it. Service Authorization
#: Reference: S3 ListObjectsV2 is s3:ListBucket on the bucket with s3:prefix; CloudWatch
#: PutMetricData has no resource type and the cloudwatch:namespace key; StartJobRun passes
#: the execution role (iam:PassRole, iam:PassedToService).
_MAPPING: Dict[Tuple[str, str], Callable[[Mapping[str, Any]], List[Tuple[str, str, Dict[str, str]]]]] = {
    ("s3", "GetObject"): lambda p: [("s3:GetObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", {})],
    ("s3", "PutObject"): lambda p: [("s3:PutObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", {})],
    ("s3", "DeleteObject"): lambda p: [("s3:DeleteObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", {})],
    ("s3", "ListObjectsV2"): lambda p: [
        ("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", {"s3:prefix": p.get("Prefix", "")})
    ],
    ("cloudwatch", "PutMetricData"): lambda p: [
        ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": p["Namespace"]})
    ],
    ("emr-serverless", "ListJobRuns"): lambda p: [("emr-serverless:ListJobRuns", _emr_app(p), {})],
    ("emr-serverless", "StartJobRun"): lambda p: [
        ("emr-serverless:StartJobRun", _emr_app(p), {}),
        ("iam:PassRole", p["executionRoleArn"], {"iam:PassedToService": "emr-serverless.amazonaws.com"}),
    ],
    ("emr-serverless", "GetJobRun"): lambda p: [
        ("emr-serverless:GetJobRun", f"{_emr_app(p)}/jobruns/{p['jobRunId']}", {})
    ],
    ("dynamodb", "PutItem"): lambda p: [
        ("dynamodb:PutItem", _arn("dynamodb", f"table/{p['TableName']}"), {})
    ],
    ("dynamodb", "DeleteItem"): lambda p: [
        ("dynamodb:DeleteItem", _arn("dynamodb", f"table/{p['TableName']}"), {})
    ],
    ("sns", "Publish"): lambda p: [("sns:Publish", p["TopicArn"], {})],
}


def accesses_for(call: AwsCall) -> List[Access]:
    """The IAM requests of one recorded call; KeyError names a call with no mapping."""
    try:
        mapper = _MAPPING[(call.service, call.operation)]
    except KeyError:
        raise KeyError(f"no IAM mapping for {call.name}: add it to tests/permissions.py") from None
    out = [
        Access(action, resource, tuple(sorted(ctx.items())), call.name)
        for action, resource, ctx in mapper(call.params)
    ]
    if call.service == "s3" and call.error in ("NoSuchKey", "404"):
        # Code that relies on hearing "missing" needs S3 to say so: S3 answers 404 only
        # to callers allowed s3:ListBucket on the bucket, 403 AccessDenied to the rest.
        bucket = f"arn:aws:s3:::{call.params['Bucket']}"
        out.append(Access("s3:ListBucket", bucket, (), f"{call.name} of a missing key"))
    return out


def kafka_accesses(
    cluster_arn: str,
    *,
    write_topics: Sequence[str] = (),
    read_topics: Sequence[str] = (),
    group: Optional[str] = None,
    idempotent: bool = False,
) -> List[Access]:
    """MSK IAM requests of a Kafka client (Amazon MSK developer guide, "IAM access control"
    semantics): Connect on the cluster; DescribeTopic + WriteData / ReadData per topic;
    WriteDataIdempotently for an idempotent producer; DescribeGroup + AlterGroup for a
    consumer group."""
    _, _, _, region, account, resource = cluster_arn.split(":", 5)
    _, name, uuid = resource.split("/")

    def topic(t: str) -> str:
        return f"arn:{PARTITION}:kafka:{region}:{account}:topic/{name}/{uuid}/{t}"

    out = [Access("kafka-cluster:Connect", cluster_arn, call="kafka.connect")]
    if idempotent:
        out.append(
            Access("kafka-cluster:WriteDataIdempotently", cluster_arn, call="kafka.produce(idempotent)")
        )
    for t in write_topics:
        out += [
            Access("kafka-cluster:DescribeTopic", topic(t), call=f"kafka.produce({t})"),
            Access("kafka-cluster:WriteData", topic(t), call=f"kafka.produce({t})"),
        ]
    for t in read_topics:
        out += [
            Access("kafka-cluster:DescribeTopic", topic(t), call=f"kafka.subscribe({t})"),
            Access("kafka-cluster:ReadData", topic(t), call=f"kafka.subscribe({t})"),
        ]
    if group is not None:
        arn = f"arn:{PARTITION}:kafka:{region}:{account}:group/{name}/{uuid}/{group}"
        out += [
            Access("kafka-cluster:DescribeGroup", arn, call=f"kafka.group({group})"),
            Access("kafka-cluster:AlterGroup", arn, call=f"kafka.group({group})"),
        ]
    return out


# ---- 3. template -> concrete policies -> evaluation --------------------------------------
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::MSK::Cluster": "ClusterName",
    "AWS::S3Tables::TableBucket": "TableBucketName",
    "AWS::Lambda::Function": "FunctionName",
}


class ResolvedTemplate:
    """A synthesized template whose intrinsics resolve to placeholder-account values."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.resources: Mapping[str, Any] = raw["Resources"]

    # names and attributes of resources
    def name(self, logical: str) -> str:
        res = self.resources[logical]
        prop = _NAME_PROPERTY.get(res["Type"])
        if prop and prop in res.get("Properties", {}):
            return self.resolve(res["Properties"][prop])
        return logical.lower()

    def ref(self, logical: str) -> str:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "WikiStream",
        }
        if logical in pseudo:
            return pseudo[logical]
        if logical in self.raw.get("Parameters", {}):
            return f"parameter-{logical.lower()}"
        kind = self.resources[logical]["Type"]
        if kind == "AWS::SNS::Topic":
            return _arn("sns", self.name(logical))
        if kind == "AWS::MSK::Cluster":
            return self.get_att(logical, "Arn")
        return self.name(logical)

    def get_att(self, logical: str, attr: str) -> str:
        res = self.resources[logical]
        kind, props = res["Type"], res.get("Properties", {})
        name = self.name(logical)
        if kind == "AWS::MSK::Cluster" and attr == "Arn":
            return _arn("kafka", f"cluster/{name}/{CLUSTER_UUID}")
        if kind == "AWS::MSK::Topic" and attr == "TopicArn":
            cluster = self.resolve(props["ClusterArn"]).split(":", 5)[5].split("/", 1)[1]
            return _arn("kafka", f"topic/{cluster}/{self.resolve(props['TopicName'])}")
        by_attr: Dict[Tuple[str, str], str] = {
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{name}",
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/{name}",
            ("AWS::DynamoDB::Table", "Arn"): _arn("dynamodb", f"table/{name}"),
            ("AWS::SNS::Topic", "TopicArn"): _arn("sns", name),
            ("AWS::Logs::LogGroup", "Arn"): _arn("logs", f"log-group:{name}:*"),
            ("AWS::KMS::Key", "Arn"): _arn("kms", f"key/{name}"),
            ("AWS::EMRServerless::Application", "ApplicationId"): name,
            ("AWS::EMRServerless::Application", "Arn"): _arn("emr-serverless", f"/applications/{name}"),
            ("AWS::S3Tables::TableBucket", "TableBucketARN"): _arn("s3tables", f"bucket/{name}"),
            ("AWS::Lambda::Function", "Arn"): _arn("lambda", f"function:{name}"),
            ("AWS::StepFunctions::StateMachine", "Arn"): _arn("states", f"stateMachine:{name}"),
        }
        if (kind, attr) in by_attr:
            return by_attr[(kind, attr)]
        if "BootstrapBroker" in attr:  # the AwsCustomResource's GetBootstrapBrokers output
            return ",".join(f"b-{i}.placeholder.kafka.{REGION}.amazonaws.com:9098" for i in (1, 2))
        return f"{name}-{attr.lower()}"

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic replaced by its placeholder-account value."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, attr)
        if key == "Fn::Join":
            sep, parts = arg
            return sep.join(str(self.resolve(p)) for p in self.resolve(parts))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

            def sub(match: re.Match[str]) -> str:
                ref = match.group(1)
                if ref in names:
                    return str(names[ref])
                if "." in ref:
                    return self.get_att(*ref.split(".", 1))
                return self.ref(ref)

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if key.startswith("Fn::") or key == "Condition":
            raise ValueError(f"unsupported intrinsic {key} in {json.dumps(value)[:200]}")
        return {key: self.resolve(arg)}

    # roles and their policies
    def role_of(self, role_arn_value: Any) -> str:
        """Logical id of the role a ``Fn::GetAtt [Role, Arn]`` (or ``Ref``) points at."""
        if "Fn::GetAtt" in role_arn_value:
            return str(role_arn_value["Fn::GetAtt"][0])
        return str(role_arn_value["Ref"])

    def policies_of(self, role_logical: str) -> List[Dict[str, Any]]:
        """Every identity policy of the role, resolved. Managed policies are refused: the
        contract cannot read them, so a role using one cannot be checked."""
        role = self.resources[role_logical]
        if role["Properties"].get("ManagedPolicyArns"):
            raise ValueError(f"{role_logical} has managed policies; the contract cannot evaluate them")
        docs = [self.resolve(p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])]
        for res in self.resources.values():
            if res["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical} in res["Properties"].get(
                "Roles", []
            ):
                docs.append(self.resolve(res["Properties"]["PolicyDocument"]))
        return docs


@dataclass(frozen=True)
class Denial:
    access: Access
    result: str

    def __str__(self) -> str:
        return f"{self.result}: {self.access.describe()}"


def evaluate(policies: Sequence[Mapping[str, Any]], accesses: Iterable[Access]) -> List[Denial]:
    """Denied requests (empty = all allowed), by the IAM simulator in one Node process."""
    wanted = list(dict.fromkeys(accesses))
    request = {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/contract",
        "account": ACCOUNT,
        "policies": list(policies),
        "requests": [
            {"action": a.action, "resource": a.resource, "context": dict(a.context)} for a in wanted
        ],
    }
    done = subprocess.run(
        ["node", str(SIMULATOR)], input=json.dumps(request), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"IAM simulator failed: {done.stderr[-2000:]}")
    results = json.loads(done.stdout)
    return [Denial(a, r) for a, r in zip(wanted, results) if r != "Allowed"]


def without_grant(policies: Sequence[Mapping[str, Any]], index: int, action: str) -> List[Dict[str, Any]]:
    """``policies`` with ``action`` removed from the ``index``-th statement overall."""
    out = copy.deepcopy(list(policies))
    n = 0
    for doc in out:
        statements = doc["Statement"]
        for i, st in enumerate(statements):
            if n == index:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                rest = [a for a in actions if a != action]
                if rest:
                    st["Action"] = rest
                else:
                    del statements[i]
                return out
            n += 1
    raise IndexError(index)


def grants(policies: Sequence[Mapping[str, Any]]) -> Iterator[Tuple[int, str, Any]]:
    """Every (statement index, action, resources) an Allow statement grants."""
    n = 0
    for doc in policies:
        for st in doc["Statement"]:
            if st["Effect"] == "Allow":
                for action in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
                    yield n, action, st.get("Resource")
            n += 1
