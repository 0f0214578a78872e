// What the operator knows across requests: which Flux objects each unfinished request follows (so a
// change to an object wakes its requests) and which tokens each holds (so concurrent requests on
// one object share a token). Rebuilt from the request informer on start, so a restart loses nothing.
import { isFinished } from '../api/conditions.js';
import { StepRole, type FluxActionRequest } from '../api/types.js';
import type { HeldToken } from '../flux/protocol.js';
import { objectKey } from '../flux/objects.js';

const slots = ['chartSource', 'source', 'target'] as const;

export class RequestIndex {
  private readonly followers = new Map<string, Set<string>>();
  private readonly followed = new Map<string, Set<string>>();
  /** requestKey -> objectKeys it holds tokens on; objectKey -> requestKey -> token. */
  private readonly holdings = new Map<string, Set<string>>();
  private readonly tokens = new Map<string, Map<string, HeldToken>>();

  /** Records the objects a request follows, replacing what it followed before. */
  follow(requestKey: string, objectKeys: readonly string[]): void {
    this.unfollow(requestKey);
    const keys = new Set(objectKeys);
    this.followed.set(requestKey, keys);
    for (const key of keys) {
      let set = this.followers.get(key);
      if (!set) this.followers.set(key, (set = new Set()));
      set.add(requestKey);
    }
  }

  /** The requests following an object. */
  followersOf(objectKey: string): readonly string[] {
    return [...(this.followers.get(objectKey) ?? [])];
  }

  /** Records the tokens an unfinished request holds, from its status; a finished one holds none. */
  holdFrom(requestKey: string, request: FluxActionRequest): void {
    this.release(requestKey);
    const status = request.status;
    if (!status || isFinished(status.phase)) return;
    const objects = new Set<string>();
    // A chain's steps too (status.target mirrors its target step): force and reset are the target's only.
    const records = [
      ...slots.map((slot) => ({ record: status[slot], isTarget: slot === 'target' })),
      ...(status.steps ?? []).map((step) => ({ record: step, isTarget: step.role === StepRole.Target })),
    ];
    for (const { record: s, isTarget } of records) {
      if (!s?.token || !s.kind || !s.name) continue;
      const key = objectKey({ apiVersion: s.apiVersion, kind: s.kind, namespace: s.namespace, name: s.name });
      let byRequest = this.tokens.get(key);
      if (!byRequest) this.tokens.set(key, (byRequest = new Map<string, HeldToken>()));
      byRequest.set(requestKey, {
        token: s.token,
        action: isTarget ? request.spec.action : 'Reconcile',
        force: isTarget && (request.spec.force ?? false),
        reset: isTarget && (request.spec.reset ?? false),
      });
      objects.add(key);
    }
    this.holdings.set(requestKey, objects);
  }

  /** Tokens held on an object by unfinished requests other than `exceptRequestKey`. */
  heldTokens(objectKey: string, exceptRequestKey: string): HeldToken[] {
    const out: HeldToken[] = [];
    for (const [requestKey, token] of this.tokens.get(objectKey) ?? []) {
      if (requestKey !== exceptRequestKey) out.push(token);
    }
    return out;
  }

  /** Forgets a request (deleted or finished). */
  forget(requestKey: string): void {
    this.unfollow(requestKey);
    this.release(requestKey);
  }

  private release(requestKey: string): void {
    for (const key of this.holdings.get(requestKey) ?? []) {
      const byRequest = this.tokens.get(key);
      byRequest?.delete(requestKey);
      if (byRequest?.size === 0) this.tokens.delete(key);
    }
    this.holdings.delete(requestKey);
  }

  private unfollow(requestKey: string): void {
    for (const key of this.followed.get(requestKey) ?? []) {
      const set = this.followers.get(key);
      set?.delete(requestKey);
      if (set?.size === 0) this.followers.delete(key);
    }
    this.followed.delete(requestKey);
  }
}
