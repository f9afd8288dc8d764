/**
 * Just enough Markdown for checking the repository's docs: fenced blocks, links, code spans and heading
 * anchors as GitHub renders them. Not a general parser: the docs are written to be read by it too.
 */

export interface Fence {
  lang: string;
  /** 1-based line of the first line inside the fence. */
  line: number;
  lines: string[];
}

export interface Link {
  target: string;
  line: number;
}

export interface MarkdownDoc {
  fences: Fence[];
  links: Link[];
  /** Inline code spans of the prose, with their lines. */
  codeSpans: { text: string; line: number }[];
  /** GitHub's anchors of the headings (`## 4. REST contract` → `4-rest-contract`). */
  anchors: Set<string>;
}

const FENCE = /^\s*(```|~~~)\s*([\w-]*)/;
/** A code span may run over a line break, as in a wrapped paragraph. */
const CODE_SPAN = /(`+)((?:[^`]|(?!\1)`+)+?)\1(?!`)/g;
const INLINE_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE_DEFINITION = /^[ ]{0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:\s|$)/gm;
const AUTOLINK = /<((?:https?|mailto):[^>\s]+)>/g;
const HEADING = /^#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$/gm;

/** GitHub's heading id: lower case, punctuation dropped, spaces to hyphens; repeats get `-1`, `-2`, … */
export function githubSlug(heading: string, seen: Map<string, number>): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text only
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
  const n = seen.get(text) ?? 0;
  seen.set(text, n + 1);
  return n === 0 ? text : `${text}-${n}`;
}

/** Replaces a match by spaces, keeping its line breaks, so later offsets still give the right line. */
const blank = (text: string): string => text.replace(/[^\n]/g, ' ');

/** Fences, links, code spans and heading anchors of one Markdown file. */
export function parseMarkdown(source: string): MarkdownDoc {
  const doc: MarkdownDoc = { fences: [], links: [], codeSpans: [], anchors: new Set() };
  // Fences first; their lines are blanked out of the prose.
  const prose: string[] = [];
  let fence: (Fence & { marker: string }) | undefined;
  source.split('\n').forEach((text, index) => {
    const opening = FENCE.exec(text);
    if (fence) {
      if (opening?.[1] === fence.marker && opening[2] === '') {
        doc.fences.push({ lang: fence.lang, line: fence.line, lines: fence.lines });
        fence = undefined;
      } else {
        fence.lines.push(text);
      }
      prose.push('');
    } else if (opening) {
      fence = { marker: opening[1], lang: opening[2].toLowerCase(), line: index + 2, lines: [] };
      prose.push('');
    } else {
      prose.push(text);
    }
  });
  if (fence) {
    throw new Error(`a code fence opened on line ${fence.line - 1} is never closed`);
  }
  const text = prose.join('\n');
  const lineAt = (offset: number): number => text.slice(0, offset).split('\n').length;
  const slugs = new Map<string, number>();
  for (const heading of text.matchAll(HEADING)) {
    doc.anchors.add(githubSlug(heading[1].replace(/`/g, ''), slugs));
  }
  for (const span of text.matchAll(CODE_SPAN)) {
    doc.codeSpans.push({ text: span[2].replace(/\s+/g, ' ').trim(), line: lineAt(span.index) });
  }
  const withoutCode = text.replace(CODE_SPAN, blank);
  for (const pattern of [INLINE_LINK, AUTOLINK, REFERENCE_DEFINITION]) {
    for (const link of withoutCode.matchAll(pattern)) {
      doc.links.push({ target: link[1], line: lineAt(link.index) });
    }
  }
  return doc;
}

/** A shell command of a fence: continuation lines (`\` at the end) joined, with its first line. */
export interface ShellCommand {
  command: string;
  line: number;
}

/** The commands of `bash`/`sh`/`shell` fences, continuation lines joined. */
export function shellCommands(doc: MarkdownDoc): ShellCommand[] {
  const commands: ShellCommand[] = [];
  for (const fence of doc.fences.filter((f) => ['bash', 'sh', 'shell'].includes(f.lang))) {
    let pending: ShellCommand | undefined;
    fence.lines.forEach((text, i) => {
      const part = text.replace(/\\$/, '');
      pending = pending
        ? { ...pending, command: `${pending.command} ${part.trim()}` }
        : { command: part.trim(), line: fence.line + i };
      if (!text.endsWith('\\')) {
        if (pending.command !== '') {
          commands.push(pending);
        }
        pending = undefined;
      }
    });
  }
  return commands;
}
