import { createRequire } from 'node:module';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';
import { RampartError } from '../core/index.js';

/**
 * The Cedar wasm instance, contained (issue 12 §4, invariant 7). cedar-wasm reports bad input as
 * `{ type: 'failure' }`; anything it *throws* is a fault of the instance itself: a wasm trap
 * ("memory access out of bounds" when a deep expression overflows Rust's shadow stack), a
 * `RangeError` from the native stack, or a Rust panic ("unreachable"). A trap unwinds without
 * restoring the instance's stack pointer or releasing what it held, so every later call on that
 * instance fails too, for every tenant on the node. Here a throwing call discards the instance and
 * the next call gets a fresh one (~100 ms to instantiate); the faulting call fails closed with a
 * `CedarEngineFault`. Pre-parsed policy sets live inside an instance, so they are tracked per
 * instance and parsed again on the fresh one when first used (`ensurePreparsed`).
 *
 * The instance is per thread by nature (wasm memory is), so this holder is too: one per module
 * load, created lazily, not shared across worker threads.
 */

export type CedarModule = typeof CedarWasm;

export class CedarEngineFault extends Error {
  constructor(cause: unknown) {
    super(`the Cedar engine faulted and was replaced: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CedarEngineFault';
  }
}

export type EngineHealth = { generation: number; faults: number; lastFault?: string; isHealthy: boolean };

export type CedarEngine = {
  /**
   * Runs calls on the current instance. A RampartError thrown by `fn` passes through; any other
   * throw replaces the instance and surfaces as CedarEngineFault.
   */
  run<T>(fn: (cedar: CedarModule) => T): T;
  /** Parses the set into the current instance unless it is there already. */
  ensurePreparsed(id: string, parse: (cedar: CedarModule) => void): void;
  health(): EngineHealth;
  /** Readiness: a trivial call on the instance answers; throws when it does not. */
  probe(): void;
};

const PROBE_POLICY = 'permit (principal, action, resource);';

export function createCedarEngine({ load }: { load: () => CedarModule }): CedarEngine {
  let instance: { cedar: CedarModule; preparsed: Set<string> } | undefined;
  let generation = 0;
  let faults = 0;
  let lastFault: string | undefined;
  let isHealthy = true;

  const current = () => {
    if (!instance) {
      instance = { cedar: load(), preparsed: new Set() };
      generation += 1;
    }
    return instance;
  };
  const discard = (error: unknown) => {
    faults += 1;
    lastFault = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : 'unknown';
    instance = undefined;
  };

  const run = <T>(fn: (cedar: CedarModule) => T): T => {
    const { cedar } = current();
    try {
      return fn(cedar);
    } catch (error) {
      // Our own refusals (a policy Cedar answered `failure` for) pass through; anything else came
      // out of the instance.
      if (error instanceof RampartError) throw error;
      discard(error);
      throw new CedarEngineFault(error);
    }
  };

  return {
    run,
    ensurePreparsed(id, parse) {
      const target = current();
      if (target.preparsed.has(id)) return;
      run(parse);
      // Only after success; a fault replaced the instance and its set of ids with it.
      target.preparsed.add(id);
    },
    health: () => ({ generation, faults, isHealthy, ...(lastFault ? { lastFault } : {}) }),
    probe() {
      try {
        const answer = run((cedar) => cedar.checkParsePolicySet({ staticPolicies: PROBE_POLICY }));
        isHealthy = answer.type === 'success';
      } catch {
        isHealthy = false;
      }
      if (!isHealthy) throw new Error('the Cedar engine does not answer');
    },
  };
}

const require = createRequire(import.meta.url);

/** Loads a fresh instance: the nodejs build instantiates its wasm when its file is evaluated. */
export function loadCedarModule(): CedarModule {
  const path = require.resolve('@cedar-policy/cedar-wasm/nodejs');
  // The only way to have Node evaluate the file, and so instantiate the wasm, again.
  delete require.cache[path];
  return require(path) as CedarModule;
}

let threadEngine: CedarEngine | undefined;

/** This thread's engine (the wasm memory belongs to the thread). */
export const cedarEngine = (): CedarEngine => (threadEngine ??= createCedarEngine({ load: loadCedarModule }));

/** A fault while checking tenant-written text is the text's fault: refuse it, as too complex. */
export function refuseFaultingPolicy(error: unknown, pointer: string): never {
  if (error instanceof CedarEngineFault) {
    throw new RampartError('validation_failed', { detail: `policy set ${pointer}: the policy is too complex for the engine`, issues: [{ pointer, message: 'the policy is too complex for the engine' }], cause: error });
  }
  throw error;
}
