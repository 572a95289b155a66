// Lint rules (run by `npm test` through `npm run lint`): ESLint's and typescript-eslint's
// recommended sets, without type information (fast: the type checker already runs in `npm test`).
// Formatting is prettier's job (.prettierrc.json), not ESLint's.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config({ ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**'] }, js.configs.recommended, ...tseslint.configs.recommended, {
  languageOptions: {
    globals: {
      process: 'readonly',
      Buffer: 'readonly',
      console: 'readonly',
      setTimeout: 'readonly',
      clearTimeout: 'readonly',
      setInterval: 'readonly',
      clearInterval: 'readonly',
      setImmediate: 'readonly',
      performance: 'readonly',
      URL: 'readonly',
      AbortController: 'readonly',
      AbortSignal: 'readonly',
      structuredClone: 'readonly',
      queueMicrotask: 'readonly',
      TextEncoder: 'readonly',
      TextDecoder: 'readonly',
      fetch: 'readonly'
    }
  },
  rules: {
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }]
  }
})
