// The chart's metadata follows the package: appVersion (the default image tag) is package.json's version.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { repoRoot } from '../support/kube.js';

const read = (...parts: string[]): string => readFileSync(path.join(repoRoot, ...parts), 'utf8');

describe('charts/flux-action-operator/Chart.yaml', () => {
  it("has package.json's version as its appVersion", () => {
    const chart = parse(read('charts', 'flux-action-operator', 'Chart.yaml')) as { appVersion: string; name: string };
    const pkg = JSON.parse(read('package.json')) as { version: string; name: string };
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.name).toBe(pkg.name);
  });
});
