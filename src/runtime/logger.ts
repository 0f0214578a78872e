// JSON logs on stderr: stdout belongs to the MCP stdio protocol when the adapter runs, so no
// component of this project ever logs there.
import { pino, type DestinationStream, type Logger } from 'pino';

/** Log levels, least to most severe. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Minimum level written. Default 'info'. */
  level?: LogLevel | 'silent';
  /** Base field naming the part of the program that logs. Default 'operator'. */
  component?: string;
  /** Where JSON lines go. Default: stderr, written synchronously so the last line before an exit is not lost. */
  destination?: DestinationStream;
}

/** A pino logger writing JSON lines with `component` on every line, to stderr unless told otherwise. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      base: { component: options.component ?? 'operator' },
      // Level names ("info") rather than numbers, which is what people grep for.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
    },
    destination,
  );
}

/**
 * pino's error serializer, with the error's name as its type: pino takes the constructor's name,
 * which the image's minified bundle shortens to a letter or two; this project's errors name themselves.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  return { ...pino.stdSerializers.err(err), type: err.name };
}
