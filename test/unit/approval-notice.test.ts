/** The approval notice: bounded, redacted before it is cut, with the paths and deadline of its step. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApprovalStep, WorkflowDefinition } from '../../src/domain/workflow-definition.ts';
import type { RunRecord } from '../../src/store/workflow-store.ts';
import { approvalNotice, NOTICE_MESSAGE_CHARS } from '../../src/workflow/approval-notice.ts';
import { loadRun, newStep } from '../../src/workflow/run-state.ts';

const step: ApprovalStep = { worker: 'approval', depends_on: [], message: 'm', timeout: 60_000 };
const def = { name: 'wf', steps: { review: step } } as unknown as WorkflowDefinition;

function waiting(message: string) {
  const run = loadRun({ id: 'run-1', workflow: 'wf', definition: def } as RunRecord, []);
  const unit = newStep('run-1', 'review');
  unit.inputs = { message };
  unit.started_at = '2026-11-29T20:00:00.000Z';
  return { run, unit };
}

test('a secret straddling the size limit is redacted before the message is cut', () => {
  const secret = 'sk-ant-straddling-secret';
  const message = `${'x'.repeat(NOTICE_MESSAGE_CHARS - 5)}${secret} and more`;
  const { run, unit } = waiting(message);
  const notice = approvalNotice(run, unit, step, (text) => text.replaceAll(secret, '[redacted]'));
  assert.equal(notice.message.length, NOTICE_MESSAGE_CHARS);
  assert.equal(notice.message_truncated, true);
  assert.ok(!notice.message.includes('sk-ant'), 'no part of the secret survives the cut');
  assert.equal(notice.deadline, '2026-11-29T20:01:00.000Z');
  assert.equal(notice.approve_path, '/v1/runs/run-1/steps/review/approve');
  assert.equal(notice.reject_path, '/v1/runs/run-1/steps/review/reject');
});

test('a short message is whole; no timeout means no deadline', () => {
  const { run, unit } = waiting('Publish?');
  const notice = approvalNotice(run, unit, { ...step, timeout: undefined }, (t) => t);
  assert.equal(notice.message, 'Publish?');
  assert.equal(notice.message_truncated, undefined);
  assert.equal(notice.deadline, null);
});
