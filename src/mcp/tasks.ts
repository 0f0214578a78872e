// MCP tasks, kept per session, each with a stop signal: tasks/cancel ends the task's work (the wait
// for a request's outcome) at once, where the SDK's store alone would only mark the task cancelled
// and the wait would hold its watch until the wait timeout. The request itself keeps running.
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { Task } from '@modelcontextprotocol/sdk/types.js';

export class CancellableTaskStore extends InMemoryTaskStore {
  private readonly controllers = new Map<string, AbortController>();

  /** Aborts when the client cancels the task (tasks/cancel) or the session closes. */
  signal(taskId: string): AbortSignal {
    let controller = this.controllers.get(taskId);
    if (!controller) this.controllers.set(taskId, (controller = new AbortController()));
    return controller.signal;
  }

  /** Forgets the task's signal once its work ended. */
  release(taskId: string): void {
    this.controllers.delete(taskId);
  }

  override async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string, sessionId?: string): Promise<void> {
    await super.updateTaskStatus(taskId, status, statusMessage, sessionId);
    if (status === 'cancelled') this.abort(taskId, 'the client cancelled the task');
  }

  override cleanup(): void {
    for (const taskId of [...this.controllers.keys()]) this.abort(taskId, 'the session closed');
    super.cleanup();
  }

  private abort(taskId: string, why: string): void {
    this.controllers.get(taskId)?.abort(new Error(why));
    this.controllers.delete(taskId);
  }
}
