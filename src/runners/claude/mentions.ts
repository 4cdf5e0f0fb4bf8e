/**
 * Claude Code reads the file behind an `@path` mention in a prompt itself, before any tool call and so
 * past the gate (DESIGN.md "What a gate cannot see"). `CLAUDE_CODE_DISABLE_FILE_MENTIONS=1` in its
 * environment is the first layer; this is the second: every `@` that could begin a mention gets an
 * invisible U+200B ZERO WIDTH SPACE in front of it, so the model still reads `@user` as written.
 *
 * How Claude Code 2.1.332 finds mentions (read from its bundle, confirmed in test/api/boundary.test.ts):
 * an `@` at the start of the text or after a character that `String.prototype.trim` removes (any
 * Unicode space or line break) or after 。、？！ begins `@path`, `@"quoted path"`, `@agent-…` and
 * `@server:resource`; `@[label](claude-ref:…)` needs no such boundary. A zero-width space is none of
 * those, so it breaks the first kinds; `@[` also gets one after the `@`. We defuse more than the parser
 * matches (every `@` not inside a word) so a parser that grows new boundaries stays covered; an
 * `@` inside a word, as in an e-mail address, is never a mention and is left alone.
 */

const MARK = '\u200b';

// An `@` after one of these sits inside a word (e-mail local part, `HEAD@{1}`): never a mention.
const WORD_CHAR = /[\p{L}\p{N}_.%+-]/u;

/**
 * Returns the text with every `@` that could begin a Claude Code mention defused.
 *
 * @example
 * defuseMentions('Summarise @docs/x.md for ops@example.com'); // 'Summarise \u200b@docs/x.md for ops@example.com'
 */
export function defuseMentions(text: string): string {
  if (!text.includes('@')) return text;
  let out = '';
  let previous = '';
  for (const ch of text) {
    if (ch === '@' && !(previous !== '' && WORD_CHAR.test(previous)) && previous !== MARK) out += MARK;
    out += ch;
    previous = ch;
  }
  // The link form matches wherever it stands, so it is broken inside: `@[` → `@\u200b[`.
  return out.replaceAll('@[', `@${MARK}[`);
}
