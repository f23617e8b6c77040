// Lint: typescript-eslint's type-checked rules; floating promises are errors (every promise is
// awaited, returned, voided on purpose or handed to waitUntil).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules", ".wrangler", "dist", "worker-configuration.d.ts", "bench/node_modules", "migrations"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.json", "./tsconfig.node.json", "./src/console/tsconfig.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // Plain JavaScript outside the TypeScript projects (the Node version guard runs on any Node).
  { files: ["eslint.config.js", "scripts/check-node.mjs"], ...tseslint.configs.disableTypeChecked },
);
