// Test files run in parallel worker processes, one per core (at least two: mocha's default of
// cores - 1 would be a single worker on a 2-core machine). ts-node only transpiles here:
// `npm test` type-checks everything first (`npm run typecheck`).
const os = require("node:os");

module.exports = {
    require: ["ts-node/register/transpile-only", "tests/hooks.ts"],
    spec: ["tests/**/*.test.ts"],
    extension: ["ts"],
    timeout: 60000,
    "fail-zero": true,
    parallel: true,
    jobs: Math.max(2, os.availableParallelism()),
};
