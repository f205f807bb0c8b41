// The code blocks of the user-facing docs, as a user would take them: what each block is
// (a program, shell commands, a fragment, a unit file), read from the doc itself.
import { readFileSync } from 'node:fs';

export type SnippetKind = 'program' | 'shell' | 'fragment' | 'unit' | 'skip';

export interface Snippet {
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  kind: SnippetKind;
  /** A fragment's context (`<!-- snippet: fragment; declare const app: ... -->`). */
  context: string;
  /** Why a skipped block is not run here. */
  reason: string;
  /** The file a program is saved as: its first line `// server.mjs`, else one of its own. */
  file: string;
}

const PROGRAM_LANGS = ['js', 'mjs', 'cjs', 'ts'];
const SHELL_LANGS = ['sh', 'bash', 'shell'];

/**
 * Every fenced block of `doc` (a path under `root`). A block is what its language says (js:
 * a program, sh: shell commands, ini with [Service]: a unit file), unless the line before it
 * says otherwise: `<!-- snippet: fragment[; context] -->` or `<!-- snippet: skip: why -->`.
 */
export function snippetsOf(root: string, doc: string): Snippet[] {
  const lines = readFileSync(`${root}/${doc}`, 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] as string).startsWith('```'); i++) {
      body.push(lines[i] as string);
    }
    let before = start - 1;
    while (before >= 0 && (lines[before] as string).trim() === '') before--;
    const note = /^<!-- snippet: (.*) -->$/.exec((lines[before] ?? '').trim())?.[1];
    const lang = open[1] ?? '';
    const text = body.join('\n');
    const named = /^\/\/ ([\w.-]+\.[cm]?[jt]s)$/.exec(body[0] ?? '')?.[1];
    const ext = text.includes('require(') ? 'cjs' : lang === 'ts' ? 'ts' : 'mjs';
    const snippet: Snippet = {
      doc,
      line: start + 1,
      lang,
      text,
      kind: kindOf(lang, text, note),
      context: note?.startsWith('fragment;') ? note.slice('fragment;'.length).trim() : '',
      reason: note?.startsWith('skip:') ? note.slice('skip:'.length).trim() : '',
      file: named ?? `snippet-${start + 1}.${ext}`,
    };
    found.push(snippet);
  }
  return found;
}

function kindOf(lang: string, text: string, note: string | undefined): SnippetKind {
  if (note?.startsWith('skip:')) return 'skip';
  if (note === 'fragment' || note?.startsWith('fragment;')) return 'fragment';
  if (note !== undefined) throw new Error(`unknown snippet note "${note}"`);
  if (PROGRAM_LANGS.includes(lang)) return 'program';
  if (SHELL_LANGS.includes(lang)) return 'shell';
  if (lang === 'ini' && text.includes('[Service]')) return 'unit';
  throw new Error(
    `a \`\`\`${lang || '(no language)'} block: say what it is (sh, js, ini), or mark it <!-- snippet: fragment --> or <!-- snippet: skip: why -->`,
  );
}

/** Shell lines, with `\`-continued lines joined and comment-only lines left out. */
export function shellLines(text: string): string[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The port a doc's examples use, replaced by one this run may take. */
export const withPort = (text: string, port: number) => text.replace(/\b3000\b/g, String(port));
