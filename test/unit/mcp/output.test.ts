// How the adapter shows objects: managedFields and last-applied stripped, Secret values masked,
// and text capped with a note.
import { describe, expect, it } from '@jest/globals';
import { cap, clean, Masked, toYaml } from '../../../src/mcp/output.js';

const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

describe('clean', () => {
  it('drops managedFields and the last-applied annotation, keeping other annotations', () => {
    const obj = {
      kind: 'ConfigMap',
      metadata: { name: 'c', managedFields: [{ manager: 'kubectl' }], annotations: { [lastApplied]: '{"data":{}}', team: 'web' } },
      data: { key: 'value' },
    };
    expect(clean(obj)).toEqual({ kind: 'ConfigMap', metadata: { name: 'c', annotations: { team: 'web' } }, data: { key: 'value' } });
  });

  it('drops annotations left empty', () => {
    const cleaned = clean({ kind: 'Pod', metadata: { name: 'p', annotations: { [lastApplied]: '{}' } } }) as {
      metadata: Record<string, unknown>;
    };
    expect(cleaned.metadata).toEqual({ name: 'p' });
  });

  it('masks every value of a Secret data and stringData, keeping the keys', () => {
    const secret = {
      kind: 'Secret',
      metadata: { name: 's' },
      data: { password: 'aHVudGVyMg==' },
      stringData: { token: 'hunter2' },
      type: 'Opaque',
    };
    expect(clean(secret)).toEqual({
      kind: 'Secret',
      metadata: { name: 's' },
      data: { password: Masked },
      stringData: { token: Masked },
      type: 'Opaque',
    });
  });

  it('leaves the object it was given untouched', () => {
    const secret = { kind: 'Secret', metadata: { name: 's', managedFields: [] }, data: { password: 'aHVudGVyMg==' } };
    clean(secret);
    expect(secret.data.password).toBe('aHVudGVyMg==');
    expect(secret.metadata.managedFields).toEqual([]);
  });
});

describe('toYaml', () => {
  it('writes cleaned objects as YAML documents separated by ---', () => {
    const text = toYaml([
      { kind: 'Secret', metadata: { name: 'a' }, data: { k: 'dg==' } },
      { kind: 'ConfigMap', metadata: { name: 'b', managedFields: [{}] } },
    ]);
    expect(text).toBe('kind: Secret\nmetadata:\n  name: a\ndata:\n  k: "***"\n---\nkind: ConfigMap\nmetadata:\n  name: b');
  });
});

describe('cap', () => {
  it('leaves text within the limit as it is', () => {
    expect(cap('short', 100)).toBe('short');
  });

  it('cuts at a line boundary and says how much was cut and what to do', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const capped = cap(text, 50);
    const [kept, note] = [capped.slice(0, capped.lastIndexOf('\n')), capped.slice(capped.lastIndexOf('\n') + 1)];
    expect(kept.length).toBeLessThanOrEqual(50);
    expect(kept.endsWith('line 6')).toBe(true);
    expect(note).toBe(
      `# output cut at ${kept.length} of ${text.length} characters; narrow the query (name, namespace, selector, limit) to see the rest`,
    );
  });

  it('uses the hint given', () => {
    expect(cap('a\nb\nc', 3, 'ask for fewer lines')).toMatch(/ask for fewer lines to see the rest$/);
  });
});
