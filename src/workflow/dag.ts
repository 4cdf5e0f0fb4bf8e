/**
 * The dependency graph of a workflow: order, cycles, ancestry and which steps may start now.
 * Functions take only what they need (`steps[name].depends_on`), so validation can use them on a
 * definition that is not fully checked yet. Edges point from a step to the steps it depends on.
 */
import { AppError } from '../errors.ts';

/** Where a step of a run stands. `skipped`: it can never run because a dependency failed or was skipped. */
export type StepState = 'pending' | 'queued' | 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'skipped';

export interface StepGraph {
  steps: Readonly<Record<string, { readonly depends_on?: readonly string[] }>>;
}

function depsOf(graph: StepGraph, name: string): readonly string[] {
  // Unknown names are reported by validation; here they are simply not edges.
  return (graph.steps[name]?.depends_on ?? []).filter((dep) => Object.hasOwn(graph.steps, dep));
}

/**
 * The first cycle found, as a path that starts and ends on the same step, each step depending on the
 * next (`['a', 'b', 'a']`: a depends on b, b on a). Null when the graph is acyclic.
 */
export function findCycle(graph: StepGraph): string[] | null {
  const done = new Set<string>();
  const onPath = new Map<string, number>();
  const path: string[] = [];

  const visit = (name: string): string[] | null => {
    onPath.set(name, path.length);
    path.push(name);
    for (const dep of depsOf(graph, name)) {
      const at = onPath.get(dep);
      if (at !== undefined) return [...path.slice(at), dep];
      if (!done.has(dep)) {
        const cycle = visit(dep);
        if (cycle) return cycle;
      }
    }
    path.pop();
    onPath.delete(name);
    done.add(name);
    return null;
  };

  for (const name of Object.keys(graph.steps)) {
    if (done.has(name)) continue;
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return null;
}

/**
 * Every step after all of its dependencies. Among steps that are free at the same time the definition
 * order is kept, so runs and the dashboard list steps the way the author wrote them.
 */
export function topologicalOrder(graph: StepGraph): string[] {
  const names = Object.keys(graph.steps);
  const position = new Map(names.map((name, i) => [name, i]));
  const waitingOn = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const name of names) {
    const deps = new Set(depsOf(graph, name));
    waitingOn.set(name, deps.size);
    for (const dep of deps) {
      const list = dependants.get(dep);
      if (list) list.push(name);
      else dependants.set(dep, [name]);
    }
  }
  // Round by round, as the steps become free: each round in definition order.
  const order: string[] = [];
  let free = names.filter((name) => waitingOn.get(name) === 0);
  while (free.length > 0) {
    order.push(...free);
    const next: string[] = [];
    for (const name of free) {
      for (const dependant of dependants.get(name) ?? []) {
        const left = (waitingOn.get(dependant) as number) - 1;
        waitingOn.set(dependant, left);
        if (left === 0) next.push(dependant);
      }
    }
    free = next.sort((a, b) => (position.get(a) as number) - (position.get(b) as number));
  }
  if (order.length < names.length) {
    const cycle = findCycle(graph) ?? names.filter((name) => (waitingOn.get(name) as number) > 0);
    throw new AppError('validation', `steps form a cycle: ${cycle.join(' -> ')}`, { field: 'steps' });
  }
  return order;
}

function closure(start: readonly string[], next: (name: string) => readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...next(name));
  }
  return seen;
}

/** All steps a step depends on, directly or not: the steps whose outputs its templates may read. */
export function upstreamSteps(graph: StepGraph, name: string): Set<string> {
  const up = closure(depsOf(graph, name), (n) => depsOf(graph, n));
  up.delete(name);
  return up;
}

/**
 * For many "is `up` upstream of `name`?" questions about one acyclic graph: each step's ancestors as
 * a bit set, built once in topological order — about edges × steps / 64 word operations, and
 * steps² / 8 bytes (3 MB for 5,000 steps) — so a long chain costs no walk per question.
 */
export function ancestry(graph: StepGraph): (name: string, up: string) => boolean {
  const order = topologicalOrder(graph);
  const index = new Map(order.map((name, i) => [name, i]));
  const words = Math.ceil(order.length / 32);
  const bits = new Uint32Array(order.length * words);
  for (const [i, name] of order.entries()) {
    for (const dep of depsOf(graph, name)) {
      const d = index.get(dep) as number;
      // A dependency's own ancestors all come before it in the order.
      for (let w = 0; w <= d >>> 5; w++) bits[i * words + w]! |= bits[d * words + w]!;
      bits[i * words + (d >>> 5)]! |= 1 << (d & 31);
    }
  }
  return (name, up) => {
    const i = index.get(name);
    const u = index.get(up);
    if (i === undefined || u === undefined) return false;
    return (bits[i * words + (u >>> 5)]! & (1 << (u & 31))) !== 0;
  };
}

/** All steps that depend on a step, directly or not: what a failure of that step blocks. */
export function downstreamSteps(graph: StepGraph, name: string): Set<string> {
  const dependents = (n: string) => Object.keys(graph.steps).filter((s) => depsOf(graph, s).includes(n));
  const down = closure(dependents(name), dependents);
  down.delete(name);
  return down;
}

function isPending(state: StepState | undefined): boolean {
  return state === undefined || state === 'pending';
}

/**
 * Steps that may start now: pending (a missing state counts as pending) with every dependency
 * completed, in topological order.
 */
export function readySteps(graph: StepGraph, states: Readonly<Record<string, StepState | undefined>>): string[] {
  return topologicalOrder(graph).filter(
    (name) => isPending(states[name]) && depsOf(graph, name).every((dep) => states[dep] === 'completed'),
  );
}

/**
 * Pending steps that can never run because a dependency failed or was skipped, directly or through a
 * chain: the orchestrator marks them `skipped` so the run can finish.
 */
export function blockedSteps(graph: StepGraph, states: Readonly<Record<string, StepState | undefined>>): string[] {
  const dead = Object.keys(graph.steps).filter((name) => states[name] === 'failed' || states[name] === 'skipped');
  const blocked = new Set<string>();
  for (const name of dead) for (const down of downstreamSteps(graph, name)) blocked.add(down);
  return topologicalOrder(graph).filter((name) => blocked.has(name) && isPending(states[name]));
}
