/**
 * A follow-up resumes Claude Code's own session, whose transcript Claude Code keeps as a file in the
 * task's config dir on the worker that ran the previous turn. On a cluster the follow-up may run on
 * another worker, so after every turn the transcript is saved in the Store, and before a resumed turn
 * it is written back into this worker's config dir, at the path Claude Code reads it from. One code
 * path on both backends: with one process (SQLite) the restore finds the same file already there.
 *
 * The file is agent-written content. Nothing read from it, or from the Store, decides where it goes:
 * the path comes from the task's cwd and a session id of the expected shape, exactly as Claude Code
 * derives it, and nothing on the way follows a link the agent may have planted in its config dir (its
 * HOME). What is saved is the file after the runner scrubbed secrets from it
 * (src/runners/claude/transcripts.ts): the model already saw the clear text; it resumes from the
 * redacted transcript, as the API shows it, and no secret reaches the database through it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import type { Store } from '../store/store.ts';

/** The default cap on a saved transcript (SWITCHYARD_MAX_TRANSCRIPT_BYTES). */
export const DEFAULT_MAX_TRANSCRIPT_BYTES = 20 * 1024 * 1024;

/** Claude Code's session ids are UUIDs; anything else is refused before it becomes part of a path. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Claude Code shortens a project dir name past this length and appends a hash of the cwd. */
const MAX_PROJECT_DIR = 200;

export interface TranscriptPlace {
  taskId: string;
  /** The task's CLAUDE_CONFIG_DIR. */
  configDir: string;
  /** The task's working directory, as Claude Code was started in it. */
  cwd: string;
  sessionId: string;
}

/**
 * Claude Code's name for a cwd's folder under `<config>/projects/`: every character but [a-zA-Z0-9]
 * becomes `-`; a longer name than 200 is cut and gets the cwd's 32-bit string hash in base 36
 * (read from Claude Code 2.x; the API test fails if a release changes it).
 */
export function projectDirName(cwd: string): string {
  const name = cwd.replace(/[^a-zA-Z0-9]/g, '-');
  if (name.length <= MAX_PROJECT_DIR) return name;
  let hash = 0;
  for (let i = 0; i < cwd.length; i++) hash = (hash * 31 + cwd.charCodeAt(i)) | 0;
  return `${name.slice(0, MAX_PROJECT_DIR)}-${Math.abs(hash).toString(36)}`;
}

/** The config dir (resolved: the warm pool may have made it a link to a spare's), and the file's folder and name. */
function locate(place: TranscriptPlace): { root: string; folders: string[]; file: string } {
  if (!SESSION_ID.test(place.sessionId)) {
    throw new AppError('internal', `Claude Code session id ${JSON.stringify(place.sessionId)} is not a UUID`);
  }
  return {
    root: fs.realpathSync(place.configDir),
    folders: ['projects', projectDirName(place.cwd)],
    file: `${place.sessionId}.jsonl`,
  };
}

/** The file's folder, each step a real directory (never a link), made 0700 where missing. */
function folderOf(root: string, folders: string[], create: boolean): string | undefined {
  let dir = root;
  for (const name of folders) {
    dir = path.join(dir, name);
    const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!stat && create) fs.mkdirSync(dir, { mode: 0o700 });
    else if (!stat?.isDirectory()) return undefined;
  }
  return dir;
}

/**
 * Saves the transcript of the turn that just ended (its process is gone), fenced by the turn's
 * attempt. A file larger than `maxBytes` is recorded as not kept, so a follow-up elsewhere fails
 * saying why rather than resuming an older turn. Returns what happened.
 */
export async function saveTranscript(
  store: Store,
  place: TranscriptPlace,
  attempt: number,
  maxBytes: number,
): Promise<'saved' | 'too_large' | 'missing' | 'stale'> {
  if (!fs.existsSync(place.configDir)) return 'missing';
  const { root, folders, file } = locate(place);
  const dir = folderOf(root, folders, false);
  if (!dir) return 'missing';
  let fd: number;
  try {
    // O_NOFOLLOW: a link the agent put in the file's place is not read through.
    fd = fs.openSync(path.join(dir, file), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return 'missing';
  }
  let content: Uint8Array | null = null;
  let size: number;
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return 'missing';
    size = stat.size;
    if (size <= maxBytes) content = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (content) size = content.byteLength;
  if (content && size > maxBytes) content = null; // grew while being read
  const saved = await store.saveTranscript(
    { task_id: place.taskId, session_id: place.sessionId, content, size, updated_at: new Date().toISOString() },
    attempt,
  );
  if (!saved) return 'stale';
  return content ? 'saved' : 'too_large';
}

/**
 * Before a resumed turn: puts the saved transcript where Claude Code reads it, mode 0600. The saved
 * copy is the latest turn's, so it replaces a local file that differs (this worker ran an earlier
 * turn); without one the local file is used. Throws when there is nothing to resume from.
 */
export async function restoreTranscript(
  store: Store,
  place: TranscriptPlace,
  maxBytes: number,
): Promise<'present' | 'restored'> {
  fs.mkdirSync(place.configDir, { recursive: true, mode: 0o700 });
  const { root, folders, file } = locate(place);
  const saved = await store.getTranscript(place.taskId);
  const usable = saved?.session_id === place.sessionId ? saved : undefined;
  const dir = folderOf(root, folders, true);
  if (!dir)
    throw new AppError('internal', `the config dir of task ${place.taskId} holds a link where a folder belongs`);
  const target = path.join(dir, file);
  const local = fs.lstatSync(target, { throwIfNoEntry: false });
  if (!usable?.content) {
    // Too large to keep: only the worker that ran the last turn has it (a local file of another size
    // is an earlier turn's, which would resume without the last one).
    if (local?.isFile() && (!usable || local.size === usable.size)) return 'present';
    const why = usable
      ? `it was ${usable.size} bytes, more than SWITCHYARD_MAX_TRANSCRIPT_BYTES (${maxBytes}), so it was not kept`
      : 'no copy of it was saved';
    throw new AppError(
      'internal',
      `cannot resume Claude Code session ${place.sessionId}: this worker does not have its transcript, and ${why}`,
    );
  }
  if (local?.isFile() && local.size === usable.content.byteLength) {
    const fd = fs.openSync(target, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      if (Buffer.from(usable.content).equals(fs.readFileSync(fd))) return 'present';
    } finally {
      fs.closeSync(fd);
    }
  }
  // A new file renamed into place: whatever the agent left at the path (a link, a hard link) is
  // replaced, never written through.
  const temp = path.join(dir, `.${file}.restore-${randomBytes(6).toString('hex')}`);
  fs.writeFileSync(temp, usable.content, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temp, target);
  return 'restored';
}
