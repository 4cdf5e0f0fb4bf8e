/**
 * The line a workflow validation message points at. The server starts it with `FILE:LINE: `,
 * `FILE:LINE:COL: `, `line N: ` or `line N, column C: ` (src/workflow/definition.ts,
 * definition-yaml.ts); the filename is the one we sent, so it is cut off as a prefix rather than parsed
 * (it may hold colons itself). test/unit/dashboard-validation-line.test.ts checks this against the server's own
 * messages.
 */
export function validationLine(message: string, filename: string | undefined): number | undefined {
  const rest = filename && message.startsWith(`${filename}:`) ? message.slice(filename.length + 1) : undefined;
  const m = rest !== undefined ? /^(\d+)(?::\d+)?: /.exec(rest) : /^line (\d+)(?:, column \d+)?: /.exec(message);
  return m ? Number(m[1]) : undefined;
}
