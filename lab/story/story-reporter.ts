// How the story tells what happens, without printing itself: a chapter with the reason for it,
// plain lines, the CLI command a person would type for the same step, and checks with their
// verdict. `ConsoleReporter` writes it for people (colour only on a terminal); tests collect it.
import type { Check } from './story-checks.js';

export interface StoryReporter {
  /** A new part of the story, and why it happens. */
  chapter(title: string, why?: string): void;
  line(text: string): void;
  /** The equivalent CLI command. */
  command(text: string): void;
  check(check: Check): void;
}

const COLOURS = { bold: '\x1b[1m', dim: '\x1b[2m', green: '\x1b[32m', red: '\x1b[31m', cyan: '\x1b[36m', reset: '\x1b[0m' };

export class ConsoleReporter implements StoryReporter {
  readonly checks: Check[] = [];
  private readonly colour: boolean;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout, colour?: boolean) {
    this.colour = colour ?? (out as { isTTY?: boolean }).isTTY === true;
  }

  private paint(colour: keyof typeof COLOURS, text: string): string {
    return this.colour ? `${COLOURS[colour]}${text}${COLOURS.reset}` : text;
  }

  private write(text: string): void {
    this.out.write(`${text}\n`);
  }

  chapter(title: string, why?: string): void {
    this.write('');
    this.write(this.paint('bold', `▸ ${title}`));
    if (why !== undefined) this.write(this.paint('dim', `  ${why}`));
  }

  line(text: string): void {
    this.write(`  ${text}`);
  }

  command(text: string): void {
    this.write(this.paint('cyan', `  $ ${text}`));
  }

  check(check: Check): void {
    this.checks.push(check);
    this.write(check.ok ? `  ${this.paint('green', '✓')} ${check.text}` : `  ${this.paint('red', '✗')} ${this.paint('red', check.text)}`);
  }
}

/** Keeps everything it is told (tests). */
export class RecordingReporter implements StoryReporter {
  readonly checks: Check[] = [];
  readonly lines: string[] = [];

  chapter(title: string, why?: string): void {
    this.lines.push(`# ${title}${why === undefined ? '' : ` — ${why}`}`);
  }

  line(text: string): void {
    this.lines.push(text);
  }

  command(text: string): void {
    this.lines.push(`$ ${text}`);
  }

  check(check: Check): void {
    this.checks.push(check);
    this.lines.push(`${check.ok ? 'ok' : 'FAILED'} ${check.text}`);
  }
}
