// The MCP prompts: the workflows an agent follows with these tools, written once, naming the tools
// and their arguments. A prompt is a user message the client shows or sends on the user's behalf.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { GetPromptResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** How actions work, for the server's instructions and the prompts that act. */
export const HowActionsWork = `Actions (reconcile, suspend, resume) are never done by patching Flux objects: each action tool creates a FluxActionRequest, which the flux-action-operator carries out exactly once and follows until Flux's verdict is known. The tool waits for that (wait_timeout, default 60s) and answers with the request's name, its phase (Pending, Running, Succeeded, Failed) and reason, Flux's message and the revision applied or fetched.
- Succeeded: Flux reconciled the object; the revision says what is now applied.
- Failed: the answer is an error result carrying Flux's own message (e.g. a kustomize build or Helm failure), or why the action did not run: PolicyDenied or RateLimited by a FluxActionPolicy (the message names the rule), Rejected or ApprovalExpired (a person said no, or no one decided in time), TargetNotFound, TargetSuspended, Timeout.
- Awaiting approval: a policy rule requires a person to approve; Flux has not been touched. Tell the user; do not retry. Follow up later with get_flux_action_request.
- Still Pending or Running when the wait ran out: the request keeps going; follow up with get_flux_action_request instead of creating another.
Requests carry origin mcp, the client's name and who asked (the server's identity); they are the audit trail (list_flux_action_requests).`;

/** The server's instructions: what the tools are for and how an action's outcome comes back. */
export const Instructions = `Tools to inspect and act on FluxCD in a Kubernetes cluster.
Start with get_flux_instance (Flux's health), then get_kubernetes_resources / resources_get (use fields to read only status.conditions and the like), trace_flux_resource (which Flux object applied something, and its source), events_list and get_kubernetes_logs. search_flux_docs and read_flux_doc answer from the API reference of the Flux version installed.
${HowActionsWork}
The prompts reconcile_and_verify, debug_kustomization and debug_helmrelease walk through the usual workflows.`;

const name = z.string().min(1).max(253).describe("The object's name");
const namespace = z.string().min(1).max(63).describe("The object's namespace");

function userMessage(text: string): GetPromptResult {
  return { messages: [{ role: 'user', content: { type: 'text', text } }] };
}

/** reconcile_and_verify: health → status → reconcile with source → verify → troubleshoot. */
export function reconcileWorkflow(kind: string, n: string, ns: string): string {
  const withSource = kind === 'Kustomization' || kind === 'HelmRelease';
  return `Reconcile the Flux ${kind} ${ns}/${n} and make sure it is healthy afterwards. Use the flux-action-operator tools, step by step:
1. Health: call get_flux_instance. If a Flux controller is not ready, or many objects fail, report that first: a reconcile will not help.
2. Status: call resources_get with kind ${kind}, name ${n}, namespace ${ns} and fields ["spec.suspend", "spec.sourceRef", "status.conditions", "status.lastAppliedRevision", "status.lastAttemptedRevision"] (find the apiVersion with get_kubernetes_api_versions if needed). If it is suspended, ask the user before resuming it with resume_flux_reconciliation.
3. Reconcile: call reconcile_flux_resource with kind ${kind}, name ${n}, namespace ${ns}${withSource ? ', with_source true (so the source fetches the latest revision first)' : ''}.
4. Verify: read the answer. Succeeded: report the revision applied and compare it with the source's (trace_flux_resource on the ${kind} shows both). Awaiting approval, or still running: say so and follow up later with get_flux_action_request; do not create a second request.
5. Troubleshoot a failure: Flux's message is in the answer. Then read events_list (namespace ${ns}, involvedObjectKind ${kind}, involvedObjectName ${n}), the controller's logs with get_kubernetes_logs (kind Deployment, namespace flux-system, name ${kind === 'HelmRelease' ? 'helm-controller' : kind === 'Kustomization' ? 'kustomize-controller' : 'source-controller'}, grep ${JSON.stringify(n)}), and check the fields you are unsure of with search_flux_docs. Explain the cause and the fix; change nothing else.
${HowActionsWork}`;
}

/** debug_kustomization: why a Kustomization is not ready or not up to date. */
export function debugKustomization(n: string, ns: string): string {
  return `Find out why the Flux Kustomization ${ns}/${n} is failing or not up to date, and say how to fix it. Read first, act last:
1. resources_get: apiVersion kustomize.toolkit.fluxcd.io/v1, kind Kustomization, name ${n}, namespace ${ns}, fields ["spec", "status.conditions", "status.lastAppliedRevision", "status.lastAttemptedRevision"]. Ready=False with its reason (BuildFailed, HealthCheckFailed, DependencyNotReady, ArtifactFailed...) says where to look.
2. trace_flux_resource on the Kustomization: is its source (GitRepository, OCIRepository, Bucket) ready, and at which revision? lastAttemptedRevision newer than lastAppliedRevision means the new revision failed to apply.
3. events_list: namespace ${ns}, involvedObjectKind Kustomization, involvedObjectName ${n}. For a dependency, read spec.dependsOn's objects the same way.
4. get_kubernetes_logs: kind Deployment, name kustomize-controller, namespace flux-system, grep ${JSON.stringify(n)}, since 1h.
5. For a health check failure, trace the failing workload and read its pods' logs with get_kubernetes_logs (kind Deployment, its name and namespace).
6. Check any field you suspect with search_flux_docs or read_flux_doc (kind Kustomization).
Report the cause, the evidence (quote Flux's message) and the fix. Only if the user wants it, and the cause is fixed, reconcile with reconcile_flux_resource (kind Kustomization, with_source true).
${HowActionsWork}`;
}

/** debug_helmrelease: why a HelmRelease is not ready or not up to date. */
export function debugHelmRelease(n: string, ns: string): string {
  return `Find out why the Flux HelmRelease ${ns}/${n} is failing or not up to date, and say how to fix it. Read first, act last:
1. resources_get: apiVersion helm.toolkit.fluxcd.io/v2, kind HelmRelease, name ${n}, namespace ${ns}, fields ["spec.chart", "spec.chartRef", "spec.values", "status.conditions", "status.history[0]", "status.failures", "status.lastAttemptedRevision"]. Ready=False reasons such as InstallFailed, UpgradeFailed, ArtifactFailed or RetriesExceeded say where to look.
2. trace_flux_resource on the HelmRelease: its chart source (HelmChart and HelmRepository, or OCIRepository) — is it ready, which chart version did it fetch?
3. events_list: namespace ${ns}, involvedObjectKind HelmRelease, involvedObjectName ${n}.
4. get_kubernetes_logs: kind Deployment, name helm-controller, namespace flux-system, grep ${JSON.stringify(n)}, since 1h; for a failed install or upgrade, also the release's own workloads (trace one of them, then get_kubernetes_logs on it).
5. Check any value or field you suspect with search_flux_docs or read_flux_doc (kind HelmRelease).
Report the cause, the evidence (quote Flux's message) and the fix. Only if the user wants it, and the cause is fixed, reconcile with reconcile_flux_resource (kind HelmRelease, with_source true; force true for a one-off upgrade; reset true when retries are exhausted).
${HowActionsWork}`;
}

/** Registers the prompts. */
export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    'reconcile_and_verify',
    {
      title: 'Reconcile a Flux object and verify it',
      description:
        "Flux's health, the object's status, a reconcile with its source, verification of the revision, and troubleshooting if it fails",
      argsSchema: {
        kind: z.string().min(1).max(100).describe('The Flux kind, e.g. Kustomization or HelmRelease'),
        name,
        namespace,
      },
    },
    (a) => userMessage(reconcileWorkflow(a.kind, a.name, a.namespace)),
  );
  server.registerPrompt(
    'debug_kustomization',
    {
      title: 'Debug a Flux Kustomization',
      description: 'Why a Kustomization is not ready or not up to date: status, source, events, controller logs, workloads',
      argsSchema: { name, namespace },
    },
    (a) => userMessage(debugKustomization(a.name, a.namespace)),
  );
  server.registerPrompt(
    'debug_helmrelease',
    {
      title: 'Debug a Flux HelmRelease',
      description: 'Why a HelmRelease is not ready or not up to date: status, chart source, events, controller logs, release workloads',
      argsSchema: { name, namespace },
    },
    (a) => userMessage(debugHelmRelease(a.name, a.namespace)),
  );
}
