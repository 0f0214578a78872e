import { describe, it, expect } from '@jest/globals';
import { pino } from 'pino';
import { createLogger } from '../../../src/runtime/logger.js';

/** A pino destination that keeps the lines written to it. */
function capture(): { lines: () => Array<Record<string, unknown>>; stream: { write(s: string): void } } {
  const raw: string[] = [];
  return {
    stream: { write: (s: string) => void raw.push(s) },
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines carrying the component and the level name', () => {
    const out = capture();
    createLogger({ component: 'leader', destination: out.stream }).info({ key: 'ns/a' }, 'hello');
    expect(out.lines()).toEqual([
      expect.objectContaining({ component: 'leader', level: 'info', key: 'ns/a', msg: 'hello', time: expect.any(String) }),
    ]);
  });

  it("defaults the component to 'operator' and the level to info", () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream });
    logger.debug('hidden');
    logger.info('shown');
    expect(out.lines().map((l) => [l.component, l.msg])).toEqual([['operator', 'shown']]);
  });

  it('honours the level it is given', () => {
    const out = capture();
    const logger = createLogger({ level: 'warn', destination: out.stream });
    logger.info('hidden');
    logger.warn('shown');
    expect(out.lines().map((l) => l.msg)).toEqual(['shown']);
  });

  it('writes to stderr by default, never stdout (the MCP stdio protocol owns stdout)', () => {
    const logger = createLogger();
    const stream = Reflect.get(logger, pino.symbols.streamSym) as { fd?: unknown };
    expect(stream.fd).toBe(2);
  });

  it("gives an error's own name as its type, not its constructor's (which a minified bundle shortens)", () => {
    const out = capture();
    // What esbuild's minifier makes of `class RetryWithinError extends Error { name = 'RetryWithinError' }`.
    class pt extends Error {
      override readonly name = 'RetryWithinError';
    }
    createLogger({ destination: out.stream }).error({ err: new pt('not loaded yet') }, 'failed');
    expect(out.lines()[0]?.['err']).toEqual(
      expect.objectContaining({ type: 'RetryWithinError', message: 'not loaded yet', stack: expect.any(String) }),
    );
  });
});
