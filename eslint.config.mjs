// ESLint with typescript-eslint's type-aware rules. Formatting is Prettier's job (npm run format),
// so no stylistic rule is enabled here. Every rule turned off or loosened says why.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// A leading underscore marks a binding that is unused on purpose (`for await (const _frame of source)`
// drains a source; `_f` stands in a destructuring that must name a position).
const unusedVars = ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }];

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'build-asan/', 'coverage/', 'prebuilds/', 'docs/api/', 'node_modules/'] },

  // Plain JavaScript: bench, examples, scripts, test fixtures and config files.
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: { 'no-unused-vars': unusedVars },
  },

  // TypeScript, checked with type information from tsconfig.json.
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['tsup.config.ts'] },
        // Not import.meta.dirname: Node 18, which the package supports, lacks it.
        tsconfigRootDir: dirname(fileURLToPath(import.meta.url)),
      },
    },
    rules: {
      // The rules this project asked for by name (issue 17). The first two are in the preset already;
      // they are listed so that nobody turns them off by accident.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A switch over a union must name every member. A `default:` counts as handling the rest,
      // because the switches over process.platform (lib/binding.ts, lib/sources.ts) mean "Linux and
      // everything else" there; a switch with neither every case nor a default is still an error.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `import { x, type T }` as the code already writes it; a type-only import never loads a module.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': unusedVars,
      // `let session!: Session` in FrameSource#openSession is read by a closure before it is
      // assigned, so it cannot be const; flag only variables that could be.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // FrameSource declares its typed events by merging an interface into the class (the pattern
    // Node's own typings use for EventEmitter subclasses); the interface only narrows on/once/off/emit,
    // which the class inherits, so nothing declared there is left unimplemented.
    files: ['lib/frame-source.ts'],
    rules: { '@typescript-eslint/no-unsafe-declaration-merging': 'off' },
  },
  {
    // Tests read what child processes print as JSON (JSON.parse gives `any`) and check it with
    // expect(); typing every report shape would add casts, not safety. Outside test/ these stay on.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
