// Lint: typescript-eslint's type-aware recommended and strict sets over the sources and tests.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // @kubernetes/client-node's models (V1ObjectMeta, V1Condition…) are plain data classes without
      // behaviour; the library's own API takes and returns object literals in their place.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // Numbers and booleans print unambiguously in messages; objects, undefined and null still need
      // an explicit conversion.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Spreading those same model classes into a literal is how a changed copy of one is written.
      '@typescript-eslint/no-misused-spread': [
        'error',
        {
          allow: [
            {
              from: 'package',
              package: '@kubernetes/client-node',
              name: ['V1ClusterRole', 'V1Lease', 'V1LeaseSpec', 'V1ObjectMeta', 'V1PolicyRule'],
            },
          ],
        },
      ],
      // `const { dropped, ...rest } = obj` is how a copy without some fields is made.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // A test asserts presence by crashing on a missing value, which fails it with a clear stack.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  { files: ['*.js', 'hack/*.mjs'], extends: [tseslint.configs.disableTypeChecked], languageOptions: { globals: { process: 'readonly' } } },
);
