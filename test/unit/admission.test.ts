import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { Semaphore } from '../../src/runners/claude/admission.ts';

describe('Semaphore', () => {
  test('serves waiters first come, first served; tryAcquire never jumps the queue', async () => {
    const s = new Semaphore(1);
    assert.equal(s.tryAcquire(), true);
    const order: string[] = [];
    const a = s.acquire().then(() => order.push('a'));
    const b = s.acquire().then(() => order.push('b'));
    assert.equal(s.waiting, 2);
    assert.equal(s.tryAcquire(), false, 'a caller that never waited took a unit from the waiters');
    s.release();
    await a;
    assert.deepEqual(order, ['a']);
    assert.equal(s.inUse, 1);
    s.release();
    await b;
    s.release();
    assert.equal(s.inUse, 0);
    assert.equal(s.tryAcquire(), true, 'the control: a free unit is taken at once');
  });

  test('tells listeners when a unit is free and nobody waits', async () => {
    const s = new Semaphore(1);
    let freed = 0;
    s.onFree(() => freed++);
    s.tryAcquire();
    const waiter = s.acquire();
    s.release(); // handed to the waiter: nothing is free
    await waiter;
    assert.equal(freed, 0);
    s.release();
    assert.equal(freed, 1);
  });

  test('an aborted waiter leaves the queue with the abort reason and takes nothing', async () => {
    const s = new Semaphore(1);
    s.tryAcquire();
    const controller = new AbortController();
    const waiting = s.acquire(controller.signal);
    controller.abort(new AppError('timeout', 'the step timed out'));
    await assert.rejects(waiting, (err: AppError) => err.kind === 'timeout');
    assert.equal(s.waiting, 0);
    s.release();
    assert.equal(s.inUse, 0);
  });
});
