// Lint: typescript-eslint's type-checked rules; floating promises are errors (every promise is
// awaited, returned, voided on purpose or handed to waitUntil). In src/, D1 is reached only through
// shard routing (src/db/shards.ts): no binding is read and no Drizzle client is made anywhere else.
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules",
      ".wrangler",
      "dist",
      "worker-configuration.d.ts",
      "bench/node_modules",
      "bench/.work",
      // Portkey's Workers build, vendored for the benchmark.
      "bench/peers/portkey-workerd/index.js",
      "migrations",
      // Others' test suites, vendored unmodified.
      "test/outside/openresponses",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: [
          "./tsconfig.json",
          "./tsconfig.node.json",
          "./test/outside/tsconfig.json",
          "./src/console/tsconfig.json",
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts", "src/**/*.tsx"],
    ignores: ["src/db/shards.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[property.name=/^DB(_\\w+)?$/]",
          message: "Reach D1 through src/db/shards.ts (tenantStore, tenantDb, controlDb, onEveryShard).",
        },
      ],
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "drizzle-orm/d1",
              allowTypeImports: true,
              message: "Drizzle clients come from src/db/shards.ts, which knows each tenant's database.",
            },
          ],
        },
      ],
    },
  },
  // Plain JavaScript outside the TypeScript projects (the Node version guard runs on any Node).
  {
    files: ["eslint.config.js", "scripts/check-node.mjs", "scripts/node-support.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
);
