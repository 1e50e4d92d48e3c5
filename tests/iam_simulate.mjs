// Evaluates IAM requests against identity policies with @cloud-copilot/iam-simulate
// (pinned in package.json). Used by tests/permissions.py; reads one JSON object on stdin:
//   {"principal", "account", "policies": [doc...], "requests": [{"action", "resource", "context"}]}
// and writes a JSON list with one result per request: "Allowed", "ImplicitlyDenied",
// "ExplicitlyDenied", or "error: <message>" when the simulator rejects the input.
import { runSimulation } from '@cloud-copilot/iam-simulate';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const identityPolicies = input.policies.map((policy, i) => ({ name: `policy-${i}`, policy }));
const results = [];
for (const req of input.requests) {
  const outcome = await runSimulation(
    {
      request: {
        principal: input.principal,
        action: req.action,
        resource: { resource: req.resource, accountId: input.account },
        contextVariables: req.context,
      },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (outcome.resultType === 'error') {
    results.push(`error: ${JSON.stringify(outcome.errors).slice(0, 500)}`);
  } else {
    results.push(outcome.overallResult);
  }
}
process.stdout.write(JSON.stringify(results));
