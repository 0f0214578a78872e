// A snapshot of tools/list, so a changed tool name, schema, description or hint is a visible diff.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectStdio, type McpConnection } from '../../support/mcp.js';

let connection: McpConnection;

beforeAll(async () => {
  connection = await connectStdio();
});

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unassigned when its beforeAll failed
  await connection?.close();
});

describe('tools/list', () => {
  it('offers the tools of the design, with their names as agents know them', async () => {
    const { tools } = await connection.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'events_list',
        'get_flux_action_request',
        'get_flux_instance',
        'get_kubernetes_api_versions',
        'get_kubernetes_logs',
        'get_kubernetes_resources',
        'list_flux_action_requests',
        'list_flux_action_requests_awaiting_approval',
        'pods_list_in_namespace',
        'pods_log',
        'read_flux_doc',
        'reconcile_flux_helmrelease',
        'reconcile_flux_kustomization',
        'reconcile_flux_resource',
        'reconcile_flux_resourceset',
        'reconcile_flux_source',
        'resources_get',
        'resume_flux_reconciliation',
        'search_flux_docs',
        'suspend_flux_reconciliation',
        'trace_flux_resource',
      ].sort(),
    );
  });

  it('matches the snapshot', async () => {
    const { tools } = await connection.client.listTools();
    expect([...tools].sort((a, b) => a.name.localeCompare(b.name))).toMatchSnapshot();
  });
});
