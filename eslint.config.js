// npm run lint. typescript-eslint's type-checked recommended rules over the TypeScript, the plain
// recommended ones over the build scripts (JavaScript, outside the TypeScript project).
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", ".bench/", "node_modules/", "test/fixtures/"] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // An async function without await is how an implementation of a Promise-returning interface
      // (Host.run, a facts handler, a test's stand-in peer) says so; wrapping results in
      // Promise.resolve instead would say less.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // vitest's asymmetric matchers (expect.any, expect.stringMatching) are typed any by vitest itself.
      "@typescript-eslint/no-unsafe-assignment": "off",
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { console: "readonly", process: "readonly", URL: "readonly" } },
  },
);
