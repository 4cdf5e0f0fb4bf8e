/**
 * Claude Code writes its own transcript (and other state) into the task's config dir, outside every
 * record Switchyard redacts: a secret a tool read or the model repeated would sit there in clear. Once
 * the process is gone, every file in the dir is rewritten with secrets redacted (a follow-up then
 * resumes from the redacted transcript, as the API shows it).
 *
 * The agent can write into this dir (it is its HOME), so nothing here follows a link: only regular
 * files are read, and each is replaced by a new file (write, then rename), never written in place,
 * so a hard link to a file elsewhere is cut rather than rewritten.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Files larger than this are not Claude Code's state; they are left alone. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export async function scrubDir(dir: string, redact: (text: string) => string): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch {
    return; // gone, or never made
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await scrubDir(file, redact);
    else if (entry.isFile()) await scrubFile(file, redact);
  }
}

async function scrubFile(file: string, redact: (text: string) => string): Promise<void> {
  const stat = await fs.promises.lstat(file);
  if (!stat.isFile() || stat.size > MAX_FILE_BYTES) return;
  const text = await fs.promises.readFile(file, 'utf8');
  const clean = redact(text);
  if (clean === text) return;
  const temp = `${file}.scrub-${process.pid}`;
  await fs.promises.writeFile(temp, clean, { mode: stat.mode & 0o777, flag: 'wx' });
  await fs.promises.rename(temp, file);
}
