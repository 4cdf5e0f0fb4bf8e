import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import {
  ancestry,
  blockedSteps,
  downstreamSteps,
  findCycle,
  readySteps,
  type StepGraph,
  topologicalOrder,
  upstreamSteps,
} from '../../src/workflow/dag.ts';

function graph(deps: Record<string, string[]>): StepGraph {
  return { steps: Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, { depends_on: d }])) };
}

// The example: two fetches, an analysis of both, extraction, a transform; step_6 fans out from step_1.
const brief = graph({
  step_1: [],
  step_2: [],
  step_3: ['step_1', 'step_2'],
  step_4: ['step_3'],
  step_5: ['step_4'],
  step_6: ['step_1'],
});

describe('topologicalOrder', () => {
  it('puts every step after its dependencies and keeps definition order among free steps', () => {
    assert.deepEqual(topologicalOrder(brief), ['step_1', 'step_2', 'step_3', 'step_6', 'step_4', 'step_5']);
    const reversed = graph({ c: ['b'], b: ['a'], a: [] });
    assert.deepEqual(topologicalOrder(reversed), ['a', 'b', 'c']);
  });

  it('throws a validation error naming the cycle', () => {
    assert.throws(
      () => topologicalOrder(graph({ a: ['b'], b: ['a'], c: [] })),
      (err: unknown) => err instanceof AppError && err.kind === 'validation' && /a -> b -> a/.test(err.message),
    );
  });
});

describe('findCycle', () => {
  it('returns null for an acyclic graph', () => {
    assert.equal(findCycle(brief), null);
  });

  it('returns the cycle path, each step depending on the next', () => {
    assert.deepEqual(findCycle(graph({ a: ['b'], b: ['a'] })), ['a', 'b', 'a']);
    assert.deepEqual(findCycle(graph({ x: [], a: ['x', 'b'], b: ['c'], c: ['a'] })), ['a', 'b', 'c', 'a']);
    assert.deepEqual(findCycle(graph({ a: ['a'] })), ['a', 'a']);
  });

  it('finds a cycle that is only reachable from an acyclic prefix', () => {
    assert.deepEqual(findCycle(graph({ root: ['m'], m: ['n'], n: ['m'] })), ['m', 'n', 'm']);
  });

  it('ignores dependencies on unknown steps (validation reports those)', () => {
    assert.equal(findCycle(graph({ a: ['ghost'] })), null);
  });
});

describe('upstreamSteps / downstreamSteps', () => {
  it('are transitive and exclude the step itself', () => {
    assert.deepEqual([...upstreamSteps(brief, 'step_5')].sort(), ['step_1', 'step_2', 'step_3', 'step_4']);
    assert.deepEqual([...upstreamSteps(brief, 'step_1')], []);
    assert.deepEqual([...downstreamSteps(brief, 'step_1')].sort(), ['step_3', 'step_4', 'step_5', 'step_6']);
    assert.deepEqual([...downstreamSteps(brief, 'step_5')], []);
  });
});

describe('ancestry', () => {
  it('answers whether one step is upstream of another, transitively', () => {
    const isUpstream = ancestry(brief);
    const expected = upstreamSteps(brief, 'step_5');
    for (const up of Object.keys(brief.steps)) assert.equal(isUpstream('step_5', up), expected.has(up), up);
    assert.equal(isUpstream('step_1', 'step_1'), false);
    assert.equal(isUpstream('step_6', 'ghost'), false);
  });

  it('agrees with upstreamSteps on a graph wider than one 32-bit word', () => {
    const deps: Record<string, string[]> = {};
    for (let i = 0; i < 100; i++) deps[`n${i}`] = i < 3 ? [] : [`n${(i * 7 + 3) % i}`, `n${i - 3}`];
    const g = graph(deps);
    const isUpstream = ancestry(g);
    for (const name of Object.keys(deps)) {
      const up = upstreamSteps(g, name);
      for (const other of Object.keys(deps)) assert.equal(isUpstream(name, other), up.has(other), `${other} → ${name}`);
    }
  });
});

describe('readySteps', () => {
  it('starts with the roots', () => {
    assert.deepEqual(readySteps(brief, {}), ['step_1', 'step_2']);
  });

  it('releases a step only when every dependency completed', () => {
    assert.deepEqual(readySteps(brief, { step_1: 'completed', step_2: 'running' }), ['step_6']);
    assert.deepEqual(readySteps(brief, { step_1: 'completed', step_2: 'completed', step_6: 'queued' }), ['step_3']);
  });

  it('never offers a step that is queued, running, waiting, done or skipped', () => {
    const states = {
      step_1: 'completed',
      step_2: 'completed',
      step_3: 'awaiting_approval',
      step_6: 'running',
    } as const;
    assert.deepEqual(readySteps(brief, states), []);
    assert.deepEqual(readySteps(graph({ a: [] }), { a: 'failed' }), []);
    assert.deepEqual(readySteps(graph({ a: [] }), { a: 'skipped' }), []);
  });

  it('does not release dependents of a failed step', () => {
    assert.deepEqual(readySteps(brief, { step_1: 'failed', step_2: 'completed' }), []);
  });
});

describe('blockedSteps', () => {
  it('lists pending steps that a failure or skip makes unreachable, transitively', () => {
    assert.deepEqual(blockedSteps(brief, { step_1: 'completed', step_2: 'failed' }), ['step_3', 'step_4', 'step_5']);
    assert.deepEqual(blockedSteps(brief, { step_1: 'completed', step_2: 'completed', step_3: 'skipped' }), [
      'step_4',
      'step_5',
    ]);
    assert.deepEqual(blockedSteps(brief, { step_1: 'completed', step_2: 'completed' }), []);
  });

  it('leaves steps that already started alone', () => {
    assert.deepEqual(blockedSteps(brief, { step_2: 'failed', step_1: 'completed', step_3: 'running' }), [
      'step_4',
      'step_5',
    ]);
  });
});
