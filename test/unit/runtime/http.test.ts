import { describe, it, expect, afterEach } from '@jest/globals';
import { createMetrics } from '../../../src/runtime/metrics.js';
import { parseListenAddress, startHealthServer, type HealthServer } from '../../../src/runtime/http.js';

describe('parseListenAddress', () => {
  it.each([
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    [':0', { host: '0.0.0.0', port: 0 }],
  ])('reads %s', (addr, expected) => {
    expect(parseListenAddress(addr)).toEqual(expected);
  });

  it.each([
    ['8080', 'expected [host]:port, such as ":8080" or "127.0.0.1:8080"'],
    [':', 'expected [host]:port, such as ":8080" or "127.0.0.1:8080"'],
    [':http', 'expected [host]:port, such as ":8080" or "127.0.0.1:8080"'],
    ['::1:80', 'expected [host]:port, such as ":8080" or "127.0.0.1:8080"'],
    [':65536', 'port 65536 is out of range 0-65535'],
  ])('refuses %s', (addr, message) => {
    expect(() => parseListenAddress(addr)).toThrow(message);
  });
});

describe('startHealthServer', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const start = async (checks: Parameters<typeof startHealthServer>[0]['readinessChecks'] = {}) => {
    const metrics = createMetrics();
    server = await startHealthServer({ addr: '127.0.0.1:0', registry: metrics.registry, readinessChecks: checks });
    const url = (path: string): string => `http://127.0.0.1:${server?.port}${path}`;
    return { metrics, server, url };
  };

  it('binds the port the OS chose when asked for port 0', async () => {
    const { server } = await start();
    expect(server.port).toBeGreaterThan(0);
    expect(server.host).toBe('127.0.0.1');
  });

  it('answers /healthz with 200', async () => {
    const { url } = await start();
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('answers /readyz with 503 listing only the failing checks, then 200 once they pass', async () => {
    let synced = false;
    const { url } = await start({
      informers: () => synced,
      leader: () => Promise.resolve(true),
      crds: () => {
        throw new Error('FluxActionRequest CRD not installed');
      },
    });
    const failing = await fetch(url('/readyz'));
    expect(failing.status).toBe(503);
    expect(failing.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await failing.text()).toBe('crds: FluxActionRequest CRD not installed\ninformers: not ready\n');

    synced = true;
    server?.addReadinessCheck('crds', () => true);
    const passing = await fetch(url('/readyz'));
    expect(passing.status).toBe(200);
    expect(await passing.text()).toBe('ok\n');
  });

  it('checks readiness added after start', async () => {
    const { url } = await start();
    expect((await fetch(url('/readyz'))).status).toBe(200);
    server?.addReadinessCheck('leader', () => false);
    const res = await fetch(url('/readyz'));
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('leader: not ready\n');
  });

  it("serves the registry on /metrics in Prometheus' text format", async () => {
    const { url, metrics } = await start();
    metrics.requestsTotal.inc({ action: 'Reconcile', kind: 'Kustomization', result: 'Succeeded' });
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    const body = await res.text();
    expect(body).toContain('fluxact_requests_total{action="Reconcile",kind="Kustomization",result="Succeeded"} 1');
    expect(body).toContain('# TYPE process_cpu_user_seconds_total counter');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { url } = await start();
    expect((await fetch(url('/nope'))).status).toBe(404);
    const post = await fetch(url('/healthz'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('stops answering after close', async () => {
    const { url } = await start();
    const healthz = url('/healthz');
    await server?.close();
    server = undefined;
    await expect(fetch(healthz)).rejects.toThrow();
  });

  it('refuses to start on a bad address', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    await expect(startHealthServer({ addr: 'nonsense', registry: metrics.registry })).rejects.toThrow('expected [host]:port');
  });
});
