// The config file: any flag by its long name (kebab-case, or camelCase) in one JSON object, read from
// `--config FILE` or, without it, from ./dps.config.json when there is one. Precedence: flags typed on the command
// line > the environment (DISCORD_TOKEN, DISCORD_API_URL, .env) > the config file > the defaults. Every problem
// with the file is a one-line UsageError (exit 2) naming it.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import type { Arguments, Argv, MiddlewareFunction } from 'yargs';
import { UsageError } from '../lib/index.js';

// The file read when no --config is given, from the working directory.
export const DEFAULT_CONFIG_FILE = 'dps.config.json';

// Flags that also come from the environment: their config value is used only when the environment has none
// (bin/cli.ts asks configValue), so a config file never beats DISCORD_TOKEN or DISCORD_API_URL.
const ENV_BACKED: ReadonlySet<string> = new Set(['token', 'api']);

// Options yargs knows that a config file cannot set.
const NOT_CONFIGURABLE: ReadonlySet<string> = new Set(['help', 'version', 'config', '$0', '_']);

// A read config file: its name as the user gave it, and its values by kebab-case flag name.
export interface ConfigFile {
  file: string;
  path: string; // absolute
  values: Map<string, unknown>;
}

let loaded: ConfigFile | undefined; // the run's config file, once the command's arguments are parsed

// The config file's value of an environment-backed flag (token, api), for when neither the command line nor
// the environment has one; warns once (unless quiet) when it is a token in a file other users can read.
export function configValue(key: 'token' | 'api', quiet: boolean): string | undefined {
  const value = loaded?.values.get(key);
  if (typeof value !== 'string' || loaded === undefined) return undefined;
  if (key === 'token' && !quiet && readableByOthers(loaded.path)) {
    process.stderr.write(`warning: ${loaded.file} holds a token and other users can read it (chmod 600 ${loaded.file})\n`);
  }
  return value;
}

function readableByOthers(path: string): boolean {
  try {
    return process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}

// Adds --config and applies the config file to whichever command runs. The commands' flags are noted now (yargs
// forgets the other commands once one runs), so a key that is a flag of another command (e.g. `out` while
// `dps manifest` runs) is left alone, and only a key that no command knows is an error.
export function withConfigFile(parser: Argv, cwd = process.cwd()): Argv {
  const everyFlag = flagsOfEveryCommand(parser);
  return parser
    .option('config', {
      type: 'string',
      describe: `read flags from this JSON file (default: ./${DEFAULT_CONFIG_FILE} when present); command-line flags and the environment win`,
    })
    .middleware(
      ((argv: Arguments, y: Parsed) => {
        loaded = readConfigFile(typeof argv.config === 'string' ? argv.config : undefined, cwd);
        if (loaded !== undefined) applyConfig(loaded, argv, y, everyFlag);
      }) as unknown as MiddlewareFunction,
      true,
    ); // yargs passes the running command's parser too (not in its types)
}

// Reads and checks the named file, or ./dps.config.json when none is named (undefined when it does not exist).
export function readConfigFile(named: string | undefined, cwd: string): ConfigFile | undefined {
  const file = named ?? DEFAULT_CONFIG_FILE;
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (named === undefined && code === 'ENOENT') return undefined;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : String(code ?? error);
    throw new UsageError(`cannot read the config file ${file}: ${why}`);
  }
  const parsed = parseJson(text, file);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new UsageError(`the config file ${file} must hold one JSON object of flags, like {"out": "archive"}; it holds ${what}`);
  }
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(parsed)) {
    const flag = kebab(key);
    if (values.has(flag)) throw new UsageError(`the config file ${file} sets "${flag}" twice (as "${key}" too)`);
    values.set(flag, value);
  }
  return { file, path, values };
}

// JSON.parse, or a usage error with the line and column of the first mistake. The parser's own message is not
// shown: it quotes the file's text, which may hold a token.
function parseJson(text: string, file: string): unknown {
  const body = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(body);
  } catch {
    const at = jsonErrorAt(body);
    if (at < 0) throw new UsageError(`the config file ${file} is not valid JSON`);
    const before = body.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    const what = at >= body.length ? 'it ends too early' : 'unexpected character';
    throw new UsageError(`the config file ${file} is not valid JSON: ${what} at line ${line}, column ${column}`);
  }
}

// The offset of the first character that is not valid JSON (text.length when it ends too early), or -1.
function jsonErrorAt(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] ?? '')) i++;
  };
  const string = (): void => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      i += c === 0x5c ? 2 : 1;
    }
    fail();
  };
  const list = (close: string, item: () => void): void => {
    i++; // the opening bracket
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (text[i] === ',') i++;
      else if (text[i] === close) {
        i++;
        return;
      } else fail();
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      list('}', () => {
        space();
        if (text[i] !== '"') fail();
        string();
        space();
        if (text[i] !== ':') fail();
        i++;
        value();
      });
    } else if (c === '[') list(']', value);
    else if (c === '"') string();
    else {
      const literal = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
      literal.lastIndex = i;
      const match = literal.exec(text);
      if (match === null) fail();
      i += match?.[0].length ?? 0;
    }
  };
  try {
    value();
    space();
    return i < text.length ? i : -1;
  } catch (at) {
    return at as number;
  }
}

// maxSize -> max-size; kebab-case keys stay as they are.
function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

// The parts of yargs' option table this file reads.
interface OptionTable {
  key: Record<string, unknown>;
  boolean: string[];
  number: string[];
  array: string[];
  choices: Record<string, unknown[]>;
  alias: Record<string, string[]>;
}

// What yargs' parser shows of itself beyond its types: its option table, and which values are defaults.
interface Parsed {
  getOptions(): OptionTable;
  parsed?: { defaulted?: Record<string, boolean> } | false;
}

// Sets each config value the command line did not set, checked against the running command's flag.
function applyConfig(config: ConfigFile, argv: Arguments, y: Parsed, everyFlag: () => ReadonlySet<string>): void {
  const options = y.getOptions();
  const defaulted = (y.parsed === false ? undefined : y.parsed?.defaulted) ?? {};
  for (const [key, value] of config.values) {
    const known = Object.hasOwn(options.key, key) && !NOT_CONFIGURABLE.has(key);
    if (!known) {
      if (!NOT_CONFIGURABLE.has(key) && everyFlag().has(key)) continue; // another command's flag
      throw new UsageError(
        `the config file ${config.file} has an unknown key "${key}"${suggestion(key, everyFlag())}; keys are long flag names (see dps --help)`,
      );
    }
    if (ENV_BACKED.has(key)) {
      if (typeof value !== 'string') throw new UsageError(`the config file ${config.file}: "${key}" must be a string`);
      continue; // below the environment: read by configValue
    }
    if (Object.hasOwn(argv, key) && defaulted[key] !== true) continue; // typed on the command line: it wins
    const checked = checkValue(config.file, key, value, options);
    for (const name of new Set([key, camel(key), ...(options.alias[key] ?? [])])) argv[name] = checked;
  }
}

// The value as the flag's type, or a usage error showing what the file holds.
function checkValue(file: string, key: string, value: unknown, options: OptionTable): unknown {
  const bad = (want: string): UsageError => new UsageError(`the config file ${file}: "${key}" must be ${want}, got ${shown(value)}`);
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v;
    // A Discord id written as a JSON number has more digits than a double keeps: it would name another server.
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new UsageError(
        `the config file ${file}: "${key}" holds a number too long for JSON to keep exactly (it reads as ${BigInt(v)}); write it as a string, in quotes`,
      );
    }
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (options.array.includes(key)) throw bad('a string or a list of strings');
    throw bad(Array.isArray(value) ? 'one string (this command takes one value)' : 'a string');
  };
  let checked: unknown;
  if (options.boolean.includes(key)) {
    if (typeof value !== 'boolean') throw bad('true or false');
    checked = value;
  } else if (options.number.includes(key)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a number');
    checked = value;
  } else if (options.array.includes(key)) {
    checked = Array.isArray(value) ? value.map(scalar) : [scalar(value)];
  } else if (Array.isArray(value) && value.length === 1) {
    checked = scalar(value[0]); // a list for another command's repeatable flag (`channel-id`) that holds one
  } else checked = scalar(value);
  const choices = options.choices[key];
  if (choices !== undefined && ![checked].flat().every((v) => choices.includes(v))) throw bad(`one of ${choices.map((c) => shown(c)).join(', ')}`);
  return checked;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// " (did you mean "out"?)" for a key one or two edits away from a flag.
function suggestion(key: string, flags: ReadonlySet<string>): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const flag of flags) {
    if (NOT_CONFIGURABLE.has(flag) || flag.length === 1) continue;
    const distance = editDistance(key, flag);
    if (distance < bestDistance) [best, bestDistance] = [flag, distance];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// The long flags of every command of `parser` and its own (global) flags, worked out when first asked: each
// command's builder is applied to a fresh parser. Reads yargs' command table (an internal API, held by the
// config tests in test/cli/config.test.ts); without it, only the running command's flags are known.
function flagsOfEveryCommand(parser: Argv): () => ReadonlySet<string> {
  type Handler = { builder?: unknown };
  const internal = parser as unknown as { getInternalMethods?: () => { getCommandInstance?: () => { getCommandHandlers?: () => Record<string, Handler> } } };
  const handlers = Object.values(internal.getInternalMethods?.().getCommandInstance?.().getCommandHandlers?.() ?? {});
  let flags: Set<string> | undefined;
  return () => {
    if (flags !== undefined) return flags;
    flags = new Set(Object.keys((parser as unknown as Parsed).getOptions().key));
    for (const { builder } of handlers) {
      if (typeof builder === 'function') {
        const fresh = yargs([]);
        const built = (builder as (y: Argv) => Argv | undefined)(fresh) ?? fresh;
        for (const key of Object.keys((built as unknown as Parsed).getOptions().key)) flags.add(key);
      } else if (builder !== null && typeof builder === 'object') for (const key of Object.keys(builder)) flags.add(key);
    }
    return flags;
  };
}
