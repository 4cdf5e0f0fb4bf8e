#!/usr/bin/env node
// Runs the TypeScript CLI directly (Node >= 24 strips types); no build step.
import('../src/cli/main.ts').then((m) => m.main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
