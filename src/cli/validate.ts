import fs from 'node:fs';
import { AppError } from '../errors.ts';
import { parseWorkflow } from '../workflow/definition.ts';
import { parseArgs } from './main.ts';

/** `switchyard validate FILE…`: checks definitions locally, no server; exit 1 if any is invalid. */
export async function validateCommand(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new Error('usage: switchyard validate FILE [FILE …]');
  let failed = 0;
  for (const file of positionals) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      console.error(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      failed++;
      continue;
    }
    try {
      const def = parseWorkflow(text, { filename: file });
      const n = Object.keys(def.steps).length;
      console.log(`ok: ${def.name} (${n} step${n === 1 ? '' : 's'})`);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      console.error(err.message);
      if (err.field) console.error(`  field: ${err.field}`);
      failed++;
    }
  }
  return failed > 0 ? 1 : 0;
}
