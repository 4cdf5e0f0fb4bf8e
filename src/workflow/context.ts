/**
 * How a claude or llm step receives its dependencies' results (the article's `build_prompt`): their
 * `response` strings go in a `Context:` block before the task, unless the author placed them in the
 * prompt explicitly with templates, in which case the prompt is used exactly as rendered.
 */
import { templateReferences } from './template.ts';

/** What buildPrompt needs of a step: its prompt templates and its direct dependencies. */
export interface PromptStep {
  prompt: string;
  system?: string | undefined;
  depends_on?: readonly string[] | undefined;
}

const NOT_STEPS = new Set(['inputs', 'item', 'item_index']);

/**
 * True when the step's prompt or system prompt reads any step output (`step_1.…` or `steps.…`).
 * Validation guarantees every other root a template names is an upstream step.
 */
export function referencesSteps(step: PromptStep): boolean {
  const templates = step.system === undefined ? [step.prompt] : [step.prompt, step.system];
  return templates.some((tpl) =>
    templateReferences(tpl).some((ref) => !NOT_STEPS.has(ref) && !ref.startsWith('inputs.')),
  );
}

/**
 * The prompt sent to the worker. `deps` are the direct dependencies' outputs; they are listed in
 * `depends_on` order, each as `<name>: <response>`. With no dependencies the rendered prompt is returned
 * unchanged.
 *
 * @example
 * buildPrompt({ prompt: 'Summarize', depends_on: ['step_1'] }, 'Summarize', { step_1: { response: 'GDP up' } })
 * // 'Context:\nstep_1: GDP up\n\nTask: Summarize'
 */
export function buildPrompt(
  step: PromptStep,
  renderedPrompt: string,
  deps: Readonly<Record<string, { response: string }>>,
): string {
  const declared = step.depends_on ?? [];
  const names = [
    ...declared.filter((n) => Object.hasOwn(deps, n)),
    ...Object.keys(deps).filter((n) => !declared.includes(n)),
  ];
  if (names.length === 0) return renderedPrompt;
  if (referencesSteps(step)) return renderedPrompt;
  const lines = names.map((name) => `${name}: ${deps[name]?.response ?? ''}`);
  return `Context:\n${lines.join('\n')}\n\nTask: ${renderedPrompt}`;
}
