/**
 * A bad definition is refused at registration with the file, line, step and field named; a bad
 * `allowed_tools` too. In SWITCHYARD_WORKFLOWS_DIR a bad file is skipped (logged), never fatal: the
 * good files next to it are registered with their path as source.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AppError } from '../../../src/errors.ts';
import { tempDir } from '../../fixtures/harness.ts';
import { startEngine, workflowText } from '../kit.ts';

const here = import.meta.dirname;

test('registerWorkflow names file, step and field of the mistake', async (t) => {
  const dir = tempDir('switchyard-workflows-');
  for (const file of ['workflow.yaml', 'good.yaml', 'bad-tools.yaml'])
    fs.copyFileSync(path.join(here, file), path.join(dir, file));
  const h = await startEngine({ env: { SWITCHYARD_WORKFLOWS_DIR: dir } });
  t.after(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const wf = h.server.workflows;
  await assert.rejects(wf.registerWorkflow(workflowText(here), { filename: 'workflow.yaml' }), (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.kind, 'validation');
    assert.equal(err.field, 'steps.summarise.depends_on[0]');
    assert.match(
      err.message,
      /^workflow\.yaml:9: step "summarise": depends_on\[0\] names unknown step "fetc" \(did you mean "fetch"\?\)/,
    );
    return true;
  });
  await assert.rejects(wf.registerWorkflow(workflowText(here, {}, 'bad-tools.yaml'), { filename: 'bad-tools.yaml' }), {
    kind: 'validation',
    field: 'steps.agent.allowed_tools[1]',
    message: /^bad-tools\.yaml:6: step "agent": allowed_tools\[1\] "Teleport" is not a known tool/,
  });
  assert.throws(() => wf.validateWorkflow('name: x\nsteps: [', 'broken.yaml'), {
    kind: 'validation',
    message: /^broken\.yaml:2:/,
  });

  // From the directory: only the good file made it, with its path as source.
  const listed = await wf.listWorkflows();
  assert.deepEqual(
    listed.map((w) => [w.name, w.source]),
    [['good-neighbour', path.join(dir, 'good.yaml')]],
  );
  await assert.rejects(wf.getWorkflow('bad-definition'), { kind: 'not_found' });
});
