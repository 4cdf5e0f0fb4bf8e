/**
 * The offline demo's model: it looks around with the tools the task allows, then reports what it
 * did. Enough to watch the whole loop (tool calls, the boundary, results) without an API key.
 */
import type { Script } from './scripted-model.ts';

export const demoScript: Script = (req) => {
  const offered = new Set((req.body.tools ?? []).map((t) => t.name));
  if (req.turnIndex === 0 && offered.has('Glob')) {
    return { text: 'Let me look at the workspace.', tool_use: { name: 'Glob', input: { pattern: '*' } } };
  }
  if (req.turnIndex === 0) {
    return { text: `Demo model: I have no tools to look around with. You asked: ${req.prompt.slice(0, 200)}` };
  }
  const seen = req.lastUserText
    .split('\n')
    .filter((line) => line && !line.startsWith('.git/'))
    .slice(0, 10);
  return {
    text: `Demo model: the workspace holds ${seen.length} entries (${seen.join(', ') || 'none'}). You asked: ${req.prompt.slice(0, 200)}`,
  };
};
