/**
 * SlicedRender drives LiquidJS's render generators in slices: a quick template finishes inside the
 * caller's turn (runNow), a slow one yields to the event loop between slices (finish), and every
 * slice is charged to the step's budget, which fails the render once spent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { RenderBudget, SlicedRender } from '../../src/workflow/sliced-render.ts';
import { jsonRender, renderJson, renderText, templateScope, textRender } from '../../src/workflow/template.ts';

const scope = templateScope({
  inputs: { n: 3, topic: 'rates' },
  outputs: { a: { response: 'x', data: { list: [1, 2], evil: '"}, "admin": true' } } },
});
const SLOW = '{% for i in (1..inputs.n) %}{% assign x = i %}{% endfor %}{{ inputs.topic }}';

describe('SlicedRender', () => {
  it('finishes a quick template synchronously, with the same result as the synchronous render', () => {
    const tpl = '{% for i in a.data.list %}{{ i }},{% endfor %}{{ inputs.topic }} {{ a.data }}';
    const render = new SlicedRender(textRender(tpl, scope), new RenderBudget(1000), 'steps.s');
    assert.equal(render.runNow(), true);
    assert.equal(render.value, renderText(tpl, scope));
    const json = { body: '{{ a.data }}', list: ['{{ inputs.n }}!', '{{ a.data.evil }}'] };
    const jr = new SlicedRender(jsonRender(json, scope), new RenderBudget(1000), 'steps.s');
    assert.equal(jr.runNow(), true);
    assert.deepEqual(jr.value, renderJson(json, scope));
  });

  it('lets other work run between the slices of a slow render', async () => {
    const big = templateScope({ inputs: { n: 200_000, topic: 'done' }, outputs: {} });
    const render = new SlicedRender(textRender(SLOW, big), new RenderBudget(60_000), 'steps.s');
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    try {
      assert.equal(render.runFor(0), false, 'not finished without time');
      assert.equal(await render.finish(), 'done');
    } finally {
      clearInterval(counting);
    }
    assert.ok(turns > 0, 'timers ran while it rendered');
  });

  it('charges every slice to the budget and fails the render once it is spent', async () => {
    const big = templateScope({ inputs: { n: 10_000_000, topic: 'never' }, outputs: {} });
    const budget = new RenderBudget(50);
    const render = new SlicedRender(textRender(SLOW, big), budget, 'steps.s');
    await assert.rejects(render.finish(), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.kind, 'validation');
      assert.equal(err.field, 'steps.s');
      assert.match(err.message, /steps\.s: rendering took more than the step's budget of 50 ms/);
      return true;
    });
    assert.ok(budget.spentMs >= 50);
    // The budget is the step's: a second render of the same step starts with it spent.
    const next = new SlicedRender(textRender('{{ inputs.topic }}', big), budget, 'steps.s');
    assert.throws(() => next.runNow(), /budget of 50 ms/);
    // Positive control: a fresh budget renders it.
    const fresh = new SlicedRender(textRender('{{ inputs.topic }}', big), new RenderBudget(50), 'steps.s');
    assert.equal(fresh.runNow(), true);
  });

  it('stops between slices when its signal aborts', async () => {
    const big = templateScope({ inputs: { n: 10_000_000, topic: 'never' }, outputs: {} });
    const controller = new AbortController();
    const render = new SlicedRender(textRender(SLOW, big), new RenderBudget(60_000), 'steps.s');
    const finishing = render.finish(controller.signal);
    controller.abort(new AppError('cancelled', 'the run was cancelled'));
    await assert.rejects(finishing, { kind: 'cancelled' });
  });

  it('reports template errors as the synchronous render does', () => {
    const render = new SlicedRender(
      textRender('{{ nope }}', scope, { field: 'steps.s.prompt' }),
      new RenderBudget(1000),
      's',
    );
    assert.throws(() => render.runNow(), {
      kind: 'validation',
      field: 'steps.s.prompt',
      message: /undefined variable: nope/,
    });
  });
});
