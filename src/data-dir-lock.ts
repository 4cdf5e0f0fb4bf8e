/**
 * One server per data dir. A second one would take the first's tasks for a crashed predecessor's
 * orphans and kill them, and replace the model proxy's socket its sandboxes reach the model through.
 * The lock is a pid file: taken over when its process is gone (a crash), refused while it lives.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from './errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data dir for this process; returns the release. Throws a validation error naming the holder. */
export function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'switchyard.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        // Only our own pid file: a data dir removed meanwhile, or taken over, is left as it is.
        let holder: string | undefined;
        try {
          holder = fs.readFileSync(file, 'utf8').trim();
        } catch {
          return;
        }
        if (holder === String(process.pid)) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(fs.readFileSync(file, 'utf8').trim());
    // Several servers in one process (tests) each hold their own data dir; the same pid is not a rival.
    if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
      throw new AppError(
        'validation',
        `SWITCHYARD_DATA_DIR ${dataDir} is in use by another Switchyard (pid ${holder}); stop it or use another data dir`,
        { field: 'SWITCHYARD_DATA_DIR' },
      );
    }
    fs.rmSync(file, { force: true }); // a crashed server's, or garbage
  }
  throw new AppError('validation', `SWITCHYARD_DATA_DIR ${dataDir} could not be locked`, {
    field: 'SWITCHYARD_DATA_DIR',
  });
}
