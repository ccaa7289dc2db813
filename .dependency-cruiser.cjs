// The import graph's rules, checked by `npm run lint` (depcruise). Layers, top to bottom; a module imports only
// from its own layer or below:
//   bin -> lib/index -> lib/archive (+ options, run-*, rewalk, retry-targets, follow, follow-poll) -> lib/stages
//       -> lib/discord, lib/fs, lib/store, lib/output, lib/s3 -> lib/util, lib/errors.ts, lib/types.ts
// fixtures/ (the fake Discord, shipped for `dps demo`) and bench/ may import lib; lib imports none of them, nor test/;
// bin imports lib/index.ts and, for the demo, fixtures.
// Type-only imports count: a type from a higher layer is an upward import too.

const UTIL = '^lib/(util/|errors\\.ts$|types\\.ts$)';
const SUBSYSTEMS = '^lib/(discord|fs|store|output|s3)/'; // s3/: object storage (issue 26)
const STAGES = '^lib/stages/';
const RUN = '^lib/(archive/|(archive|options|rewalk|retry-targets|follow|follow-poll)\\.ts$|run-[^/]+\\.ts$|run/|gallery/)'; // gallery/: dps gallery, similar (issue 25)
const INDEX = '^lib/index\\.ts$';

// A rule that `from` may not import `to` (regular expressions over paths from the repository root).
const upward = (name, from, to, comment) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    upward('util-is-the-bottom', UTIL, `${SUBSYSTEMS}|${STAGES}|${RUN}|${INDEX}`, 'lib/util, errors.ts and types.ts import nothing above them'),
    upward('subsystems-below-stages', SUBSYSTEMS, `${STAGES}|${RUN}|${INDEX}`, 'discord, fs, store and output never import stages, the run or index'),
    upward('stages-below-run', STAGES, `${RUN}|${INDEX}`, 'stages never import the run (archive, options, rewalk, ...) or index'),
    upward('run-below-index', RUN, INDEX, 'the run never imports lib/index.ts'),
    upward('lib-below-bin', '^lib/', '^bin/', 'lib never imports bin'),
    upward('lib-stands-alone', '^lib/', '^(fixtures|bench|test)/', 'lib never imports fixtures, bench or tests'),
    upward('bin-is-shipped', '^bin/', '^(bench|test)/', 'bin imports lib and (for the demo) fixtures, never bench or tests'),
    upward('fixtures-are-shipped', '^fixtures/', '^(bin|bench|test)/', 'fixtures (shipped for the demo) import only lib and fixtures'),
    upward('bench-is-not-tests', '^bench/', '^(bin|test)/', 'bench imports lib and fixtures, never tests or bin'),
    {
      name: 'bin-through-index',
      comment: 'bin uses the library through its public entry point, lib/index.ts',
      severity: 'error',
      from: { path: '^bin/' },
      to: { path: '^lib/', pathNot: INDEX },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'no cycle between folders either (e.g. lib/store -> lib/output -> lib/store): the layers form a tree',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lib-in-a-layer',
      comment: 'every lib module belongs to a layer above (a new folder or file in lib/ is given its place here)',
      severity: 'error',
      from: {},
      to: { path: '^lib/', pathNot: [UTIL, SUBSYSTEMS, STAGES, RUN, INDEX] },
    },
    {
      name: 'no-orphans',
      comment: 'a module nothing imports and that imports nothing is dead code (entry points and tests excepted)',
      severity: 'error',
      from: { orphan: true, pathNot: ['^test/', '^bin/dps\\.js$', '\\.d\\.ts$', '(^|/)\\.[^/]+\\.(js|cjs|mjs|ts|json)$'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (a typo, or a package that is not installed); bin/dps.js loads the build output',
      severity: 'error',
      from: { pathNot: '^bin/dps\\.js$' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment: 'every package imported is declared in package.json',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'shipped-not-to-dev-dep',
      comment: 'what `npm pack` ships (bin, lib, fixtures) imports only dependencies, never devDependencies',
      severity: 'error',
      from: { path: '^(bin|lib|fixtures)/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-deprecated-core',
      comment: 'no deprecated Node core module',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['core'], path: '^(punycode|domain|constants|sys|_linklist|_stream_wrap)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.tap)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    // Re-checks only what changed since the last run (a file's content hash decides).
    cache: { folder: 'node_modules/.cache/dependency-cruiser', strategy: 'content' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
