// Runs the Flux simulator (a test double for the Flux controllers) as a process, for `make dev`
// and the benchmark, until SIGINT/SIGTERM.
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { FluxSimulator } from './flux-simulator.js';

const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const log = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
const delayMs = Number(process.env.SIMULATOR_DELAY_MS ?? 200);
const simulator = new FluxSimulator({ kc, delayMs, log });
await simulator.start();
log.info({ delayMs }, 'flux simulator (test double) running');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void simulator.stop().then(() => process.exit(0)));
}
