import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { validateWorkflow } from '../../src/workflow/definition.ts';
import { backoffDelay, DEFAULT_BACKOFF, retryPolicy, shouldRetry } from '../../src/workflow/retry.ts';

const policy = retryPolicy('http', { max_attempts: 5, backoff: { initial: 1000, factor: 2, max: 5000 } });

describe('retryPolicy', () => {
  it('defaults per worker: no retry for claude, transform and approval; 3 attempts for http and llm', () => {
    assert.equal(retryPolicy('claude').max_attempts, 1);
    assert.equal(retryPolicy('transform').max_attempts, 1);
    assert.equal(retryPolicy('approval').max_attempts, 1);
    assert.equal(retryPolicy('http').max_attempts, 3);
    assert.equal(retryPolicy('llm').max_attempts, 3);
    assert.deepEqual(retryPolicy('llm').backoff, DEFAULT_BACKOFF);
  });

  it('takes a parsed step retry block as is', () => {
    const def = validateWorkflow({
      name: 'r',
      steps: { s: { worker: 'http', url: 'https://x.test', retry: { max_attempts: 2, backoff: { max: 500 } } } },
    });
    const step = def.steps.s!;
    const p = retryPolicy(step.worker, 'retry' in step ? step.retry : undefined);
    assert.deepEqual(p, { max_attempts: 2, backoff: { initial: 1000, factor: 2, max: 500 } });
  });

  it('lays the step settings over the defaults field by field', () => {
    assert.deepEqual(retryPolicy('claude', { max_attempts: 4, backoff: { factor: 3 } }), {
      max_attempts: 4,
      backoff: { initial: 1000, factor: 3, max: 60_000 },
    });
  });
});

describe('backoffDelay', () => {
  it('is a full-jitter draw below the exponential cap', () => {
    // random = 0.5 gives half the cap: caps are 1000, 2000, 4000, then the 5000 maximum.
    const half = () => 0.5;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 10].map((attempt) => backoffDelay(policy, attempt, half)),
      [500, 1000, 2000, 2500, 2500, 2500],
    );
  });

  it('stays within [0, cap) at the extremes of the random source', () => {
    assert.equal(
      backoffDelay(policy, 1, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(policy, 1, () => 0.999_999),
      999,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 1),
      3999,
    );
    assert.equal(
      backoffDelay(policy, 30, () => 1),
      4999,
    );
    assert.equal(
      backoffDelay(policy, 2, () => Number.NaN),
      0,
    );
    assert.equal(
      backoffDelay(policy, 2, () => -3),
      0,
    );
  });

  it('never exceeds the maximum for large attempts and factors', () => {
    const steep = retryPolicy('http', { backoff: { initial: 10, factor: 10, max: 60_000 } });
    for (let attempt = 1; attempt <= 20; attempt++) {
      const delay = backoffDelay(steep, attempt, () => 0.999_999_9);
      assert.ok(delay >= 0 && delay < 60_000, `attempt ${attempt}: ${delay}`);
      assert.ok(Number.isInteger(delay));
    }
  });

  it('uses Math.random by default and stays in bounds', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(policy, 2);
      assert.ok(d >= 0 && d < 2000);
    }
  });

  it('is zero when the cap is zero', () => {
    assert.equal(
      backoffDelay(retryPolicy('http', { backoff: { initial: 0 } }), 3, () => 0.9),
      0,
    );
  });
});

describe('shouldRetry', () => {
  it('retries a retryable error while attempts remain', () => {
    const timeout = new AppError('timeout', 'took too long');
    assert.equal(shouldRetry(policy, 1, timeout), true);
    assert.equal(shouldRetry(policy, 4, timeout), true);
    assert.equal(shouldRetry(policy, 5, timeout), false);
    assert.equal(shouldRetry(policy, 6, timeout), false);
  });

  it('never retries an error whose kind is not retryable', () => {
    assert.equal(shouldRetry(policy, 1, new AppError('validation', 'bad')), false);
    assert.equal(shouldRetry(policy, 1, new AppError('quota', 'out of credits')), false);
    assert.equal(shouldRetry(policy, 1, { retryable: false }), false);
    assert.equal(shouldRetry(policy, 1, new AppError('network', 'reset').toInfo()), true);
  });

  it('does not retry when the policy allows a single attempt', () => {
    assert.equal(shouldRetry(retryPolicy('claude'), 1, new AppError('overloaded', 'busy')), false);
  });
});
