import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'lib/index.ts' },
    format: ['cjs', 'esm'],
    // Declarations marked @internal (Frame.create, Frame#id, ...) stay out of the public types.
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    // Not cleaned by tsup: the configs build in parallel and one's clean could delete another's
    // output. build:js empties dist/ first.
    clean: false,
    target: 'node18',
    // esbuild renames a class that refers to itself (_Frame, _FrameSourceError); keep the names
    // users see in stack traces, util.inspect() and constructor.name.
    keepNames: true,
    // __dirname in the ESM build: lib/binding.ts finds the package root from it.
    shims: true,
    outExtension: ({ format }) => ({ js: format === 'esm' ? '.mjs' : '.cjs' }),
  },
  {
    // The `frame-source` command (package.json "bin"): CommonJS only, as npm runs it with node.
    // The hashbang comes from lib/cli/main.ts's first line (esbuild keeps it).
    entry: { cli: 'lib/cli/main.ts' },
    format: ['cjs'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node18',
    keepNames: true,
    outExtension: () => ({ js: '.cjs' }),
  },
  {
    // frame-source/web: the browser module, no Node shims; its own tsconfig gives it the DOM types
    // and no Node types. CommonJS too, for bundlers and preloads that still require().
    entry: { web: 'web/index.ts' },
    format: ['esm', 'cjs'],
    platform: 'browser',
    target: 'es2022',
    keepNames: true,
    tsconfig: 'web/tsconfig.json',
    dts: true,
    sourcemap: true,
    clean: false,
    outExtension: ({ format }) => ({ js: format === 'esm' ? '.mjs' : '.cjs' }),
  },
]);
