// The command line checked against the flags each command declares, before yargs reads it: an unknown command or
// flag gets a did-you-mean, a flag that takes a value and has none (`--state` at the end) is refused instead of
// falling back to its default, and a choice or a number is checked on the text the user typed (yargs turns
// `--n abc` into NaN). Every problem is one line naming the --kebab-flag and the value as typed.

import type { Argv } from 'yargs';

// What a command declares about one flag (the subset of yargs' option definition read here).
export interface FlagSpec {
  type?: string;
  alias?: string | readonly string[];
  array?: boolean;
  choices?: readonly unknown[];
  hidden?: boolean;
}

// Every command's flags (by long name), plus the global ones under ''.
export type FlagRegistry = Map<string, Map<string, FlagSpec>>;

// Records the flags a parser declares: `build` runs on a stand-in for yargs that notes every .option()/.options()
// and every .command() builder (any other call is accepted and ignored), so flags added to the builders are
// known here without being listed twice.
export function recordFlags(build: (y: Argv) => unknown): FlagRegistry {
  const registry: FlagRegistry = new Map();
  const aliases: Array<[Map<string, FlagSpec>, string, string]> = [];
  const declare = (flags: Map<string, FlagSpec>, name: string, spec: FlagSpec): void => {
    flags.set(name, { ...flags.get(name), ...spec });
    for (const alias of typeof spec.alias === 'string' ? [spec.alias] : (spec.alias ?? [])) aliases.push([flags, name, alias]);
  };
  const recorder = (flags: Map<string, FlagSpec>): Argv => {
    const proxy: Argv = new Proxy({} as Argv, {
      get(_target, prop) {
        if (prop === 'option') {
          return (name: string, spec: FlagSpec = {}) => {
            declare(flags, name, spec);
            return proxy;
          };
        }
        if (prop === 'options') {
          return (all: Record<string, FlagSpec>) => {
            for (const [name, spec] of Object.entries(all)) declare(flags, name, spec);
            return proxy;
          };
        }
        if (prop === 'alias') {
          return (name: string, alias: string | readonly string[]) => {
            for (const a of typeof alias === 'string' ? [alias] : alias) aliases.push([flags, name, a]);
            return proxy;
          };
        }
        if (prop === 'config') {
          // yargs' config file flag (`--config FILE` by default)
          return (key?: unknown) => {
            declare(flags, typeof key === 'string' ? key : 'config', { type: 'string' });
            return proxy;
          };
        }
        if (prop === 'command') {
          return (names: string | readonly string[], _describe: unknown, builder?: unknown) => {
            const own = new Map<string, FlagSpec>();
            if (typeof builder === 'function') (builder as (y: Argv) => unknown)(recorder(own));
            for (const name of typeof names === 'string' ? [names] : names) registry.set(name.split(' ')[0]!, own);
            return proxy;
          };
        }
        if (prop === 'then') return undefined; // not a promise
        return () => proxy;
      },
    });
    return proxy;
  };
  const global = new Map<string, FlagSpec>([
    ['help', { type: 'boolean' }],
    ['version', { type: 'boolean' }],
  ]);
  build(recorder(global));
  registry.set('', global);
  // An alias takes its flag's spec.
  for (const [flags, name, alias] of aliases) {
    const { alias: _alias, ...spec } = flags.get(name) ?? flags.get(alias) ?? {};
    if (!flags.has(name)) flags.set(name, spec);
    flags.set(alias, spec);
  }
  return registry;
}

// Flags whose value is optional although declared as strings (the bare flag means the default mode).
const OPTIONAL_VALUE = new Set(['write-metadata']);

// A flag, as yargs reads tokens: a dash and more, except a negative number (`-1`, a value); a lone `-` is a value.
const FLAG = /^-(?!\d+(\.\d+)?$)./;

// The first problem with `argv` for the command it names, as a one-line message, or undefined.
export function checkArgv(argv: readonly string[], registry: FlagRegistry): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a === '--version')) return undefined; // help wins, as in yargs
  const commands = [...registry.keys()].filter((name) => name !== '' && name !== '$0');
  let command = '$0';
  let start = 0;
  if (argv[0] !== undefined && !FLAG.test(argv[0]) && argv[0] !== '--') {
    if (!registry.has(argv[0])) {
      const near = nearest(argv[0], commands);
      return `unknown command ${quoteIfOdd(argv[0])}${near ? `; did you mean ${near}?` : ''}`;
    }
    command = argv[0];
    start = 1;
  }
  let flags = new Map([...(registry.get('') ?? []), ...(registry.get(command) ?? [])]);
  let afterBoolean = false;
  for (let i = start; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') break;
    if (!FLAG.test(token)) {
      // Values are read with their flag; `--threads false` is yargs' too; no command takes a positional.
      if (afterBoolean && (token === 'true' || token === 'false')) continue;
      if (command === '$0' && commands.includes(token)) {
        // yargs also finds a command after flags (`dps --quiet manifest`): its flags apply from here on.
        command = token;
        flags = new Map([...flags, ...(registry.get(token) ?? [])]);
        continue;
      }
      return `unexpected argument ${JSON.stringify(token)}`;
    }
    afterBoolean = false;
    const short = !token.startsWith('--');
    if (short && (token.length !== 2 || !flags.has(token[1]!))) {
      if (token === '-h') continue;
      return `unknown flag ${quoteIfOdd(token)}`;
    }
    const eq = short ? -1 : token.indexOf('=');
    const written = short ? token.slice(1) : eq === -1 ? token.slice(2) : token.slice(2, eq);
    const name = short ? written : kebab(written);
    const spec = flags.get(name) ?? (name.startsWith('no-') && flags.get(name.slice(3))?.type === 'boolean' ? { type: 'boolean' } : undefined);
    if (spec === undefined) {
      const visible = [...flags].filter(([n, s]) => !s.hidden && n.length > 1).map(([n]) => n);
      const near = nearest(name, visible);
      return `unknown flag --${quoteIfOdd(written)}${near ? `; did you mean --${near}?` : ''}`;
    }
    if (spec.type === 'boolean') {
      afterBoolean = eq === -1;
      continue;
    }
    const values: string[] = [];
    if (eq !== -1) values.push(token.slice(eq + 1));
    else {
      while (i + 1 < argv.length && argv[i + 1] !== '--' && !FLAG.test(argv[i + 1]!)) {
        values.push(argv[++i]!);
        if (!spec.array) break;
      }
    }
    // An untyped flag (or one listed in OPTIONAL_VALUE) may stand alone: `--write-metadata` or `--write-metadata=channel`.
    if (values.length === 0 && (spec.type === undefined || OPTIONAL_VALUE.has(name)) && spec.choices === undefined) continue;
    const shown = short ? token : `--${name}`;
    if (values.length === 0) return `${shown} needs a value`;
    for (const value of values) {
      const problem = checkValue(shown, spec, value);
      if (problem) return problem;
    }
  }
  return undefined;
}

function checkValue(flag: string, spec: FlagSpec, value: string): string | undefined {
  if (value.trim() === '') return `${flag} needs a value, got ""`;
  if (spec.choices && !spec.choices.map(String).includes(value)) return `${flag} must be ${oneOf(spec.choices.map(String))}, got ${JSON.stringify(value)}`;
  if (spec.type === 'number' && !/^\s*-?\d+(\.\d+)?\s*$/.test(value)) return `${flag} must be a number, got ${JSON.stringify(value)}`;
  return undefined;
}

// yargs' own messages (a backstop: checkArgv refuses these first) as one line naming --kebab flags.
export function usageMessage(message: string): string {
  const line = message.replace(/\s*\n\s*/g, ' ').trim();
  const names = (list: string): string =>
    list
      .split(/,\s*/)
      .filter((n) => n !== '' && !/[A-Z]/.test(n)) // camelCase twins of kebab names
      .map((n) => `--${n}`)
      .join(', ');
  let m = /^Unknown arguments?: (.*)$/.exec(line);
  if (m) return `unknown flag or argument ${names(m[1]!)}`;
  m = /^Missing required arguments?: (.*)$/.exec(line);
  if (m) return `missing ${names(m[1]!)}`;
  m = /^Not enough arguments following: (.*)$/.exec(line);
  if (m) return `${names(m[1]!)} needs a value`;
  m = /^Invalid values: Argument: ([^,]+), Given: (.*), Choices: (.*)$/.exec(line);
  if (m) return `--${m[1]} must be ${oneOf(m[3]!.split(/,\s*/).map((c) => c.replace(/^"|"$/g, '')))}, got ${m[2]}`;
  m = /^Did you mean (.*)\?$/.exec(line);
  if (m) return `unknown command; did you mean ${m[1]}?`;
  return line;
}

function oneOf(choices: readonly string[]): string {
  return choices.length <= 1 ? (choices[0] ?? '') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}

// `chanelId` -> `chanel-id` (yargs accepts both spellings).
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

// A name shown as typed, in quotes when it holds anything but letters, digits, - and _ (an empty or odd token).
function quoteIfOdd(text: string): string {
  return /^-*[\w-]+$/.test(text) ? text : JSON.stringify(text);
}

// The candidate closest to `typed` within a small edit distance (or one that starts with it), if any.
export function nearest(typed: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(typed.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(typed.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  if (typed.length >= 3) return candidates.find((c) => c.startsWith(typed.toLowerCase()));
  return undefined;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
