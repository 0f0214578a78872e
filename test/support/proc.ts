// What Linux says of a process's memory: the "Name:   1234 kB" lines of /proc/PID/status (and of
// /proc/meminfo), for the bench's and the chaos suite's memory figures.
import { readFileSync } from 'node:fs';

/** A "Name:   1234 kB" line's number in text (/proc/PID/status, /proc/meminfo); 0 when absent. */
export function procKiB(text: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
}

/** A process's /proc/PID/status, or undefined once it has gone. */
export function processStatus(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}
