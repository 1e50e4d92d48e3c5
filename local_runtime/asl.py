"""Extract the pipeline's Amazon States Language definition from a synthesized template
so the local runner executes exactly what CloudFormation deploys.

CloudFormation intrinsics inside ``DefinitionString`` are resolved to placeholders:
``Ref X`` -> ``local:X`` and ``Fn::GetAtt [X, A]`` -> ``local:X.A``; pseudo parameters
get fixed local values (partition ``aws`` so service-integration ARNs stay recognisable).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Union

#: Placeholders for local execution only (nothing is deployed with them): moto's default
#: account and region, so the resolved ARNs match the resources moto creates. The local
#: runner (local_runtime/machine.py) creates its state machine with the same values.
LOCAL_PSEUDO_PARAMETERS: Mapping[str, str] = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}

Resolved = Union[str, List[str]]


def resolve(node: Any, pseudo: Mapping[str, str] = LOCAL_PSEUDO_PARAMETERS) -> Resolved:
    """Resolve the intrinsic functions CDK emits in a definition into plain strings."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, list):
        return [_as_str(resolve(item, pseudo)) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return str(pseudo.get(arg, f"local:{arg}"))
        if fn == "Fn::GetAtt":
            logical_id, attr = (arg if isinstance(arg, list) else str(arg).split(".", 1))[:2]
            return f"local:{logical_id!s}.{attr!s}"
        if fn == "Fn::Join":
            separator, parts = arg
            return str(separator).join(_as_str(resolve(part, pseudo)) for part in parts)
        if fn == "Fn::Split":
            separator, value = arg
            return _as_str(resolve(value, pseudo)).split(separator)
        if fn == "Fn::Select":
            index, values = arg
            resolved = resolve(values, pseudo)
            if isinstance(resolved, list):
                return str(resolved[int(index)])
            return f"{resolved}[{int(index)}]"
    raise ValueError(f"unsupported intrinsic in state machine definition: {json.dumps(node)[:200]}")


def _as_str(value: Resolved) -> str:
    if isinstance(value, list):
        raise ValueError("a list where a string was expected in the definition")
    return value


def state_machine_logical_id(template: Mapping[str, Any]) -> str:
    """Logical id of the template's only AWS::StepFunctions::StateMachine."""
    ids = [
        lid
        for lid, res in template.get("Resources", {}).items()
        if res.get("Type") == "AWS::StepFunctions::StateMachine"
    ]
    if len(ids) != 1:
        raise ValueError(f"expected exactly one state machine in the template, found {len(ids)}")
    return str(ids[0])


def definition_for_local(
    template: Mapping[str, Any], pseudo: Optional[Mapping[str, str]] = None
) -> Dict[str, Any]:
    """The state machine's ASL as a dict, with every CloudFormation token made a placeholder."""
    resource = template["Resources"][state_machine_logical_id(template)]
    raw = resource["Properties"]["DefinitionString"]
    text = _as_str(resolve(raw, pseudo or LOCAL_PSEUDO_PARAMETERS))
    definition: Dict[str, Any] = json.loads(text)
    return definition
